import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { hashContent } from "../../core/ids.js";
import { SyncError } from "../../errors/sync-error.js";
import { describeFsError, errnoOf, fsCause } from "../local-filesystem/fs-paths.js";

/** How old an unreferenced blob must be before {@link BlobStore.gc} removes it, by default (10 minutes). */
export const DEFAULT_BLOB_GRACE_MS = 10 * 60 * 1000;

/** Prefix of the temporary files a {@link BlobStore.put} writes before renaming them into place. */
export const BLOB_TEMP_PREFIX = ".tmp-";

const HASH_PATTERN = /^[0-9a-f]{64}$/;
const SHARD_PATTERN = /^[0-9a-f]{2}$/;

/** What {@link BlobStore.put} stored. */
export interface StoredBlob {
  /** SHA-256 (lower-case hex) of the bytes: the blob's name. */
  hash: string;
  sizeBytes: number;
}

/** Options of {@link BlobStore.gc}. */
export interface BlobGcOptions {
  /**
   * Unreferenced blobs and temp files younger than this (by the later of mtime and ctime) are kept, so that
   * an ingest that has stored its blob but not yet recorded it is never robbed. Default
   * {@link DEFAULT_BLOB_GRACE_MS}.
   */
  graceMs?: number;
  signal?: AbortSignal;
}

/** What {@link BlobStore.gc} removed. */
export interface BlobGcResult {
  /** Blobs and stale temp files removed. */
  removed: number;
  /** Their total size. */
  bytes: number;
}

/**
 * Content-addressed, durable storage of uploaded bytes under one directory: the blob of bytes whose SHA-256
 * is `h` lives at `<dir>/<h[0..2]>/<h>`. Blobs are immutable and written atomically (temp file in the same
 * folder, fsync, rename, fsync of the folder): a crash leaves either no blob or a whole one, plus at worst a
 * temp file (`.tmp-…`) that {@link gc} removes once it is stale.
 *
 * Every hash argument must be 64 lower-case hex characters (`SYNC_E_INVALID_ARGUMENT` otherwise), so no
 * argument can name a path outside the store. I/O failures throw `SYNC_E_STORAGE` naming the blob.
 *
 * Not in the contract: which records refer to a blob (the journal knows; {@link gc} is told), locking
 * between processes (puts of the same bytes are safe to race: each renames whole content into place).
 */
export class BlobStore {
  /** @param dir The store's directory (created on the first `put`). */
  constructor(readonly dir: string) {}

  /**
   * Stores `bytes` and returns their hash. Idempotent: a blob already present with the right content is not
   * rewritten (content, mtime and inode stay), but its ctime is moved to now (a `chmod` to its own mode),
   * which {@link gc} counts as a claim: re-pushed content whose earlier record was deleted is not collected
   * before the new record is written.
   * A present blob whose content does not match its name (damage) is replaced.
   */
  async put(bytes: Uint8Array): Promise<StoredBlob> {
    const hash = hashContent(bytes);
    const path = this.pathOf(hash);
    const st = await statOrUndefined(path, hash);
    if (st?.isFile() && st.size === bytes.length && (await this.matches(path, hash))) {
      if (await claim(path, st.mode, hash)) return { hash, sizeBytes: bytes.length };
      // collected between the check and the claim: written anew below
    }
    await this.writeAtomically(path, hash, bytes);
    return { hash, sizeBytes: bytes.length };
  }

  /**
   * The bytes of blob `hash`, checked against their hash.
   *
   * @throws SyncError `SYNC_E_ITEM_GONE` when the blob is absent; `SYNC_E_STORAGE` when it cannot be read or
   *   its content does not hash to its name (damage; not retryable).
   */
  async get(hash: string): Promise<Uint8Array> {
    const path = this.pathOf(checkBlobHash(hash));
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if (errnoOf(err) === "ENOENT") {
        throw new SyncError("SYNC_E_ITEM_GONE", `blob store: blob ${hash} is missing`, {
          cause: fsCause(err),
        });
      }
      throw storageError(`read blob ${hash}`, err);
    }
    const actual = hashContent(bytes);
    if (actual !== hash) {
      throw new SyncError(
        "SYNC_E_STORAGE",
        `blob store: blob ${hash} is damaged: its ${bytes.length} bytes hash to ${actual}`,
        { retryable: false },
      );
    }
    return bytes;
  }

  /** Whether blob `hash` is present (its content is not checked). */
  async has(hash: string): Promise<boolean> {
    const st = await statOrUndefined(this.pathOf(checkBlobHash(hash)), hash);
    return st?.isFile() ?? false;
  }

  /** Removes blob `hash`; false when it was not there. */
  async remove(hash: string): Promise<boolean> {
    try {
      await unlink(this.pathOf(checkBlobHash(hash)));
      return true;
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return false;
      throw storageError(`remove blob ${hash}`, err);
    }
  }

  /**
   * Removes every blob not in `referenced`, and every leftover temp file, that is older than the grace
   * period. Files it does not recognise (neither a blob name nor a temp-file name) are left alone. A missing
   * store directory removes nothing.
   *
   * The grace period is what keeps an ingest that raced with `gc` safe: pass `referenced` as read from the
   * journal *before* calling, and keep the grace well above the time between an ingest's `put` and its
   * journal record.
   */
  async gc(referenced: ReadonlySet<string>, options: BlobGcOptions = {}): Promise<BlobGcResult> {
    const graceMs = options.graceMs ?? DEFAULT_BLOB_GRACE_MS;
    const result: BlobGcResult = { removed: 0, bytes: 0 };
    const shards = await readdirOrEmpty(this.dir);
    for (const shard of shards) {
      if (!SHARD_PATTERN.test(shard)) continue;
      const shardDir = join(this.dir, shard);
      for (const name of await readdirOrEmpty(shardDir)) {
        options.signal?.throwIfAborted();
        const isBlob = HASH_PATTERN.test(name) && name.startsWith(shard);
        if (!isBlob && !name.startsWith(BLOB_TEMP_PREFIX)) continue;
        if (isBlob && referenced.has(name)) continue;
        const path = join(shardDir, name);
        const st = await statOrUndefined(path, name);
        if (!st?.isFile()) continue;
        if (Date.now() - Math.max(st.mtimeMs, st.ctimeMs) < graceMs) continue;
        try {
          await unlink(path);
        } catch (err) {
          if (errnoOf(err) === "ENOENT") continue;
          throw storageError(`remove ${shard}/${name}`, err);
        }
        result.removed++;
        result.bytes += st.size;
      }
    }
    return result;
  }

  /** Where blob `hash` lives (the hash must already be checked). */
  private pathOf(hash: string): string {
    return join(this.dir, hash.slice(0, 2), hash);
  }

  private async matches(path: string, hash: string): Promise<boolean> {
    try {
      return hashContent(await readFile(path)) === hash;
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return false;
      throw storageError(`read blob ${hash}`, err);
    }
  }

  private async writeAtomically(path: string, hash: string, bytes: Uint8Array): Promise<void> {
    const shardDir = dirname(path);
    const tmp = join(shardDir, `${BLOB_TEMP_PREFIX}${hash}-${process.pid}-${randomBytes(6).toString("hex")}`);
    try {
      const created = await mkdir(shardDir, { recursive: true });
      const file = await open(tmp, "wx", 0o644);
      try {
        await file.writeFile(bytes);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, path);
      await fsyncDir(shardDir);
      // Folders created just now: their own entries must be durable too, up to the first that existed.
      if (created !== undefined) {
        const stop = dirname(created);
        for (let d = dirname(shardDir); ; d = dirname(d)) {
          await fsyncDir(d);
          if (d === stop || d === dirname(d)) break;
        }
      }
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw storageError(`write blob ${hash}`, err);
    }
  }
}

/**
 * `hash` when it is a blob name (64 lower-case hex characters).
 *
 * @throws SyncError `SYNC_E_INVALID_ARGUMENT` otherwise, quoting (the start of) the argument.
 */
export function checkBlobHash(hash: string): string {
  if (typeof hash === "string" && HASH_PATTERN.test(hash)) return hash;
  const shown = typeof hash === "string" ? JSON.stringify(hash.slice(0, 80)) : String(hash);
  throw new SyncError(
    "SYNC_E_INVALID_ARGUMENT",
    `blob store: invalid blob hash ${shown}: expected 64 lower-case hex characters (a SHA-256)`,
  );
}

/** Moves the ctime of blob `path` to now without changing it; false when it is gone. */
async function claim(path: string, mode: number, hash: string): Promise<boolean> {
  try {
    await chmod(path, mode & 0o7777);
    return true;
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return false;
    throw storageError(`claim blob ${hash}`, err);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function statOrUndefined(path: string, what: string) {
  try {
    return await stat(path);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return undefined;
    throw storageError(`stat ${what}`, err);
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return [];
    throw storageError(`list ${dir}`, err);
  }
}

function storageError(action: string, err: unknown): SyncError {
  if (err instanceof SyncError) return err;
  return new SyncError("SYNC_E_STORAGE", `blob store: ${action}: ${describeFsError(err)}`, {
    cause: fsCause(err),
  });
}
