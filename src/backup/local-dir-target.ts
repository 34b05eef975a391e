import { randomBytes } from "node:crypto";
import { constants, type Dirent } from "node:fs";
import {
  copyFile,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rmdir,
  stat,
  unlink,
} from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { SyncError } from "../errors/sync-error.js";
import { assertBackupKey, assertBackupPrefix, PARTIAL_SUFFIX } from "./backup-key.js";
import {
  type BackupBody,
  type BackupCallOptions,
  type BackupObjectInfo,
  BackupObjectNotFound,
  type BackupTarget,
  type PutResult,
} from "./backup-target.js";

/**
 * A {@link BackupTarget} over a local directory (a mounted disk, a NAS share). Keys map to files under
 * `root`. An upload is written to a temporary `*.lsync-partial` file in the destination folder, flushed,
 * then hard-linked to its key (which fails if the key exists, so nothing is overwritten) — an interrupted
 * write leaves only a partial file that `list` never shows. Where the file system has no hard links it falls
 * back to check-then-rename. The directory is created on the first write; a missing one lists as empty.
 * An abort signal is checked between file-system steps (a local copy is not interrupted half-way).
 */
export class LocalDirTarget implements BackupTarget {
  readonly location: string;
  private readonly root: string;

  /** @param root the directory holding the objects (resolved to an absolute path). */
  constructor(root: string) {
    this.root = resolve(root);
    this.location = `file://${this.root}/`;
  }

  async list(prefix: string, options: BackupCallOptions = {}): Promise<BackupObjectInfo[]> {
    assertBackupPrefix(prefix);
    const signal = options.signal;
    const slash = prefix.lastIndexOf("/");
    const startRel = slash < 0 ? "" : prefix.slice(0, slash);
    const out: BackupObjectInfo[] = [];
    const walk = async (rel: string): Promise<void> => {
      signal?.throwIfAborted();
      let entries: Dirent[];
      try {
        entries = await readdir(rel ? join(this.root, rel) : this.root, { withFileTypes: true });
      } catch (err) {
        if (isCode(err, "ENOENT") || isCode(err, "ENOTDIR")) return;
        throw this.unavailable(`list ${JSON.stringify(prefix)}`, err);
      }
      for (const entry of entries) {
        const key = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
        } else if (entry.isFile() && key.startsWith(prefix) && !entry.name.endsWith(PARTIAL_SUFFIX)) {
          try {
            out.push(info(key, await stat(join(this.root, key))));
          } catch (err) {
            if (!isCode(err, "ENOENT")) throw this.unavailable(`list ${JSON.stringify(prefix)}`, err);
          }
        }
      }
    };
    await walk(startRel);
    return out;
  }

  async head(key: string, options: BackupCallOptions = {}): Promise<BackupObjectInfo> {
    const path = this.pathOf(key);
    options.signal?.throwIfAborted();
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new BackupObjectNotFound(key, this.location);
      return info(key, st);
    } catch (err) {
      throw this.mapError(key, "head", err);
    }
  }

  async get(key: string, options: BackupCallOptions = {}): Promise<Uint8Array> {
    const path = this.pathOf(key);
    options.signal?.throwIfAborted();
    try {
      return new Uint8Array(await readFile(path, options.signal ? { signal: options.signal } : {}));
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw this.mapError(key, "get", err);
    }
  }

  async download(key: string, path: string, options: BackupCallOptions = {}): Promise<void> {
    const from = this.pathOf(key);
    await this.head(key, options);
    const to = resolve(path);
    const temp = `${to}.${randomBytes(6).toString("hex")}${PARTIAL_SUFFIX}`;
    try {
      await mkdir(dirname(to), { recursive: true });
      await copyFile(from, temp);
      options.signal?.throwIfAborted();
      await rename(temp, to);
    } catch (err) {
      await unlink(temp).catch(() => {});
      if (options.signal?.aborted) throw options.signal.reason;
      if (isCode(err, "ENOENT") && !(await exists(from))) throw new BackupObjectNotFound(key, this.location);
      throw new SyncError(
        "SYNC_E_BACKUP_UNAVAILABLE",
        `download ${key} from ${this.location} to ${to} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  async putIfAbsent(key: string, body: BackupBody, options: BackupCallOptions = {}): Promise<PutResult> {
    const path = this.pathOf(key);
    options.signal?.throwIfAborted();
    if (await this.isFile(key, path)) return "exists";
    const dir = dirname(path);
    const temp = join(dir, `.${randomBytes(8).toString("hex")}${PARTIAL_SUFFIX}`);
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(dir, { recursive: true });
      } catch (err) {
        throw this.unavailable(`put ${key}`, err);
      }
      try {
        await writeTemp(temp, body);
        break;
      } catch (err) {
        await unlink(temp).catch(() => {});
        // A concurrent delete removed the (then empty) folder between mkdir and the write: make it again.
        if (isCode(err, "ENOENT") && attempt < 2 && !(await exists(dir))) continue;
        if ("file" in body && (isCode(err, "ENOENT") || isCode(err, "EISDIR") || isCode(err, "EACCES"))) {
          throw new SyncError(
            "SYNC_E_INVALID_ARGUMENT",
            `put ${key}: cannot read the file to upload ${body.file}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        throw this.unavailable(`put ${key}`, err);
      }
    }
    try {
      options.signal?.throwIfAborted();
      return await this.publish(temp, path);
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw this.unavailable(`put ${key}`, err);
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  async delete(key: string, options: BackupCallOptions = {}): Promise<void> {
    const path = this.pathOf(key);
    options.signal?.throwIfAborted();
    try {
      await unlink(path);
    } catch (err) {
      if (isCode(err, "ENOENT") || isCode(err, "ENOTDIR")) return;
      if (isCode(err, "EISDIR") || isCode(err, "EPERM")) {
        // unlink of a directory: EISDIR on Linux, EPERM on macOS. A directory is not an object.
        if (!(await this.isFile(key, path))) return;
      }
      throw this.unavailable(`delete ${key}`, err);
    }
    // Remove the folders the object leaves empty (never the root); a non-empty one stops the walk.
    for (let dir = dirname(path); dir.startsWith(this.root + sep); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
    }
  }

  /** Links the complete temp file to `path` without overwriting; `exists` when `path` is already there. */
  private async publish(temp: string, path: string): Promise<PutResult> {
    try {
      await link(temp, path);
      return "created";
    } catch (err) {
      if (isCode(err, "EEXIST")) return "exists";
      if (
        !(
          isCode(err, "EPERM") ||
          isCode(err, "ENOTSUP") ||
          isCode(err, "EOPNOTSUPP") ||
          isCode(err, "ENOSYS")
        )
      ) {
        throw err;
      }
    }
    // No hard links here (some FUSE and SMB mounts): a racing writer of the same immutable key writes the
    // same bytes, so check-then-rename keeps the contract.
    if (await exists(path)) return "exists";
    await rename(temp, path);
    return "created";
  }

  private pathOf(key: string): string {
    assertBackupKey(key);
    return join(this.root, ...key.split("/"));
  }

  private async isFile(key: string, path: string): Promise<boolean> {
    try {
      return (await stat(path)).isFile();
    } catch (err) {
      if (isCode(err, "ENOENT") || isCode(err, "ENOTDIR")) return false;
      throw this.unavailable(`head ${key}`, err);
    }
  }

  private mapError(key: string, op: string, err: unknown): Error {
    if (err instanceof BackupObjectNotFound) return err;
    if (isCode(err, "ENOENT") || isCode(err, "ENOTDIR") || isCode(err, "EISDIR")) {
      return new BackupObjectNotFound(key, this.location, { cause: err });
    }
    return this.unavailable(`${op} ${key}`, err);
  }

  private unavailable(what: string, err: unknown): SyncError {
    if (err instanceof SyncError) return err;
    return new SyncError(
      "SYNC_E_BACKUP_UNAVAILABLE",
      `${what} at ${this.location} failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

async function writeTemp(temp: string, body: BackupBody): Promise<void> {
  if ("file" in body) await copyFile(body.file, temp, constants.COPYFILE_EXCL);
  const fh = await open(temp, "file" in body ? "r+" : "wx");
  try {
    if ("bytes" in body) await fh.writeFile(body.bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function info(key: string, st: { size: number; mtime: Date }): BackupObjectInfo {
  return { key, size: st.size, modifiedAt: st.mtime.toISOString() };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function isCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}
