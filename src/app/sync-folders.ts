import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import { resolve, sep } from "node:path";
import type { SourceRecord } from "../core/journal.js";
import { type Exclusive, runSync, type SyncOptions, type SyncResult } from "../core/run-sync.js";
import { SyncError } from "../errors/sync-error.js";
import { FsSource } from "../sources/fs-source.js";
import { validateId } from "../storage/filter.js";
import { acquireLock, runLockName } from "../storage/lease-lock.js";
import type { AppContext } from "./app-context.js";
import { crashHook } from "./crash-hook.js";

/** Options of {@link syncFolders}. */
export interface SyncFoldersOptions {
  userId: string;
  /**
   * Source name. Default: the user's source whose roots are the given paths (compared after `realpath`, so a
   * symlink or `..` spelling finds it), else a new one named from the canonical paths (`fs-` + 8 hex chars).
   */
  sourceName?: string;
  /** Folders or files; may be omitted when `sourceName` names a source registered earlier. */
  paths?: readonly string[];
  /** Globs relative to each root; default: every supported type. */
  patterns?: readonly string[];
  allowMassDelete?: boolean;
  /** A root that lists nothing really is empty: its documents may be deleted (see `SyncOptions`). */
  allowEmptyRoots?: boolean;
  /** Follow symlinks that lead outside the roots (default: as recorded for the source, else false). */
  followSymlinks?: boolean;
  signal?: AbortSignal;
  onProgress?: SyncOptions["onProgress"];
  onStep?: SyncOptions["onStep"];
}

/** {@link SyncResult} plus the source it ran on. */
export interface SyncFoldersResult extends SyncResult {
  source: string;
}

/**
 * Registers (or updates) a local-folder source for a user and runs one incremental sync of it.
 *
 * Roots are canonicalised with `realpath` (a root that does not exist yet is only made absolute), so item keys
 * of a new source are canonical paths. A source recorded with other spellings of the same roots (by an older
 * version, or through a symlink) keeps its recorded paths, hence its keys: nothing moves or is re-embedded.
 * A new source, or new roots for a known one, whose roots overlap those of another source of the same user
 * (the same folder, or one inside the other) is refused with `SYNC_E_INVALID_ARGUMENT` naming that source and
 * both roots: the same files would be indexed twice.
 */
export async function syncFolders(ctx: AppContext, options: SyncFoldersOptions): Promise<SyncFoldersResult> {
  const userId = validateId("user id", options.userId);
  let paths = (options.paths ?? []).map((p) => canonicalRoot(p));
  let patterns = options.patterns ?? [];
  let name = options.sourceName;
  if (name !== undefined) validateId("source name", name);
  const others = ctx.journal.listSources(userId).filter((s) => s.type === "local_filesystem");
  let known = name === undefined ? undefined : ctx.journal.getSource(userId, name);
  if (known === undefined && name === undefined && paths.length > 0) {
    // `sync <paths>` without --source: the source whose roots are these (however they are spelled).
    known = others.find((s) => sameRoots(recordedPaths(s).map(canonicalRoot), paths));
    name = known?.name;
  }
  let rootsChanged = known === undefined;
  if (paths.length === 0) {
    if (!known) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        name === undefined
          ? "give at least one path to sync"
          : `source "${name}" of user "${userId}" is not registered; give the paths to sync`,
      );
    }
    paths = recordedPaths(known);
    if (patterns.length === 0) patterns = (known.config.patterns as string[]) ?? [];
  } else if (known) {
    // The recorded spelling is kept while it names the same roots, so the source's keys never move.
    const recorded = recordedPaths(known);
    if (sameRoots(recorded.map(canonicalRoot), paths)) paths = recorded;
    else rootsChanged = true;
  }
  name ??= `fs-${createHash("sha256")
    .update([...paths].sort().join("\0"))
    .digest("hex")
    .slice(0, 8)}`;
  if (rootsChanged) refuseOverlap(userId, name, paths, others);
  await ctx.checkEmbedder();
  const followSymlinks =
    options.followSymlinks ?? (known?.config.followSymlinks as boolean | undefined) ?? false;
  ctx.journal.upsertSource({
    userId,
    name,
    type: "local_filesystem",
    config: { paths, patterns, followSymlinks },
  });
  const { config } = ctx;
  const source = new FsSource({
    name,
    paths,
    patterns,
    followSymlinks,
    maxFileBytes: config.maxFileBytes,
    readChunkBytes: config.readChunkBytes,
  });
  const lease = {
    leaseMs: config.lockLeaseSeconds * 1000,
    waitMs: 0,
    busyCode: "SYNC_E_SOURCE_BUSY" as const,
    purpose: `sync of ${userId}/${name}`,
  };
  // One run per source at a time: two overlapping runs could each write a document the other also writes.
  const runLock = await acquireLock(ctx.journal, runLockName(userId, name), lease);
  try {
    ctx.journal.abandonRuns(userId, name);
    const { epoch, drift } = await ctx.checkStore();
    const signal = options.signal ? AbortSignal.any([options.signal, runLock.signal]) : runLock.signal;
    const exclusive: Exclusive = (fn) =>
      ctx.withWriterLock(
        lease.purpose,
        async () => {
          if (ctx.journal.storeEpoch() !== epoch) {
            throw new SyncError(
              "SYNC_E_STORE_CHANGED",
              `the store was reset or replaced while source "${name}" was syncing; nothing of this batch was ` +
                "written: run the sync again",
            );
          }
          return fn();
        },
        signal,
      );
    const deps = {
      journal: ctx.journal,
      openStore: () => ctx.openStore(),
      embedder: await ctx.embedder(),
      process: ctx.process,
      logger: ctx.logger,
      exclusive,
    };
    const result = await runSync(deps, {
      userId,
      source,
      writeBatchDocs: config.writeBatchDocs,
      writeBatchChunks: config.writeBatchChunks,
      concurrency: config.maxConcurrentProcessing,
      massDeleteThreshold: config.massDeleteThreshold,
      allowMassDelete: options.allowMassDelete,
      allowEmptyRoots: options.allowEmptyRoots,
      maxRetryAttempts: config.maxRetryAttempts,
      storeEpoch: epoch,
      embeddingCacheScope: config.embeddingCacheScope,
      signal,
      onProgress: options.onProgress,
      onStep: chainSteps(options.onStep, crashHook(config)),
    });
    if (drift) result.warnings.unshift(`store ${drift.state}: ${drift.detail}`);
    const wrote = result.added + result.updated + result.moved + result.deleted + result.repaired > 0;
    if (wrote || drift) await ctx.recordStore();
    return { source: name, ...result };
  } finally {
    runLock.release();
  }
}

function chainSteps(...hooks: Array<SyncOptions["onStep"] | undefined>): SyncOptions["onStep"] | undefined {
  const set = hooks.filter((h) => h !== undefined);
  if (set.length === 0) return undefined;
  return (step, batch) => {
    for (const h of set) h(step, batch);
  };
}

/** `path` made absolute and resolved through symlinks; only made absolute when it cannot be resolved (missing). */
function canonicalRoot(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync.native(abs);
  } catch {
    return abs;
  }
}

function recordedPaths(source: SourceRecord): string[] {
  const paths = source.config.paths;
  return Array.isArray(paths) ? paths.filter((p): p is string => typeof p === "string") : [];
}

function sameRoots(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((p) => y.has(p));
}

/** Whether `inner` is `outer` or lies below it (both canonical). */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}

/** Throws `SYNC_E_INVALID_ARGUMENT` when a root of `paths` overlaps a root of another source of the user. */
function refuseOverlap(userId: string, name: string, paths: readonly string[], others: SourceRecord[]): void {
  for (const other of others) {
    if (other.name === name) continue;
    for (const theirs of recordedPaths(other)) {
      const canonical = canonicalRoot(theirs);
      for (const mine of paths) {
        if (!within(mine, canonical) && !within(canonical, mine)) continue;
        const how =
          mine === canonical ? "is the same folder as" : within(mine, canonical) ? "lies inside" : "contains";
        throw new SyncError(
          "SYNC_E_INVALID_ARGUMENT",
          `root ${mine} ${how} root ${theirs} of source "${other.name}" of user "${userId}": its files would be ` +
            `indexed twice; sync that source (--source ${other.name}), or give roots that do not overlap`,
        );
      }
    }
  }
}
