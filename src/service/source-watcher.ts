import type { Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { type FSWatcher, watch } from "chokidar";
import { FsMatcher } from "../sources/local-filesystem/fs-matcher.js";
import {
  describeFsError,
  dirPrefix,
  isInside,
  shortPath,
  toKey,
} from "../sources/local-filesystem/fs-paths.js";

/** Why {@link SourceWatcher.start} failed; `rootUnavailable`: a root is missing or unreadable (cheap to retry). */
export class WatchStartError extends Error {
  constructor(
    message: string,
    readonly rootUnavailable: boolean,
  ) {
    super(message);
    this.name = "WatchStartError";
  }
}

/** What a watcher hands over after a quiet spell: changed item keys, or "folders changed: reconcile". */
export type WatchBatch = { kind: "changes"; keys: string[] } | { kind: "folders" };

/** Options of {@link SourceWatcher}. */
export interface SourceWatcherOptions {
  /** The source's roots (folders or single files), absolute. */
  roots: readonly string[];
  /** The source's `file_patterns` and `ignore_patterns` (see `FsMatcher`). */
  patterns?: readonly string[];
  ignore?: readonly string[];
  followSymlinks: boolean;
  /** Quiet time after the last event before a batch is handed over (ms). */
  debounceMs: number;
  /** Longest a batch is held while events keep coming (ms); default 5 × `debounceMs`. */
  maxWaitMs?: number;
  /** A batch of changes; called synchronously from a timer, never twice at once for one watcher. */
  onBatch(batch: WatchBatch): void;
  /**
   * The watcher stopped working and closed itself: an `error` of the file-system watcher (ENOSPC: the inotify
   * limit, EMFILE, …) or a root that disappeared (`rootGone`). `message` starts with `watcher: `. Events
   * still held are dropped: the caller reconciles the source instead.
   */
  onFailure(failure: { message: string; rootGone: boolean }): void;
}

/**
 * Live changes of one `local_filesystem` source, through chokidar 4 (on Linux one inotify watch per folder
 * and one per file: 20,000 files in 200 folders use about 20,200 of `fs.inotify.max_user_watches`).
 *
 * Paths the source does not list are ignored with the source's own rules (`FsMatcher`: hidden names,
 * `node_modules`, `file_patterns`, `ignore_patterns`; symlinks as `followSymlinks` says, a link whose target
 * lies inside a root being skipped). `add`/`change`/`unlink` of a listed file become its key; keys are
 * collected and handed over as one `changes` batch after `debounceMs` of quiet (at most `maxWaitMs` after
 * the first event). A folder added or removed (`addDir`/`unlinkDir`: a folder moved in or out) turns the
 * batch into `folders`, a reconciliation. An event never deletes anything by itself: the partial run
 * confirms with the source that a key is gone.
 *
 * What chokidar 4.0.3 emits when a root folder is removed or moved away (checked on Linux): `unlinkDir` of
 * the root (and of its subfolders) and `unlink` of each file (100 ms later with `atomic`, at once without),
 * no `error`; a root re-created afterwards is not watched again. A root that does not exist when watching
 * starts raises nothing either: chokidar waits for it on the parent folder. So {@link start} refuses missing
 * roots, and an `unlinkDir` (or `unlink` of a file root) of a root is reported as `rootGone`.
 */
export class SourceWatcher {
  private readonly matcher: FsMatcher;
  private watcher: FSWatcher | undefined;
  private rootReals: string[] = [];
  private readonly keys = new Set<string>();
  private folders = false;
  private firstEventAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private isReady = false;
  private lastEvent: string | null = null;
  private abandonStart: (() => void) | undefined;

  constructor(private readonly options: SourceWatcherOptions) {
    this.matcher = new FsMatcher({
      paths: options.roots,
      patterns: options.patterns,
      ignore: options.ignore,
    });
  }

  /** The watcher finished its initial scan and is running. */
  get ready(): boolean {
    return this.isReady && !this.closed;
  }

  /** When the last event that counted arrived (ISO time), or null. */
  get lastEventAt(): string | null {
    return this.lastEvent;
  }

  /**
   * Starts watching; resolves once the initial scan is done (every folder watched), or at once when the
   * watcher is closed meanwhile. Rejects with a {@link WatchStartError} when a root is missing or unreadable,
   * or the watcher fails while starting (then it is closed; {@link SourceWatcherOptions.onFailure} is not
   * called for it).
   */
  async start(): Promise<void> {
    const reals: string[] = [];
    for (const root of this.matcher.roots) {
      try {
        await stat(root);
        reals.push(await realpath(root));
      } catch (err) {
        throw new WatchStartError(
          `watcher: root ${shortPath(toKey(root))} is not readable: ${describeFsError(err)}`,
          true,
        );
      }
    }
    if (this.closed) return;
    this.rootReals = reals;
    const watcher = watch([...this.matcher.roots], {
      ignoreInitial: true,
      followSymlinks: this.options.followSymlinks,
      // Without it an unlink waits 100 ms (in case the file comes back): a rename's unlink would then trail
      // its add, possibly into the next batch.
      atomic: false,
      ignorePermissionErrors: true,
      ignored: (path, stats) => this.ignored(path, stats),
    });
    this.watcher = watcher;
    watcher.on("add", (path) => void this.fileEvent(path, true));
    watcher.on("change", (path) => void this.fileEvent(path, true));
    watcher.on("unlink", (path) => this.removed(path, false));
    watcher.on("addDir", (path) => this.folderEvent(path));
    watcher.on("unlinkDir", (path) => this.removed(path, true));
    await new Promise<void>((resolve, reject) => {
      this.abandonStart = resolve;
      let started = false;
      watcher.on("ready", () => {
        started = true;
        this.abandonStart = undefined;
        this.isReady = true;
        resolve();
      });
      watcher.on("error", (err) => {
        const message = `watcher: ${describeFsError(err)}`;
        if (started) {
          this.fail(message, false);
          return;
        }
        started = true;
        this.abandonStart = undefined;
        reject(new WatchStartError(message, false));
        void this.close();
      });
    });
  }

  /** Stops watching and drops events still held. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.abandonStart?.();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.keys.clear();
    const w = this.watcher;
    this.watcher = undefined;
    await w?.close();
  }

  /** chokidar's filter: name rules for every path, patterns for files (a folder's stats may be missing). */
  private ignored(path: string, stats?: Stats): boolean {
    const key = toKey(path);
    const root = this.matcher.rootOf(key);
    if (root === undefined || key === toKey(root)) return false;
    if (this.matcher.skipsBelowRoot(key, root)) return true;
    if (stats?.isFile()) return !this.matcher.listsFile(key);
    return stats?.isSymbolicLink() === true && !this.options.followSymlinks;
  }

  private async fileEvent(path: string, exists: boolean): Promise<void> {
    const key = toKey(path);
    if (!this.matcher.listsFile(key)) return;
    if (exists && !(await this.listedThroughLinks(key))) return;
    this.note(key);
  }

  /**
   * Whether the file at `key` is reached the way the source's walk reaches it: without a symlink on its way,
   * or through one it follows (`followSymlinks`, target outside every root). A key that vanished meanwhile
   * counts (its run finds out).
   */
  private async listedThroughLinks(key: string): Promise<boolean> {
    const root = this.matcher.rootOf(key);
    if (root === undefined) return false;
    const rootReal = this.rootReals[this.matcher.roots.indexOf(root)];
    let real: string;
    try {
      real = toKey(await realpath(key));
    } catch {
      return true;
    }
    const rel = this.matcher.relative(key, root);
    const expected =
      rootReal === undefined ? undefined : rel === "" ? toKey(rootReal) : dirPrefix(rootReal) + rel;
    if (real === expected) return true;
    return this.options.followSymlinks && !isInside(real, this.rootReals);
  }

  private folderEvent(path: string): void {
    const key = toKey(path);
    const root = this.matcher.rootOf(key);
    if (root === undefined || this.matcher.skipsBelowRoot(key, root)) return;
    this.folders = true;
    this.note(undefined);
  }

  private removed(path: string, isDir: boolean): void {
    const key = toKey(path);
    if (this.matcher.roots.some((r) => toKey(r) === key)) {
      this.fail(`watcher: root ${shortPath(key)} disappeared`, true);
      return;
    }
    if (isDir) this.folderEvent(path);
    else void this.fileEvent(path, false);
  }

  private note(key: string | undefined): void {
    if (this.closed) return;
    const now = Date.now();
    this.lastEvent = new Date(now).toISOString();
    if (key !== undefined) this.keys.add(key);
    if (this.timer === undefined) this.firstEventAt = now;
    clearTimeout(this.timer);
    const maxWait = this.options.maxWaitMs ?? this.options.debounceMs * 5;
    const delay = Math.max(0, Math.min(this.options.debounceMs, this.firstEventAt + maxWait - now));
    this.timer = setTimeout(() => this.flush(), delay);
    this.timer.unref();
  }

  private flush(): void {
    this.timer = undefined;
    if (this.closed) return;
    const batch: WatchBatch = this.folders ? { kind: "folders" } : { kind: "changes", keys: [...this.keys] };
    this.keys.clear();
    this.folders = false;
    if (batch.kind === "changes" && batch.keys.length === 0) return;
    this.options.onBatch(batch);
  }

  private fail(message: string, rootGone: boolean): void {
    if (this.closed) return;
    void this.close();
    this.options.onFailure({ message, rootGone });
  }
}
