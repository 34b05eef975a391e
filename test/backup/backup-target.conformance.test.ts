import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BackupObjectNotFound, type BackupTarget } from "../../src/backup/backup-target.js";
import { LocalDirTarget } from "../../src/backup/local-dir-target.js";
import { createS3Client } from "../../src/backup/s3-client.js";
import { S3Target } from "../../src/backup/s3-target.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import { rejection } from "../helpers/caught.js";
import { S3_TEST_CREDENTIALS, S3_TEST_REGION, startS3Server } from "../helpers/s3-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/** One implementation under test: opened once per suite, a fresh empty target per test. */
interface TargetCase {
  name: string;
  open(): Promise<{ fresh(): BackupTarget; close(): Promise<void> }>;
}

const cases: TargetCase[] = [
  {
    name: "local directory",
    async open() {
      const dir = makeTempDir("lancedb-sync-target-");
      let n = 0;
      return {
        fresh: () => new LocalDirTarget(join(dir.path, `t${n++}`, "backups")),
        close: async () => dir.cleanup(),
      };
    },
  },
  {
    name: "S3 (s3rver)",
    async open() {
      const server = await startS3Server({ buckets: ["backup"] });
      const client = createS3Client({
        region: S3_TEST_REGION,
        endpoint: server.endpoint,
        credentials: { ...S3_TEST_CREDENTIALS },
      });
      let n = 0;
      return {
        fresh: () =>
          new S3Target({
            client,
            bucket: "backup",
            prefix: `t${n++}/lancedb-sync/`,
            endpoint: server.endpoint,
          }),
        close: async () => {
          client.destroy();
          await server.close();
        },
      };
    },
  },
];

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe.each(cases)("BackupTarget conformance: $name", (tc) => {
  let opened: Awaited<ReturnType<TargetCase["open"]>>;
  let target: BackupTarget;
  let scratch: ReturnType<typeof makeTempDir>;
  beforeAll(async () => {
    opened = await tc.open();
  });
  afterAll(async () => {
    await opened.close();
  });
  beforeEach(() => {
    target = opened.fresh();
    scratch = makeTempDir("lancedb-sync-scratch-");
  });
  afterEach(() => scratch.cleanup());

  it("an empty target lists nothing and names its location", async () => {
    expect(await target.list("")).toEqual([]);
    expect(await target.list("snapshots/")).toEqual([]);
    expect(target.location).toMatch(/^(s3|file):\/\//);
  });

  it("putIfAbsent of bytes creates once, then reports exists without overwriting", async () => {
    expect(await target.putIfAbsent("data/a.lance", { bytes: bytes("first") })).toBe("created");
    expect(await target.putIfAbsent("data/a.lance", { bytes: bytes("second, longer") })).toBe("exists");
    expect(text(await target.get("data/a.lance"))).toBe("first");
    expect(await target.head("data/a.lance")).toMatchObject({ key: "data/a.lance", size: 5 });
  });

  it("putIfAbsent of a file streams its content, and the object's size and bytes match", async () => {
    const file = join(scratch.path, "big.bin");
    const content = Buffer.alloc(300_000);
    for (let i = 0; i < content.length; i++) content[i] = (i * 7919) % 251;
    writeFileSync(file, content);
    expect(await target.putIfAbsent("data/big.bin", { file })).toBe("created");
    expect(await target.putIfAbsent("data/big.bin", { file })).toBe("exists");
    const head = await target.head("data/big.bin");
    expect(head.size).toBe(content.length);
    const got = await target.get("data/big.bin");
    expect(sha(got)).toBe(sha(content));
  });

  it("an empty object is an object", async () => {
    expect(await target.putIfAbsent("empty", { bytes: new Uint8Array() })).toBe("created");
    expect(await target.head("empty")).toMatchObject({ key: "empty", size: 0 });
    expect((await target.get("empty")).length).toBe(0);
    expect(await target.list("")).toEqual([expect.objectContaining({ key: "empty", size: 0 })]);
  });

  it("a file body that cannot be read is an invalid argument, and nothing is stored", async () => {
    const err = await rejection(target.putIfAbsent("x", { file: join(scratch.path, "no-such-file") }));
    expect(isSyncError(err, "SYNC_E_INVALID_ARGUMENT"), String(err)).toBe(true);
    expect(String((err as Error).message)).toContain("no-such-file");
    expect(await target.list("")).toEqual([]);
  });

  it("list returns every key under a prefix, with sizes, and only those", async () => {
    const keys = [
      "snapshots/s1.json",
      "snapshots/s2.json",
      "snapshots-old/x",
      "data/t/1.lance",
      "data/t/2.lance",
    ];
    for (const [i, key] of keys.entries()) await target.putIfAbsent(key, { bytes: bytes("x".repeat(i + 1)) });
    const keysOf = async (prefix: string) => (await target.list(prefix)).map((o) => o.key).sort();
    expect(await keysOf("snapshots/")).toEqual(["snapshots/s1.json", "snapshots/s2.json"]);
    expect(await keysOf("snapshots")).toEqual(["snapshots-old/x", "snapshots/s1.json", "snapshots/s2.json"]);
    expect(await keysOf("data/")).toEqual(["data/t/1.lance", "data/t/2.lance"]);
    expect(await keysOf("data/t/2")).toEqual(["data/t/2.lance"]);
    expect(await keysOf("")).toEqual([...keys].sort());
    expect(await keysOf("nothing/")).toEqual([]);
    const all = await target.list("");
    for (const [i, key] of keys.entries()) expect(all.find((o) => o.key === key)?.size).toBe(i + 1);
    for (const o of all) expect(Number.isNaN(Date.parse(o.modifiedAt ?? ""))).toBe(false);
  });

  it("list pages through more than 1,000 keys", { timeout: 120_000 }, async () => {
    const n = 1_050;
    const keys = Array.from({ length: n }, (_, i) => `many/${String(i).padStart(5, "0")}.bin`);
    await inParallel(keys, 16, (key) => target.putIfAbsent(key, { bytes: bytes(key) }));
    await target.putIfAbsent("other/outside", { bytes: bytes("o") });
    const listed = (await target.list("many/")).map((o) => o.key);
    expect(listed.length).toBe(n);
    expect(new Set(listed)).toEqual(new Set(keys));
  });

  it("head, get and download of a missing object throw the typed not-found naming the key", async () => {
    await target.putIfAbsent("present/x", { bytes: bytes("x") });
    const dest = join(scratch.path, "out", "missing.bin");
    for (const call of [
      () => target.head("present/y"),
      () => target.get("present/y"),
      () => target.download("present/y", dest),
    ]) {
      const err = await rejection(call());
      expect(err).toBeInstanceOf(BackupObjectNotFound);
      expect((err as BackupObjectNotFound).key).toBe("present/y");
      expect(isSyncError(err, "SYNC_E_BACKUP_OBJECT_MISSING")).toBe(true);
      expect((err as Error).message).toContain("present/y");
    }
    expect(existsSync(dest)).toBe(false);
    // A "folder" of other keys is not an object either.
    expect(await rejection(target.head("present"))).toBeInstanceOf(BackupObjectNotFound);
  });

  it("download writes the object to a path (creating folders, replacing a file there)", async () => {
    const content = bytes("manifest body ".repeat(1000));
    await target.putIfAbsent("snapshots/m.json", { bytes: content });
    const dest = join(scratch.path, "a", "b", "m.json");
    await target.download("snapshots/m.json", dest);
    expect(sha(readFileSync(dest))).toBe(sha(content));
    writeFileSync(dest, "something else, longer than nothing at all");
    await target.download("snapshots/m.json", dest);
    expect(sha(readFileSync(dest))).toBe(sha(content));
  });

  it("delete removes an object; deleting a missing one is fine", async () => {
    await target.putIfAbsent("d/one", { bytes: bytes("1") });
    await target.putIfAbsent("d/two", { bytes: bytes("2") });
    await target.delete("d/one");
    expect(await rejection(target.head("d/one"))).toBeInstanceOf(BackupObjectNotFound);
    expect((await target.list("d/")).map((o) => o.key)).toEqual(["d/two"]);
    await target.delete("d/one");
    await target.delete("never/was");
    await target.delete("d/two");
    expect(await target.list("")).toEqual([]);
    // A deleted key can be written again.
    expect(await target.putIfAbsent("d/one", { bytes: bytes("again") })).toBe("created");
    expect(text(await target.get("d/one"))).toBe("again");
  });

  it("keys with spaces and UTF-8 work in every method", async () => {
    const key = "dir with space/naïve 文件 — ü ✓.txt";
    const content = bytes("unicode ✓");
    expect(await target.putIfAbsent(key, { bytes: content })).toBe("created");
    expect(await target.putIfAbsent(key, { bytes: content })).toBe("exists");
    expect(await target.head(key)).toMatchObject({ key, size: content.length });
    expect((await target.list("dir with space/")).map((o) => o.key)).toEqual([key]);
    expect((await target.list("dir with space/naïve 文")).map((o) => o.key)).toEqual([key]);
    expect(text(await target.get(key))).toBe("unicode ✓");
    const dest = join(scratch.path, "ü.txt");
    await target.download(key, dest);
    expect(readFileSync(dest, "utf8")).toBe("unicode ✓");
    await target.delete(key);
    expect(await target.list("")).toEqual([]);
  });

  it("rejects keys that could escape the target or are ambiguous", async () => {
    for (const key of ["", "../escape", "a/../../b", "/abs/key", "a\\b", "a//b", "./a", "a/./b", "a\nb"]) {
      const err = await rejection(target.putIfAbsent(key, { bytes: bytes("x") }));
      expect(isSyncError(err, "SYNC_E_INVALID_ARGUMENT"), `${JSON.stringify(key)}: ${err}`).toBe(true);
      expect(isSyncError(await rejection(target.head(key)), "SYNC_E_INVALID_ARGUMENT")).toBe(true);
      expect(isSyncError(await rejection(target.delete(key)), "SYNC_E_INVALID_ARGUMENT")).toBe(true);
    }
    expect(isSyncError(await rejection(target.list("../")), "SYNC_E_INVALID_ARGUMENT")).toBe(true);
    expect(await target.list("")).toEqual([]);
  });

  it("an aborted signal rejects every call with its reason (not a SyncError); an aborted put stores nothing", async () => {
    await target.putIfAbsent("keep", { bytes: bytes("k") });
    const file = join(scratch.path, "f.bin");
    writeFileSync(file, "file body");
    const controller = new AbortController();
    controller.abort();
    const signal = controller.signal;
    for (const call of [
      () => target.list("", { signal }),
      () => target.head("keep", { signal }),
      () => target.get("keep", { signal }),
      () => target.download("keep", join(scratch.path, "out"), { signal }),
      () => target.putIfAbsent("new-bytes", { bytes: bytes("n") }, { signal }),
      () => target.putIfAbsent("new-file", { file }, { signal }),
      () => target.delete("keep", { signal }),
    ]) {
      const err = await rejection(call());
      expect((err as Error).name).toBe("AbortError");
      expect(isSyncError(err)).toBe(false);
    }
    expect((await target.list("")).map((o) => o.key)).toEqual(["keep"]);
    expect(existsSync(join(scratch.path, "out"))).toBe(false);
  });

  it("racing putIfAbsent calls of one key leave one complete object", async () => {
    const content = bytes("same immutable bytes ".repeat(5000));
    const results = await Promise.all(
      Array.from({ length: 6 }, () => target.putIfAbsent("race/x", { bytes: content })),
    );
    expect(results).toContain("created");
    expect(sha(await target.get("race/x"))).toBe(sha(content));
    expect((await target.list("race/")).map((o) => o.key)).toEqual(["race/x"]);
  });
});

describe("LocalDirTarget specifics", () => {
  const dir = makeTempDir("lancedb-sync-local-target-");
  afterAll(() => dir.cleanup());

  it("a partial upload left by a crash is neither listed nor found, and the next put completes", async () => {
    const root = join(dir.path, "crash");
    const target = new LocalDirTarget(root);
    mkdirSync(join(root, "data"), { recursive: true });
    // What a process killed mid-write leaves: a temp file beside the key.
    writeFileSync(join(root, "data", ".0123456789abcdef.lsync-partial"), "half of the by");
    expect(await target.list("")).toEqual([]);
    expect(await rejection(target.head("data/f.lance"))).toBeInstanceOf(BackupObjectNotFound);
    expect(await target.putIfAbsent("data/f.lance", { bytes: bytes("whole") })).toBe("created");
    expect((await target.list("")).map((o) => o.key)).toEqual(["data/f.lance"]);
  });

  it("stores objects as plain files under the root, and a root that is a file is unavailable", async () => {
    const root = join(dir.path, "plain");
    const target = new LocalDirTarget(root);
    await target.putIfAbsent("a/b/c.bin", { bytes: bytes("abc") });
    expect(readFileSync(join(root, "a", "b", "c.bin"), "utf8")).toBe("abc");
    expect(target.location).toBe(`file://${root}/`);
    const fileRoot = join(dir.path, "a-file");
    writeFileSync(fileRoot, "not a directory");
    const err = await rejection(new LocalDirTarget(fileRoot).putIfAbsent("k", { bytes: bytes("x") }));
    expect(isSyncError(err, "SYNC_E_BACKUP_UNAVAILABLE"), String(err)).toBe(true);
    expect((err as Error).message).toContain(fileRoot);
  });
});

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await fn(item);
      }
    }),
  );
}
