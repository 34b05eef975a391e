import { isUtf8 } from "node:buffer";
import { type Dirent, lstatSync, readdirSync, realpathSync, type Stats, statSync } from "node:fs";
import type { SourceItemRef, SourceListing } from "../core/source.js";
import { SyncError } from "../errors/sync-error.js";
import {
  childPath,
  describeFsError,
  dirPrefix,
  errnoOf,
  escapeName,
  fsCause,
  isInside,
  shortPath,
  toKey,
} from "./fs-paths.js";

/** Directories read between two yields to the event loop (where a listing also checks its abort signal). */
export const LIST_YIELD_EVERY_DIRS = 32;

/** What a {@link FsWalker} needs to know about its source. */
export interface FsWalkOptions {
  /** Resolved (realpath) roots: a symlink whose target lies inside one of them is skipped. */
  rootReals: readonly string[];
  /** Follow symlinks whose target lies outside every root. */
  followSymlinks: boolean;
  /** Pattern test on a path relative to its root, with `/` separators. */
  match: (relPath: string) => boolean;
  /** File-system fingerprint of a stat result. */
  fingerprint: (st: Stats) => string;
}

const DOT = 0x2e;

/**
 * One listing of local folders, built root by root with {@link walkRoot} and read with {@link listing}.
 * Synchronous file-system calls on purpose: a listing makes one or two per entry, and the async versions
 * cost a thread-pool round trip each (several times slower on a 20,000-file rescan). The walk yields to
 * the event loop every {@link LIST_YIELD_EVERY_DIRS} directories instead.
 */
export class FsWalker {
  private readonly items: SourceItemRef[] = [];
  private readonly warnings: string[] = [];
  private readonly incomplete = new Set<string>();
  private readonly emptyRoots: string[] = [];
  private readonly seen = new Set<string>();
  private readonly visitedLinkTargets = new Set<string>();
  private found = 0;
  private dirsRead = 0;
  private root = "";
  private relStart = 0;
  private stack: string[] = [];

  constructor(private readonly options: FsWalkOptions) {}

  /** The listing so far. */
  listing(): SourceListing {
    return {
      items: this.items,
      warnings: this.warnings,
      incompletePrefixes: [...this.incomplete],
      emptyRoots: this.emptyRoots,
    };
  }

  /** Lists a root given as a regular file: the file itself, whatever the patterns say. */
  addFileRoot(root: string, st: Stats): void {
    this.push(root, st);
  }

  /**
   * Lists everything below the directory `root` (absolute, as the user gave it). Throws
   * `SYNC_E_SOURCE_UNAVAILABLE` when the root itself cannot be read; anything below it that cannot be read
   * becomes a warning and an incomplete prefix.
   */
  async walkRoot(root: string, signal?: AbortSignal): Promise<void> {
    this.root = root;
    this.relStart = dirPrefix(root).length;
    const before = this.found;
    this.stack = [root];
    while (this.stack.length > 0) {
      const dir = this.stack.pop() as string;
      this.readDir(dir);
      if (++this.dirsRead % LIST_YIELD_EVERY_DIRS === 0) {
        await new Promise((r) => setImmediate(r));
        signal?.throwIfAborted();
      }
    }
    if (this.found === before) this.emptyRoots.push(dirPrefix(root));
  }

  private readDir(dir: string): void {
    let entries: Dirent<Buffer>[];
    try {
      entries = readdirSync(dir, { withFileTypes: true, encoding: "buffer" });
    } catch (err) {
      if (dir === this.root) {
        throw new SyncError(
          "SYNC_E_SOURCE_UNAVAILABLE",
          `fs: cannot list root ${shortPath(toKey(dir))}: ${describeFsError(err)}`,
          { cause: fsCause(err) },
        );
      }
      this.skipIncomplete(
        dirPrefix(dir),
        `cannot list folder ${shortPath(toKey(dir))}: ${describeFsError(err)}`,
      );
      return;
    }
    for (const e of entries) {
      const raw = e.name;
      if (raw[0] === DOT) continue;
      const name = raw.toString("utf8");
      if (name.includes("\uFFFD") && !isUtf8(raw)) {
        this.warn(`skipped ${shortPath(dirPrefix(dir) + escapeName(raw))}: the name is not valid UTF-8`);
        continue;
      }
      if (name === "node_modules") continue;
      const full = childPath(dir, name);
      if (e.isDirectory()) this.stack.push(full);
      else if (e.isFile()) this.file(full);
      else if (e.isSymbolicLink()) this.symlink(full);
      else if (!(e.isFIFO() || e.isSocket() || e.isBlockDevice() || e.isCharacterDevice()))
        this.unknown(full);
    }
  }

  /** An entry whose type the directory did not report (some file systems): lstat tells. */
  private unknown(full: string): void {
    const st = this.lstat(full);
    if (st?.isDirectory()) this.stack.push(full);
    else if (st?.isFile()) this.file(full, st);
    else if (st?.isSymbolicLink()) this.symlink(full);
  }

  private file(full: string, known?: Stats): void {
    if (!this.options.match(this.rel(full))) return;
    // lstat, not stat: a file swapped for a symlink since readdir must not be followed blindly.
    const st = known ?? this.lstat(full);
    if (st?.isFile()) this.push(full, st);
    else if (st?.isSymbolicLink()) this.symlink(full);
  }

  private symlink(full: string): void {
    const key = toKey(full);
    const shown = shortPath(key);
    let real: string;
    let st: Stats;
    try {
      real = realpathSync.native(full);
      st = statSync(real);
    } catch (err) {
      const code = errnoOf(err);
      if (code === "ENOENT" || code === "ENOTDIR") this.warn(`skipped dangling symlink ${shown}`);
      else this.skipIncomplete([key, `${key}/`], `skipped symlink ${shown}: ${describeFsError(err)}`);
      return;
    }
    if (isInside(real, this.options.rootReals)) return;
    if (st.isFile()) {
      if (!this.options.match(this.rel(full))) return;
      if (this.options.followSymlinks) this.push(full, st);
      else
        this.warn(
          `skipped symlink ${shown} -> ${shortPath(toKey(real))}: target outside the roots (followSymlinks is off)`,
        );
    } else if (st.isDirectory()) {
      if (!this.options.followSymlinks) {
        this.warn(
          `skipped symlink ${shown} -> ${shortPath(toKey(real))}: target outside the roots (followSymlinks is off)`,
        );
      } else if (this.visitedLinkTargets.has(real)) {
        this.skipIncomplete(
          `${key}/`,
          `skipped symlink ${shown} -> ${shortPath(toKey(real))}: folder already walked (symlink loop or second link)`,
        );
      } else {
        this.visitedLinkTargets.add(real);
        this.stack.push(full);
      }
    }
  }

  private lstat(full: string): Stats | undefined {
    try {
      return lstatSync(full, { throwIfNoEntry: false });
    } catch (err) {
      this.skipIncomplete(toKey(full), `cannot stat ${shortPath(toKey(full))}: ${describeFsError(err)}`);
      return undefined;
    }
  }

  private push(path: string, st: Stats): void {
    this.found++;
    const key = toKey(path);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push({
      key,
      fingerprint: this.options.fingerprint(st),
      sizeBytes: st.size,
      modifiedAt: st.mtime.toISOString(),
    });
  }

  private rel(full: string): string {
    return toKey(full.slice(this.relStart));
  }

  private warn(message: string): void {
    this.warnings.push(`fs: ${message}`);
  }

  private skipIncomplete(prefixes: string | string[], message: string): void {
    for (const p of typeof prefixes === "string" ? [prefixes] : prefixes) this.incomplete.add(p);
    this.warn(message);
  }
}
