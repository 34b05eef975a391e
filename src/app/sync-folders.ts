import { createHash } from "node:crypto";
import { resolve } from "node:path";
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
  /** Source name; default derived from the paths (`fs-` + 8 hex chars), so the same folders keep one name. */
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

/** Registers (or updates) a local-folder source for a user and runs one incremental sync of it. */
export async function syncFolders(ctx: AppContext, options: SyncFoldersOptions): Promise<SyncFoldersResult> {
  const userId = validateId("user id", options.userId);
  let paths = (options.paths ?? []).map((p) => resolve(p));
  let patterns = options.patterns ?? [];
  let name = options.sourceName;
  if (name !== undefined) validateId("source name", name);
  const known = name === undefined ? undefined : ctx.journal.getSource(userId, name);
  if (paths.length === 0) {
    if (!known) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        name === undefined
          ? "give at least one path to sync"
          : `source "${name}" of user "${userId}" is not registered; give the paths to sync`,
      );
    }
    paths = (known.config.paths as string[]) ?? [];
    if (patterns.length === 0) patterns = (known.config.patterns as string[]) ?? [];
  }
  name ??= `fs-${createHash("sha256")
    .update([...paths].sort().join("\0"))
    .digest("hex")
    .slice(0, 8)}`;
  await ctx.checkEmbedder();
  const followSymlinks =
    options.followSymlinks ?? (known?.config.followSymlinks as boolean | undefined) ?? false;
  ctx.journal.upsertSource({ userId, name, type: "fs", config: { paths, patterns, followSymlinks } });
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
