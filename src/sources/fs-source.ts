import {
  closeSync,
  type Dirent,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  type Stats,
  statSync,
} from "node:fs";
import { basename, join, relative, resolve, sep } from "node:path";
import picomatch from "picomatch";
import {
  completeListing,
  type FetchedItem,
  type Source,
  type SourceItemRef,
  type SourceListing,
} from "../core/source.js";
import { SyncError } from "../errors/sync-error.js";

/** File patterns used when a source names none. */
export const DEFAULT_PATTERNS: readonly string[] = ["**/*.{txt,md,markdown,html,htm,pdf,docx}"];

/** Options of {@link FsSource}. */
export interface FsSourceOptions {
  /** Source name, unique per user. */
  name: string;
  /** Directories (or single files) to watch. */
  paths: readonly string[];
  /** Globs matched against paths relative to each root; default {@link DEFAULT_PATTERNS}. */
  patterns?: readonly string[];
  /** Files larger than this fail with `SYNC_E_FILE_TOO_LARGE` before they are read. */
  maxFileBytes: number;
  /** Read unit for files (bytes). */
  readChunkBytes: number;
}

/**
 * Local folders as a {@link Source}. Keys are absolute POSIX paths; the fingerprint is size, mtime and inode
 * (no read). Hidden files and folders (dot-names) and `node_modules` are skipped. A root that does not exist
 * or cannot be read fails the whole listing, so an unmounted disk deletes nothing.
 */
export class FsSource implements Source {
  readonly type = "fs";
  readonly name: string;
  private readonly roots: string[];
  private readonly match: (path: string) => boolean;

  constructor(private readonly options: FsSourceOptions) {
    this.name = options.name;
    this.roots = options.paths.map((p) => resolve(p));
    const patterns = options.patterns && options.patterns.length > 0 ? options.patterns : DEFAULT_PATTERNS;
    this.match = picomatch([...patterns], { dot: false, nocase: true });
  }

  async list(): Promise<SourceListing> {
    const out: SourceItemRef[] = [];
    const seen = new Set<string>();
    for (const root of this.roots) {
      let st: Stats;
      try {
        st = statSync(root);
      } catch (err) {
        throw new SyncError("SYNC_E_SOURCE_UNAVAILABLE", `fs: root ${root} is not readable: ${code(err)}`, {
          cause: err,
        });
      }
      if (st.isFile()) {
        this.push(out, seen, root, st);
        continue;
      }
      this.walk(root, root, out, seen);
    }
    return completeListing(out);
  }

  private walk(root: string, dir: string, out: SourceItemRef[], seen: Set<string>): void {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      throw new SyncError("SYNC_E_SOURCE_UNAVAILABLE", `fs: cannot list ${dir}: ${code(err)}`, {
        cause: err,
      });
    }
    for (const e of entries) {
      if (e.name.startsWith(".") || e.name === "node_modules") continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        this.walk(root, full, out, seen);
        continue;
      }
      if (!e.isFile() && !e.isSymbolicLink()) continue;
      const rel = relative(root, full).split(sep).join("/");
      if (!this.match(rel)) continue;
      const st = statSync(full, { throwIfNoEntry: false });
      if (st?.isFile()) this.push(out, seen, full, st);
    }
  }

  private push(out: SourceItemRef[], seen: Set<string>, path: string, st: Stats): void {
    const key = path.split(sep).join("/");
    if (seen.has(key)) return;
    seen.add(key);
    out.push({
      key,
      fingerprint: fingerprintOf(st),
      sizeBytes: Number(st.size),
      modifiedAt: st.mtime.toISOString(),
    });
  }

  async fetch(ref: SourceItemRef, signal?: AbortSignal): Promise<FetchedItem> {
    const fileName = basename(ref.key);
    // Synchronous syscalls: for the small files that make up most corpora they cost microseconds, a
    // fraction of the async round trips. Files larger than one read unit are read in several steps,
    // yielding to the event loop between them.
    let fd: number;
    try {
      fd = openSync(ref.key, "r");
    } catch (err) {
      if (code(err) === "ENOENT")
        throw new SyncError("SYNC_E_ITEM_GONE", `${ref.key}: file vanished before reading`);
      throw new SyncError("SYNC_E_READ_FAILED", `${ref.key}: cannot open: ${code(err)}`, { cause: err });
    }
    try {
      const st = fstatSync(fd);
      if (st.size > this.options.maxFileBytes) {
        throw new SyncError(
          "SYNC_E_FILE_TOO_LARGE",
          `${ref.key}: ${mb(st.size)} MB exceeds the ${mb(this.options.maxFileBytes)} MB limit (MAX_FILE_SIZE_MB)`,
        );
      }
      const bytes = Buffer.allocUnsafe(st.size);
      let offset = 0;
      while (offset < st.size) {
        if (offset > 0) await new Promise((r) => setImmediate(r));
        signal?.throwIfAborted();
        const length = Math.min(this.options.readChunkBytes, st.size - offset);
        const bytesRead = readSync(fd, bytes, offset, length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
      }
      return { bytes: bytes.subarray(0, offset), fileName, fingerprint: fingerprintOf(st) };
    } catch (err) {
      if (err instanceof SyncError || signal?.aborted) throw err;
      throw new SyncError("SYNC_E_READ_FAILED", `${ref.key}: read failed: ${code(err)}`, { cause: err });
    } finally {
      closeSync(fd);
    }
  }
}

function fingerprintOf(st: {
  size: number | bigint;
  mtimeMs: number | bigint;
  ino: number | bigint;
}): string {
  return `${st.size}:${Math.round(Number(st.mtimeMs) * 1000)}:${st.ino}`;
}

function code(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}

function mb(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}
