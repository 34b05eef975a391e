import fs, { constants, type Stats } from "node:fs";
import { lstat, realpath, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { FetchedItem, Source, SourceItemRef, SourceListing } from "../../core/source.js";
import { SyncError } from "../../errors/sync-error.js";
import { FsMatcher } from "./fs-matcher.js";
import { describeFsError, dirPrefix, errnoOf, fsCause, isInside, shortPath, toKey } from "./fs-paths.js";
import { FsWalker } from "./fs-walk.js";

/** Most `lstat` calls of {@link FsSource.confirmGone} in flight at once. */
const CONFIRM_PARALLEL = 32;

export { DEFAULT_PATTERNS } from "./fs-matcher.js";

/** Options of {@link FsSource}. */
export interface FsSourceOptions {
  /** Source name, unique per user. */
  name: string;
  /** Directories (or single files) to watch. */
  paths: readonly string[];
  /** Globs of files to skip, matched like `patterns` (a match wins over `patterns`). */
  ignore?: readonly string[];
  /** Globs matched against paths relative to each root; default {@link DEFAULT_PATTERNS}. */
  patterns?: readonly string[];
  /** Files larger than this fail with `SYNC_E_FILE_TOO_LARGE` before they are read. */
  maxFileBytes: number;
  /** Read unit for files (bytes). */
  readChunkBytes: number;
  /** Follow symlinks whose target lies outside every root (default false: skipped with a warning). */
  followSymlinks?: boolean;
}

/**
 * Local folders as a {@link Source}. Keys are absolute POSIX paths under the roots as given (made absolute,
 * not resolved); the fingerprint is `size:mtime µs:ctime µs:inode` (no read). Hidden files and folders
 * (dot-names) and `node_modules` are skipped, and so are names that are not valid UTF-8 (with a warning).
 *
 * Symlinks: roots are resolved with `realpath` for an inside/outside test only.
 * - A symlink (to a file or a folder) whose target lies inside a root is skipped: the target is listed
 *   under its own path, and the same file must not be indexed twice.
 * - A symlink whose target lies outside every root is followed only with `followSymlinks`; otherwise it is
 *   skipped with a warning (a `notes.txt` pointing at `~/.ssh/id_rsa` is never read by default). A followed
 *   folder is walked once: a second link to it (or a loop back to it) is skipped with a warning.
 * - A dangling symlink is skipped with a warning.
 *
 * `list` throws `SYNC_E_SOURCE_UNAVAILABLE` only when a root is missing or unreadable, so an unmounted disk
 * deletes nothing. Below a root, an unreadable or vanished folder, a symlink loop or an unresolvable link is
 * a warning plus an incomplete prefix (`<folder>/`; for a link both `<link>` and `<link>/`, as it is not
 * known whether it was a file or a folder). A directory root with no item is reported in `emptyRoots` as
 * `<root>/`. `fetch` opens without blocking, refuses anything but a regular file
 * (`SYNC_E_UNSUPPORTED_TYPE`), and without `followSymlinks` refuses a path that now resolves through a
 * symlink outside the roots (`SYNC_E_ITEM_GONE`: the next listing decides).
 */
export class FsSource implements Source {
  readonly type = "local_filesystem";
  readonly name: string;
  private readonly roots: readonly string[];
  private readonly match: (path: string) => boolean;
  private readonly matcher: FsMatcher;
  private readonly followSymlinks: boolean;
  private rootReals: string[] | undefined;

  constructor(private readonly options: FsSourceOptions) {
    this.name = options.name;
    this.matcher = new FsMatcher(options);
    this.roots = this.matcher.roots;
    this.match = this.matcher.matchRelative;
    this.followSymlinks = options.followSymlinks ?? false;
  }

  async list(signal?: AbortSignal): Promise<SourceListing> {
    signal?.throwIfAborted();
    const settled = await Promise.allSettled(
      this.roots.map(async (root) => ({ root, st: await stat(root), real: await realpath(root) })),
    );
    const broken = settled.flatMap((r, i) =>
      r.status === "rejected" ? [{ root: this.roots[i] as string, err: r.reason as unknown }] : [],
    );
    if (broken.length > 0) {
      // Every root that is missing or unreadable is named, not only the first.
      throw new SyncError(
        "SYNC_E_SOURCE_UNAVAILABLE",
        broken.map(({ root, err }) => `fs: root ${shortPath(toKey(root))} ${rootProblem(err)}`).join("; "),
        { cause: fsCause(broken[0]?.err) },
      );
    }
    const stats = settled.map(
      (r) => (r as PromiseFulfilledResult<{ root: string; st: Stats; real: string }>).value,
    );
    signal?.throwIfAborted();
    this.rootReals = stats.map((s) => s.real);
    const walker = new FsWalker({
      rootReals: this.rootReals,
      followSymlinks: this.followSymlinks,
      match: this.match,
      fingerprint: fingerprintOf,
    });
    for (const { root, st } of stats) {
      if (st.isFile()) walker.addFileRoot(root, st);
      else if (st.isDirectory()) await walker.walkRoot(root, signal);
      else {
        throw new SyncError(
          "SYNC_E_SOURCE_UNAVAILABLE",
          `fs: root ${shortPath(toKey(root))} is neither a folder nor a regular file (${kindOf(st)})`,
        );
      }
    }
    return walker.listing();
  }

  async fetch(ref: SourceItemRef, signal?: AbortSignal): Promise<FetchedItem> {
    const path = ref.key;
    const fileName = basename(path);
    const shown = shortPath(path);
    const guarded = !this.followSymlinks && !this.roots.includes(path);
    // O_NONBLOCK: opening a FIFO swapped in since the listing must not wait for a writer. Files larger than
    // one read unit are read in several steps, checking the signal between them. The callback API: a fetch
    // makes four to six calls, each a thread-pool round trip, and FileHandle's promises cost about twice
    // as much CPU per call.
    let fd: number;
    try {
      const flags = constants.O_RDONLY | constants.O_NONBLOCK | (guarded ? constants.O_NOFOLLOW : 0);
      fd = await fsCall<number>((cb) => fs.open(path, flags, cb));
    } catch (err) {
      throw openError(shown, err, guarded);
    }
    try {
      // Resolved alongside the fstat (never rejects: its error is part of the result).
      const resolved = guarded ? resolveReal(path) : undefined;
      const st = await fsCall<Stats>((cb) => fs.fstat(fd, cb));
      if (!st.isFile()) {
        throw new SyncError("SYNC_E_UNSUPPORTED_TYPE", `${shown}: not a regular file (${kindOf(st)})`);
      }
      if (resolved !== undefined) await this.checkInsideRoots(path, st, await resolved);
      if (st.size > this.options.maxFileBytes) {
        throw new SyncError(
          "SYNC_E_FILE_TOO_LARGE",
          `${shown}: ${mb(st.size)} MB exceeds the ${mb(this.options.maxFileBytes)} MB limit (MAX_FILE_SIZE_MB)`,
        );
      }
      const bytes = Buffer.allocUnsafe(st.size);
      let offset = 0;
      while (offset < st.size) {
        signal?.throwIfAborted();
        const length = Math.min(this.options.readChunkBytes, st.size - offset);
        const bytesRead = await fsCall<number>((cb) => fs.read(fd, bytes, offset, length, offset, cb));
        if (bytesRead === 0) break;
        offset += bytesRead;
      }
      return {
        bytes: bytes.subarray(0, offset),
        fileName,
        displayName: this.displayName(path),
        fingerprint: fingerprintOf(st),
      };
    } catch (err) {
      if (err instanceof SyncError || signal?.aborted) throw err;
      throw new SyncError("SYNC_E_READ_FAILED", `${shown}: read failed: ${describeFsError(err)}`, {
        cause: fsCause(err),
      });
    } finally {
      await fsCall<void>((cb) => fs.close(fd, cb)).catch(() => undefined);
    }
  }

  /**
   * See {@link Source.confirmGone}. A key is gone from this source when its root is there (an unmounted disk
   * confirms nothing) and either `lstat` finds nothing at it (ENOENT, or ENOTDIR: a folder on the way is now a
   * file), or what is there is no longer a file this source indexes: a folder or a special file, a symlink it
   * does not follow, a path under a hidden folder or `node_modules`, or one its patterns no longer match (or
   * its ignore patterns now do). A key under no root is gone too. Any other answer (permission denied, an
   * I/O error, a file that matches) keeps it.
   */
  async confirmGone(keys: readonly string[], signal?: AbortSignal): Promise<Set<string>> {
    signal?.throwIfAborted();
    const rootUp = new Map<string, boolean>();
    await Promise.all(
      this.roots.map(async (root) => {
        rootUp.set(
          root,
          await stat(root).then(
            () => true,
            () => false,
          ),
        );
      }),
    );
    const gone = new Set<string>();
    for (let i = 0; i < keys.length; i += CONFIRM_PARALLEL) {
      signal?.throwIfAborted();
      const part = keys.slice(i, i + CONFIRM_PARALLEL);
      const found = await Promise.all(part.map((key) => this.isGone(key, rootUp)));
      for (const [j, key] of part.entries()) if (found[j]) gone.add(key);
    }
    return gone;
  }

  private async isGone(key: string, rootUp: ReadonlyMap<string, boolean>): Promise<boolean> {
    const root = this.matcher.rootOf(key);
    if (root === undefined) return true;
    if (!rootUp.get(root)) return false;
    let st: Stats;
    try {
      st = await lstat(key);
    } catch (err) {
      const code = errnoOf(err);
      return code === "ENOENT" || code === "ENOTDIR";
    }
    if (key === toKey(root)) return !st.isFile();
    if (st.isSymbolicLink()) return !this.followSymlinks;
    if (!st.isFile()) return true;
    return !this.matcher.listsFile(key);
  }

  /**
   * How messages name the file at `path`: relative to the folder holding its root, so that the root's own
   * name comes first (`notes/2024/bad.docx`; a root given as a file: its name), cut in the middle when long.
   * Two files of the same name in different folders, or under two roots, are told apart.
   */
  displayName(path: string): string {
    let best: string | undefined;
    for (const root of this.roots) {
      const key = toKey(root);
      if (
        (path === key || path.startsWith(dirPrefix(root))) &&
        (best === undefined || key.length > best.length)
      )
        best = key;
    }
    if (best === undefined) return shortPath(path);
    const parent = dirPrefix(dirname(best));
    return shortPath(path.startsWith(parent) ? path.slice(parent.length) : path);
  }

  /**
   * O_NOFOLLOW guards only the last path component; a folder on the way may have been swapped for a
   * symlink since the listing. The opened file must be the one the resolved path names, inside a root.
   */
  private async checkInsideRoots(
    path: string,
    opened: Stats,
    resolved: { real: string } | { error: unknown },
  ): Promise<void> {
    const shown = shortPath(path);
    let real: string;
    let st: Stats;
    try {
      if ("error" in resolved) throw resolved.error;
      real = resolved.real;
      st = await fsCall<Stats>((cb) => fs.stat(real, cb));
    } catch (err) {
      throw new SyncError("SYNC_E_ITEM_GONE", `${shown}: changed while opening: ${describeFsError(err)}`);
    }
    if (!isInside(real, await this.resolvedRoots())) {
      throw new SyncError(
        "SYNC_E_ITEM_GONE",
        `${shown}: now resolves to ${shortPath(toKey(real))}, outside the roots (followSymlinks is off)`,
      );
    }
    if (st.ino !== opened.ino || st.dev !== opened.dev) {
      throw new SyncError("SYNC_E_ITEM_GONE", `${shown}: replaced while opening`);
    }
  }

  private async resolvedRoots(): Promise<string[]> {
    if (this.rootReals === undefined) {
      const reals = await Promise.all(this.roots.map((root) => realpath(root).catch(() => undefined)));
      this.rootReals = reals.filter((r) => r !== undefined);
    }
    return this.rootReals;
  }
}

/** Runs a callback-style `fs` call as a promise. */
function fsCall<T>(run: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));
}

/** The real path of `path`, or the error resolving it; never rejects. */
function resolveReal(path: string): Promise<{ real: string } | { error: unknown }> {
  return new Promise((resolve) =>
    fs.realpath.native(path, (error, real) => resolve(error ? { error } : { real })),
  );
}

/** The error for a failed `open`; `path` as shown in messages. */
function openError(path: string, err: unknown, guarded: boolean): SyncError {
  switch (errnoOf(err)) {
    case "ENOENT":
    case "ENOTDIR":
      return new SyncError("SYNC_E_ITEM_GONE", `${path}: file vanished before reading`);
    case "ELOOP":
      return new SyncError(
        "SYNC_E_ITEM_GONE",
        guarded
          ? `${path}: replaced by a symlink since the listing (followSymlinks is off)`
          : `${path}: symlink loop`,
      );
    case "ENXIO":
      return new SyncError("SYNC_E_UNSUPPORTED_TYPE", `${path}: not a regular file (socket or device)`);
    default:
      return new SyncError("SYNC_E_READ_FAILED", `${path}: cannot open: ${describeFsError(err)}`, {
        cause: fsCause(err),
      });
  }
}

/**
 * The fingerprint this source lists a file under: `size:mtime µs:ctime µs:inode` (ctime catches edits that
 * restore the old mtime: git's racily-clean rule). `migrate --root` records it so the next sync reads nothing.
 */
export function fingerprintOf(st: Stats): string {
  return `${st.size}:${Math.round(st.mtimeMs * 1000)}:${Math.round(st.ctimeMs * 1000)}:${st.ino}`;
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return "fifo";
  if (st.isCharacterDevice()) return "character device";
  if (st.isBlockDevice()) return "block device";
  if (st.isSocket()) return "socket";
  if (st.isDirectory()) return "directory";
  if (st.isSymbolicLink()) return "symlink";
  return "unknown type";
}

function mb(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

/** What is wrong with a root that could not be opened (the errno said once: the cause does not repeat it). */
function rootProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return `${code === "ENOENT" ? "is missing" : "is not readable"}: ${describeFsError(err)}`;
}
