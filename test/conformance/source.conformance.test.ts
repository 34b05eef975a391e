import { mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { UploadRecord } from "../../src/core/journal.js";
import type { Source, SourceItemRef, SourceListing } from "../../src/core/source.js";
import { isSyncError, SyncError } from "../../src/errors/sync-error.js";
import { FsSource } from "../../src/sources/local-filesystem/fs-source.js";
import { BlobStore } from "../../src/sources/upload/blob-store.js";
import { UploadSource } from "../../src/sources/upload/upload-source.js";
import { MemoryJournal } from "../fakes/memory-journal.js";
import { MemorySource } from "../fakes/memory-source.js";
import { rejection } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/**
 * The {@link Source} contract, run against every implementation: the production local-folder source
 * (FsSource on a temp dir) and the fake the engine tests use (MemorySource). A check that passes for one and
 * fails for the other is a fake that lies.
 */

/** Drives one implementation; `name` is a relative, `/`-separated item name such as `a/b.txt`. */
interface SourceDriver {
  source: Source;
  /** The listing key the source gives the item `name`. */
  keyOf(name: string): string;
  put(name: string, content: string | Uint8Array): void;
  remove(name: string): void;
  /** Same content, but the fingerprint must move (fs: rewritten with a new mtime). */
  touch(name: string): void;
  /** Makes every later listing fail as a whole (fs: the root disappears). */
  failListing(): void;
  /**
   * Makes the source unable to tell whether the item `name` (which must not exist) is gone (fs: a folder on
   * its path becomes a symlink loop, so `lstat` fails with ELOOP).
   */
  breakConfirm(name: string): void;
  cleanup(): void;
  /** False when `touch` cannot move the fingerprint (uploads: it is the content hash). Default true. */
  fingerprintMovesOnTouch?: boolean;
}

const DRIVERS: Array<[string, () => SourceDriver]> = [
  [
    "memory",
    () => {
      const source = new MemorySource("docs");
      return {
        source,
        keyOf: (name) => name,
        put: (name, content) => void source.set(name, content),
        remove: (name) => void source.delete(name),
        touch: (name) => void source.touch(name),
        failListing: () =>
          void source.failListing(new SyncError("SYNC_E_SOURCE_UNAVAILABLE", "mem: connection reset")),
        breakConfirm: (name) => void source.failConfirm(name),
        cleanup: () => {},
      };
    },
  ],
  [
    "fs",
    () => {
      const tmp = makeTempDir("source-conformance-");
      const root = join(tmp.path, "root");
      mkdirSync(root);
      let tick = 0;
      return {
        source: new FsSource({ name: "docs", paths: [root], maxFileBytes: 1 << 20, readChunkBytes: 7 }),
        keyOf: (name) => `${root}/${name}`,
        put: (name, content) => {
          mkdirSync(dirname(join(root, name)), { recursive: true });
          writeFileSync(join(root, name), content);
        },
        remove: (name) => rmSync(join(root, name)),
        touch: (name) => {
          const path = join(root, name);
          const at = new Date(Date.UTC(2020, 0, 1) + ++tick * 1000);
          writeFileSync(path, readFileSync(path));
          utimesSync(path, at, at);
        },
        failListing: () => rmSync(root, { recursive: true }),
        breakConfirm: (name) => {
          const [first] = name.split("/");
          if (first === undefined || first === name) throw new Error(`${name}: needs a folder to break`);
          rmSync(join(root, first), { recursive: true, force: true });
          symlinkSync(join(root, `${first}.loop`), join(root, first));
          symlinkSync(join(root, first), join(root, `${first}.loop`));
        },
        cleanup: tmp.cleanup,
      };
    },
  ],
  ["upload", () => uploadDriver()],
];

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const byKey = (listing: SourceListing): Map<string, SourceItemRef> =>
  new Map(listing.items.map((item) => [item.key, item]));

for (const [impl, makeDriver] of DRIVERS) {
  describe(`Source conformance: ${impl}`, () => {
    let d: SourceDriver;
    beforeEach(() => {
      d = makeDriver();
    });
    afterEach(() => d.cleanup());

    it("returns a listing with items, warnings, incompletePrefixes and emptyRoots", async () => {
      d.put("a.txt", "alpha");
      const listing = await d.source.list();
      expect(Array.isArray(listing.items)).toBe(true);
      expect(Array.isArray(listing.warnings)).toBe(true);
      expect(Array.isArray(listing.incompletePrefixes)).toBe(true);
      expect(Array.isArray(listing.emptyRoots)).toBe(true);
      expect(listing.warnings).toEqual([]);
      expect(listing.incompletePrefixes).toEqual([]);
    });

    it("lists every item once, under unique keys", async () => {
      for (const name of ["a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.txt"])
        d.put(name, `content of ${name}`);
      const keys = (await d.source.list()).items.map((i) => i.key);
      expect(new Set(keys).size).toBe(keys.length);
      expect([...keys].sort()).toEqual(
        ["a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.txt"].map(d.keyOf).sort(),
      );
    });

    it("keeps fingerprints stable while nothing changes", async () => {
      d.put("a.txt", "alpha");
      d.put("sub/b.txt", "beta");
      const first = byKey(await d.source.list());
      await d.source.fetch(first.get(d.keyOf("a.txt")) as SourceItemRef);
      const second = byKey(await d.source.list());
      expect([...second.entries()].map(([k, i]) => [k, i.fingerprint])).toEqual(
        [...first.entries()].map(([k, i]) => [k, i.fingerprint]),
      );
    });

    it("moves the fingerprint when content changes, and on touch with the same content", async () => {
      d.put("a.txt", "alpha");
      const key = d.keyOf("a.txt");
      const v1 = byKey(await d.source.list()).get(key)?.fingerprint;
      d.put("a.txt", "alpha, edited");
      const v2 = byKey(await d.source.list()).get(key)?.fingerprint;
      d.touch("a.txt");
      const v3Ref = byKey(await d.source.list()).get(key) as SourceItemRef;
      if (d.fingerprintMovesOnTouch === false) {
        // The touch premise cannot hold (the fingerprint is the content hash): same bytes, same fingerprint.
        expect(new Set([v1, v2]).size).toBe(2);
        expect(v3Ref.fingerprint).toBe(v2);
      } else expect(new Set([v1, v2, v3Ref.fingerprint]).size).toBe(3);
      expect(text((await d.source.fetch(v3Ref)).bytes)).toBe("alpha, edited");
    });

    it("fetches exactly the stored bytes", async () => {
      const binary = Uint8Array.from({ length: 600 }, (_, i) => (i * 37) % 256);
      d.put("bin.txt", binary);
      d.put("empty.txt", "");
      d.put("utf8.txt", "héllo wörld ✓");
      const items = byKey(await d.source.list());
      const bin = await d.source.fetch(items.get(d.keyOf("bin.txt")) as SourceItemRef);
      expect(Buffer.from(bin.bytes).equals(Buffer.from(binary))).toBe(true);
      expect(bin.fileName).toBe("bin.txt");
      expect((await d.source.fetch(items.get(d.keyOf("empty.txt")) as SourceItemRef)).bytes.length).toBe(0);
      expect(text((await d.source.fetch(items.get(d.keyOf("utf8.txt")) as SourceItemRef)).bytes)).toBe(
        "héllo wörld ✓",
      );
    });

    it("throws SYNC_E_ITEM_GONE when fetching an item removed after the listing, and lists it no more", async () => {
      d.put("a.txt", "alpha");
      d.put("b.txt", "beta");
      const ref = byKey(await d.source.list()).get(d.keyOf("a.txt")) as SourceItemRef;
      d.remove("a.txt");
      const err = await errorOf(() => d.source.fetch(ref));
      expect(isSyncError(err, "SYNC_E_ITEM_GONE")).toBe(true);
      expect((await d.source.list()).items.map((i) => i.key)).toEqual([d.keyOf("b.txt")]);
    });

    describe("confirmGone", () => {
      const confirm = (keys: readonly string[], signal?: AbortSignal): Promise<Set<string>> => {
        const { source } = d;
        if (source.confirmGone === undefined) throw new Error(`${impl}: no confirmGone`);
        return source.confirmGone(keys, signal);
      };

      it("confirms removed and never-existing items, and no item that is still there", async () => {
        d.put("a.txt", "alpha");
        d.put("b.txt", "beta");
        d.put("sub/c.txt", "gamma");
        await d.source.list();
        d.remove("a.txt");
        d.remove("sub/c.txt");
        const asked = ["a.txt", "b.txt", "sub/c.txt", "never.txt", "nowhere/x.txt"].map(d.keyOf);
        const gone = await confirm(asked);
        expect([...gone].sort()).toEqual(
          ["a.txt", "sub/c.txt", "never.txt", "nowhere/x.txt"].map(d.keyOf).sort(),
        );
        expect(await confirm([])).toEqual(new Set());
      });

      it("confirms an item changed back into existence no more", async () => {
        d.put("a.txt", "alpha");
        d.remove("a.txt");
        expect(await confirm([d.keyOf("a.txt")])).toEqual(new Set([d.keyOf("a.txt")]));
        d.put("a.txt", "alpha again");
        expect(await confirm([d.keyOf("a.txt")])).toEqual(new Set());
      });

      it("keeps an item it cannot answer for out of the result", async () => {
        d.put("sub/a.txt", "alpha");
        d.put("b.txt", "beta");
        d.remove("sub/a.txt");
        d.remove("b.txt");
        d.breakConfirm("sub/a.txt");
        const gone = await confirm([d.keyOf("sub/a.txt"), d.keyOf("b.txt")]);
        expect([...gone]).toEqual([d.keyOf("b.txt")]);
      });

      it("rejects with the signal's reason when the signal is already aborted", async () => {
        const controller = new AbortController();
        const reason = new Error("stop");
        controller.abort(reason);
        await expect(confirm([d.keyOf("a.txt")], controller.signal)).rejects.toBe(reason);
      });
    });

    it("throws SYNC_E_SOURCE_UNAVAILABLE when the listing fails", async () => {
      d.put("a.txt", "alpha");
      d.failListing();
      const err = await errorOf(() => d.source.list());
      expect(isSyncError(err, "SYNC_E_SOURCE_UNAVAILABLE")).toBe(true);
    });
  });
}

describe("MemorySource listingExtras", () => {
  it("merges the simulated warnings, incomplete prefixes and empty roots into every listing", async () => {
    const source = new MemorySource().set("a.txt", "alpha");
    expect(await source.list()).toMatchObject({ warnings: [], incompletePrefixes: [], emptyRoots: [] });
    source.listingExtras = { warnings: ["w"], incompletePrefixes: ["sub/"], emptyRoots: ["root/"] };
    const listing = await source.list();
    expect(listing).toMatchObject({ warnings: ["w"], incompletePrefixes: ["sub/"], emptyRoots: ["root/"] });
    expect(listing.items.map((i) => i.key)).toEqual(["a.txt"]);
    listing.warnings.push("mutated");
    expect(source.listingExtras.warnings).toEqual(["w"]);
  });
});

describe("upload source", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let journal: MemoryJournal;
  let blobs: BlobStore;
  let source: UploadSource;
  beforeEach(() => {
    tmp = makeTempDir("upload-source-");
    journal = new MemoryJournal();
    blobs = new BlobStore(join(tmp.path, "blobs"));
    source = new UploadSource({ name: "inbox", userId: "u1", journal, blobs });
  });
  afterEach(() => tmp.cleanup());

  const push = async (key: string, fileName: string, content: string, extra: Partial<UploadRecord> = {}) => {
    const { hash, sizeBytes } = await blobs.put(new TextEncoder().encode(content));
    const record: UploadRecord = {
      userId: "u1",
      sourceName: "inbox",
      key,
      blobHash: hash,
      fileName,
      sizeBytes,
      metadata: {},
      uploadedAt: "2025-03-01T10:00:00.000Z",
      ...extra,
    };
    journal.putUpload(record);
    return record;
  };
  const refOf = async (key: string) =>
    (await source.list()).items.find((i) => i.key === key) as SourceItemRef;

  it("lists the uploads of its user and source only, the content hash as fingerprint", async () => {
    const a = await push("report.pdf", "report.pdf", "alpha", { uploadedAt: "2025-03-02T08:00:00.000Z" });
    await push("other.txt", "other.txt", "beta", { userId: "u2" });
    await push("else.txt", "else.txt", "gamma", { sourceName: "elsewhere" });
    expect(source.type).toBe("upload");
    expect(await source.list()).toEqual({
      items: [
        { key: "report.pdf", fingerprint: a.blobHash, sizeBytes: 5, modifiedAt: "2025-03-02T08:00:00.000Z" },
      ],
      warnings: [],
      incompletePrefixes: [],
      emptyRoots: [],
    });
  });

  it("fetch returns the bytes, file name, metadata and a display name with the key when it differs", async () => {
    const metadata = { author: "Ana", tags: ["q1", "board"], nested: { pages: 3 } };
    const rec = await push("crm/42/contract", "contract.md", "# Contract", { metadata });
    await push("notes.md", "notes.md", "plain");
    const item = await source.fetch(await refOf("crm/42/contract"));
    expect(new TextDecoder().decode(item.bytes)).toBe("# Contract");
    expect(item).toMatchObject({
      fileName: "contract.md",
      displayName: "crm/42/contract (contract.md)",
      fingerprint: rec.blobHash,
      metadata,
    });
    expect((await source.fetch(await refOf("notes.md"))).displayName).toBe("notes.md");
  });

  it("keeps the fingerprint when the same bytes are pushed again, and shares it across keys", async () => {
    const first = await push("a.txt", "a.txt", "same bytes");
    await push("a.txt", "a.txt", "same bytes", { uploadedAt: "2025-04-01T00:00:00.000Z" });
    await push("copy.txt", "copy.txt", "same bytes");
    const items = (await source.list()).items;
    expect(items.map((i) => i.fingerprint)).toEqual([first.blobHash, first.blobHash]);
  });

  it("a record whose blob is missing fails with SYNC_E_READ_FAILED naming key and hash, and is not gone", async () => {
    const rec = await push("lost/key", "lost.txt", "bytes the store lost");
    const ref = await refOf("lost/key");
    await blobs.remove(rec.blobHash);
    const err = await errorOf(() => source.fetch(ref));
    expect(isSyncError(err, "SYNC_E_READ_FAILED")).toBe(true);
    expect((err as SyncError).retryable).toBe(true);
    expect((err as SyncError).message).toContain('"lost/key (lost.txt)"');
    expect((err as SyncError).message).toContain(rec.blobHash);
    expect((await source.list()).items.map((i) => i.key)).toEqual(["lost/key"]);
    expect(await source.confirmGone(["lost/key"])).toEqual(new Set());
  });

  it("a key without a record fails with SYNC_E_ITEM_GONE", async () => {
    await push("a.txt", "a.txt", "alpha");
    const ref = await refOf("a.txt");
    journal.deleteUpload("u1", "inbox", "a.txt");
    expect(isSyncError(await errorOf(() => source.fetch(ref)), "SYNC_E_ITEM_GONE")).toBe(true);
  });

  it("confirmGone says gone only for keys without an upload record", async () => {
    await push("kept.txt", "kept.txt", "kept");
    await push("deleted.txt", "deleted.txt", "deleted");
    await push("theirs.txt", "theirs.txt", "other user", { userId: "u2" });
    journal.deleteUpload("u1", "inbox", "deleted.txt");
    expect(await source.confirmGone(["kept.txt", "deleted.txt", "never.txt", "theirs.txt"])).toEqual(
      new Set(["deleted.txt", "never.txt", "theirs.txt"]),
    );
    expect(await source.confirmGone([])).toEqual(new Set());
  });

  it("confirmGone keeps a key it cannot look up", async () => {
    journal.getUpload = (_user, _name, key) => {
      if (key === "flaky.txt") throw new SyncError("SYNC_E_JOURNAL", "journal: database is locked");
      return undefined;
    };
    expect(await source.confirmGone(["flaky.txt", "gone.txt"])).toEqual(new Set(["gone.txt"]));
  });

  it("a journal that cannot be read: list throws SYNC_E_SOURCE_UNAVAILABLE, fetch SYNC_E_READ_FAILED", async () => {
    await push("a.txt", "a.txt", "alpha");
    const ref = await refOf("a.txt");
    const broken = () => {
      throw new SyncError("SYNC_E_JOURNAL", "journal: disk I/O error");
    };
    journal.listUploads = broken;
    journal.getUpload = broken;
    const listErr = await errorOf(() => source.list());
    expect(isSyncError(listErr, "SYNC_E_SOURCE_UNAVAILABLE")).toBe(true);
    expect((listErr as SyncError).message).toContain("disk I/O error");
    expect(isSyncError(await errorOf(() => source.fetch(ref)), "SYNC_E_READ_FAILED")).toBe(true);
  });
});

/**
 * Uploads: `put` is `blobs.put` + `journal.putUpload` (key = name, file name = its last segment), `remove` is
 * `deleteUpload`, `touch` re-pushes the same bytes with a new upload time. Blob writes are asynchronous and
 * the driver's steps are not, so steps queue up and every call of `source` first waits for the queue, then
 * goes to the UploadSource unchanged.
 */
function uploadDriver(): SourceDriver {
  const tmp = makeTempDir("source-conformance-upload-");
  const journal = new MemoryJournal();
  const blobs = new BlobStore(join(tmp.path, "blobs"));
  const upload = new UploadSource({ name: "docs", userId: "u1", journal, blobs });
  let queue: Promise<void> = Promise.resolve();
  const step = (run: () => unknown): void => {
    queue = queue.then(async () => void (await run()));
  };
  let tick = 0;
  const pushed = async (name: string, bytes: Uint8Array, metadata: Record<string, unknown> = {}) => {
    const { hash, sizeBytes } = await blobs.put(bytes);
    const record: UploadRecord = {
      userId: "u1",
      sourceName: "docs",
      key: name,
      blobHash: hash,
      fileName: basename(name),
      sizeBytes,
      metadata,
      uploadedAt: new Date(Date.UTC(2025, 0, 1) + ++tick * 1000).toISOString(),
    };
    journal.putUpload(record);
  };
  const source: Source = {
    type: upload.type,
    name: upload.name,
    list: (signal) => queue.then(() => upload.list(signal)),
    fetch: (ref, signal) => queue.then(() => upload.fetch(ref, signal)),
    confirmGone: (keys, signal) => queue.then(() => upload.confirmGone(keys, signal)),
  };
  return {
    source,
    keyOf: (name) => name,
    put: (name, content) =>
      step(() => pushed(name, typeof content === "string" ? new TextEncoder().encode(content) : content)),
    remove: (name) => step(() => journal.deleteUpload("u1", "docs", name)),
    touch: (name) =>
      step(async () => {
        const record = journal.getUpload("u1", "docs", name) as UploadRecord;
        await pushed(name, await blobs.get(record.blobHash), record.metadata);
      }),
    failListing: () =>
      step(() => {
        journal.listUploads = () => {
          throw new SyncError("SYNC_E_JOURNAL", "journal: database disk image is malformed");
        };
      }),
    breakConfirm: (name) =>
      step(() => {
        const lookUp = journal.getUpload.bind(journal);
        journal.getUpload = (userId, sourceName, key) => {
          if (key === name) throw new SyncError("SYNC_E_JOURNAL", "journal: disk I/O error");
          return lookUp(userId, sourceName, key);
        };
      }),
    cleanup: tmp.cleanup,
    fingerprintMovesOnTouch: false,
  };
}

describe("MemorySource confirmGone fault injection", () => {
  it("failConfirm keeps keys out of the result and failConfirmCall makes the call throw, until healed", async () => {
    const source = new MemorySource().set("a.txt", "alpha");
    expect(await source.confirmGone(["a.txt", "x.txt", "y.txt"])).toEqual(new Set(["x.txt", "y.txt"]));
    source.failConfirm("x.txt");
    expect(await source.confirmGone(["x.txt", "y.txt"])).toEqual(new Set(["y.txt"]));
    const outage = new SyncError("SYNC_E_SOURCE_UNAVAILABLE", "down");
    source.failConfirmCall(outage);
    await expect(source.confirmGone(["y.txt"])).rejects.toBe(outage);
    source.healConfirm();
    expect(await source.confirmGone(["x.txt", "y.txt"])).toEqual(new Set(["x.txt", "y.txt"]));
    expect(source.confirmCalls).toBe(4);
    expect(source.confirmAsked).toEqual([
      "a.txt",
      "x.txt",
      "y.txt",
      "x.txt",
      "y.txt",
      "y.txt",
      "x.txt",
      "y.txt",
    ]);
    source.resetCounters();
    expect([source.confirmCalls, source.confirmAsked]).toEqual([0, []]);
  });
});

/** The error `run` rejects with. */
function errorOf(run: () => Promise<unknown>): Promise<unknown> {
  return rejection(Promise.resolve().then(run));
}
