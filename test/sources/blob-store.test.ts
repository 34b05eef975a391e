import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isSyncError, type SyncError } from "../../src/errors/sync-error.js";
import { BLOB_TEMP_PREFIX, BlobStore } from "../../src/sources/upload/blob-store.js";
import { rejection } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const bytesOf = (s: string): Uint8Array => new TextEncoder().encode(s);
const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("BlobStore", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let dir: string;
  let blobs: BlobStore;
  beforeEach(() => {
    tmp = makeTempDir("blob-store-");
    dir = join(tmp.path, "blobs");
    blobs = new BlobStore(dir);
  });
  afterEach(() => tmp.cleanup());

  /** Every file under the store, as `shard/name`. */
  const files = (): string[] =>
    existsSync(dir)
      ? readdirSync(dir).flatMap((shard) => readdirSync(join(dir, shard)).map((n) => `${shard}/${n}`))
      : [];

  it("stores bytes under their SHA-256 and reads them back", async () => {
    const content = bytesOf("héllo, blob ✓");
    const stored = await blobs.put(content);
    expect(stored).toEqual({ hash: sha256(content), sizeBytes: content.length });
    expect(files()).toEqual([`${stored.hash.slice(0, 2)}/${stored.hash}`]);
    expect(Buffer.from(await blobs.get(stored.hash)).equals(Buffer.from(content))).toBe(true);
    expect(await blobs.has(stored.hash)).toBe(true);

    const empty = await blobs.put(new Uint8Array());
    expect(empty.sizeBytes).toBe(0);
    expect((await blobs.get(empty.hash)).length).toBe(0);
  });

  it("stores the same bytes once, without rewriting the blob", async () => {
    const content = bytesOf("same bytes");
    const first = await blobs.put(content);
    const path = join(dir, first.hash.slice(0, 2), first.hash);
    const before = statSync(path, { bigint: true });
    await sleep(20);
    const second = await blobs.put(content);
    expect(second).toEqual(first);
    const after = statSync(path, { bigint: true });
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(files()).toEqual([`${first.hash.slice(0, 2)}/${first.hash}`]);
  });

  it("replaces a present blob whose content does not match its name", async () => {
    const content = bytesOf("the real content");
    const { hash } = await blobs.put(content);
    const path = join(dir, hash.slice(0, 2), hash);
    writeFileSync(path, "the real c0ntent"); // same length, one byte flipped
    expect(isSyncError(await rejection(blobs.get(hash)), "SYNC_E_STORAGE")).toBe(true);
    await blobs.put(content);
    expect(readFileSync(path, "utf8")).toBe("the real content");
  });

  it("throws SYNC_E_ITEM_GONE for an absent blob; has() says false; remove() removes once", async () => {
    const { hash } = await blobs.put(bytesOf("to be removed"));
    expect(await blobs.remove(hash)).toBe(true);
    expect(await blobs.remove(hash)).toBe(false);
    expect(await blobs.has(hash)).toBe(false);
    const err = await rejection(blobs.get(hash));
    expect(isSyncError(err, "SYNC_E_ITEM_GONE")).toBe(true);
    expect((err as SyncError).message).toContain(hash);
  });

  it("refuses every hash that is not 64 lower-case hex characters (no path traversal)", async () => {
    const good = sha256(bytesOf("x"));
    for (const bad of [
      "",
      "../../etc/passwd",
      `../${good.slice(3)}`,
      good.toUpperCase(),
      good.slice(1),
      `${good}0`,
      `${good.slice(0, 63)}g`,
      `${good.slice(0, 2)}/${good.slice(2)}`,
    ]) {
      for (const call of [blobs.get(bad), blobs.has(bad), blobs.remove(bad)]) {
        const err = await rejection(call);
        expect(isSyncError(err, "SYNC_E_INVALID_ARGUMENT"), bad).toBe(true);
        expect((err as SyncError).message).toContain(JSON.stringify(bad.slice(0, 80)));
      }
    }
  });

  it("gc removes old unreferenced blobs and keeps referenced and young ones", async () => {
    const kept = await blobs.put(bytesOf("referenced"));
    const loose = await blobs.put(bytesOf("unreferenced, ten bytes.."));
    const referenced = new Set([kept.hash]);

    // Young (default grace: 10 minutes): nothing goes.
    expect(await blobs.gc(referenced)).toEqual({ removed: 0, bytes: 0 });
    expect(await blobs.has(loose.hash)).toBe(true);

    // Old enough: the unreferenced one goes, with its size.
    expect(await blobs.gc(referenced, { graceMs: 0 })).toEqual({ removed: 1, bytes: loose.sizeBytes });
    expect(await blobs.has(loose.hash)).toBe(false);
    expect(await blobs.has(kept.hash)).toBe(true);
    expect(await blobs.gc(new Set(), { graceMs: 0 })).toEqual({ removed: 1, bytes: kept.sizeBytes });
    expect(files()).toEqual([]);
  });

  it("gc counts a re-put of existing bytes as a claim: the grace period starts again", async () => {
    const graceMs = 400;
    const reclaimed = await blobs.put(bytesOf("pushed again after its record went"));
    const abandoned = await blobs.put(bytesOf("nobody wants this"));
    await sleep(graceMs + 100);
    await blobs.put(bytesOf("pushed again after its record went"));
    expect(await blobs.gc(new Set(), { graceMs })).toEqual({ removed: 1, bytes: abandoned.sizeBytes });
    expect(await blobs.has(reclaimed.hash)).toBe(true);
    expect(await blobs.has(abandoned.hash)).toBe(false);
  });

  it("a temp file left by a crash is not a blob, and gc removes it once stale", async () => {
    const content = bytesOf("half-written");
    const hash = sha256(content);
    mkdirSync(join(dir, hash.slice(0, 2)), { recursive: true });
    const tmpName = `${BLOB_TEMP_PREFIX}${hash}-4242-abcdef012345`;
    writeFileSync(join(dir, hash.slice(0, 2), tmpName), content.subarray(0, 4));
    const stranger = join(dir, hash.slice(0, 2), "notes.txt"); // not ours: never touched

    writeFileSync(stranger, "keep me");
    expect(await blobs.has(hash)).toBe(false);
    expect(isSyncError(await rejection(blobs.get(hash)), "SYNC_E_ITEM_GONE")).toBe(true);

    expect(await blobs.gc(new Set([hash]))).toEqual({ removed: 0, bytes: 0 }); // young: kept
    expect(await blobs.gc(new Set([hash]), { graceMs: 0 })).toEqual({ removed: 1, bytes: 4 });
    expect(files()).toEqual([`${hash.slice(0, 2)}/notes.txt`]);

    // The interrupted put can be redone in full.
    await blobs.put(content);
    expect(Buffer.from(await blobs.get(hash)).equals(Buffer.from(content))).toBe(true);
  });

  it("gc of a store never written to removes nothing", async () => {
    expect(await blobs.gc(new Set(), { graceMs: 0 })).toEqual({ removed: 0, bytes: 0 });
  });

  it("puts of the same bytes may race: one whole blob, no temp file left", async () => {
    const content = bytesOf("raced ".repeat(10_000));
    const results = await Promise.all(Array.from({ length: 8 }, () => blobs.put(content)));
    expect(new Set(results.map((r) => r.hash)).size).toBe(1);
    const hash = results[0]?.hash as string;
    expect(files()).toEqual([`${hash.slice(0, 2)}/${hash}`]);
    expect(Buffer.from(await blobs.get(hash)).equals(Buffer.from(content))).toBe(true);
  });
});
