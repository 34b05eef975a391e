import { type ApplyChangesOptions, applyChanges } from "../core/apply-changes.js";
import type { SourceRecord } from "../core/journal.js";
import { type Exclusive, runSync, type SyncOptions, type SyncResult } from "../core/run-sync.js";
import type { Gate } from "../core/semaphore.js";
import type { Source, SourceChanges } from "../core/source.js";
import { describeError, SyncError } from "../errors/sync-error.js";
import { acquireLock, runLockName } from "../storage/lease-lock.js";
import type { AppContext } from "./app-context.js";
import { crashHook } from "./crash-hook.js";

/** Options of {@link runSource}. */
export interface RunSourceOptions {
  /** Given: a partial run over these keys only; absent: a full run (the reconciliation). */
  keys?: readonly string[];
  allowMassDelete?: boolean;
  /** A root that lists nothing really is empty: its documents may be deleted (see `SyncOptions`). */
  allowEmptyRoots?: boolean;
  /** Scheduled runs retry failed items only after their backoff; explicit runs retry them at once. */
  scheduled?: boolean;
  /**
   * A poll: a source that can list its changes since its stored cursor (`Source.listChanges`) gets a partial
   * run over them instead of a full listing; other sources, or one without a cursor yet, get a full run.
   */
  incremental?: boolean;
  /** How long to wait for another process's run of the same source (default 0: `SYNC_E_SOURCE_BUSY` at once). */
  leaseWaitMs?: number;
  /** The process-wide processing limit (`MAX_CONCURRENT_PROCESSING` across runs). */
  gate?: Gate;
  signal?: AbortSignal;
  onProgress?: SyncOptions["onProgress"];
  onStep?: SyncOptions["onStep"];
}

/** {@link SyncResult} plus the source it ran on and what kind of run it was. */
export interface SourceRunResult extends SyncResult {
  source: string;
  source_type: string;
  kind: "full" | "changes";
}

/**
 * Runs one full or partial sync of a registered source, the way every caller (CLI, library, service) does:
 * one run per source at a time across processes (its run lease), the store checked against the journal
 * first (a missing, replaced or behind store is repaired), every batch under the store's writer lock and
 * refused when the store was reset or replaced meanwhile (`SYNC_E_STORE_CHANGED`), the store binding
 * recorded after a run that wrote, and the run history pruned to `RUN_HISTORY_KEEP` per source.
 */
export async function runSource(
  ctx: AppContext,
  record: SourceRecord,
  source: Source,
  options: RunSourceOptions = {},
): Promise<SourceRunResult> {
  const { config, journal } = ctx;
  const { userId, name } = record;
  const lease = {
    leaseMs: config.lockLeaseSeconds * 1000,
    waitMs: options.leaseWaitMs ?? 0,
    busyCode: "SYNC_E_SOURCE_BUSY" as const,
    purpose: `sync of ${userId}/${name}`,
    signal: options.signal,
  };
  // One run per source at a time: two overlapping runs could each write a document the other also writes.
  const runLock = await acquireLock(journal, runLockName(userId, name), lease);
  try {
    journal.abandonRuns(userId, name);
    const { epoch, drift } = await ctx.checkStore();
    const signal = options.signal ? AbortSignal.any([options.signal, runLock.signal]) : runLock.signal;
    const exclusive: Exclusive = (fn) =>
      ctx.withWriterLock(
        lease.purpose,
        async () => {
          if (journal.storeEpoch() !== epoch) {
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
      journal,
      openStore: () => ctx.openStore(),
      embedder: await ctx.embedder(),
      process: ctx.process,
      logger: ctx.logger,
      exclusive,
    };
    const common = {
      userId,
      source,
      writeBatchDocs: config.writeBatchDocs,
      writeBatchChunks: config.writeBatchChunks,
      concurrency: config.maxConcurrentProcessing,
      massDeleteThreshold: config.massDeleteThreshold,
      allowMassDelete: options.allowMassDelete,
      embeddingCacheScope: config.embeddingCacheScope,
      gate: options.gate,
      signal,
      onProgress: options.onProgress,
      onStep: chainSteps(options.onStep, crashHook(config)),
    };
    let result: SyncResult;
    let keys = options.keys;
    let nextState: Record<string, unknown> | undefined;
    if (!keys && options.incremental && source.listChanges) {
      const changes = await listChanges(ctx, record, source, signal);
      if (changes) {
        keys = changes.keys;
        nextState = changes.state;
      }
    }
    if (keys) {
      const partial: ApplyChangesOptions = { ...common, keys };
      result = await applyChanges(deps, partial);
      if (nextState) journal.setSourceState(userId, name, nextState);
    } else {
      result = await runSync(deps, {
        ...common,
        allowEmptyRoots: options.allowEmptyRoots,
        maxRetryAttempts: config.maxRetryAttempts,
        retryBackoff: options.scheduled
          ? { baseMs: config.retryBaseSeconds * 1000, maxMs: config.retryMaxSeconds * 1000 }
          : undefined,
        storeEpoch: epoch,
        racyWindowMs: source.racyWindowMs,
      });
      const listed = source.listedState?.();
      if (listed) journal.setSourceState(userId, name, listed);
    }
    if (drift) result.warnings.unshift(`store ${drift.state}: ${drift.detail}`);
    const wrote = result.added + result.updated + result.moved + result.deleted + result.repaired > 0;
    if (wrote || drift) await ctx.recordStore();
    journal.pruneRuns(config.runHistoryKeep);
    return { source: name, source_type: record.type, kind: keys ? "changes" : "full", ...result };
  } finally {
    runLock.release();
  }
}

/**
 * The source's changes since its cursor; a failure marks it unhealthy with the reason and becomes
 * `SYNC_E_SOURCE_UNAVAILABLE` (nothing is deleted).
 */
async function listChanges(
  ctx: AppContext,
  record: SourceRecord,
  source: Source,
  signal: AbortSignal,
): Promise<SourceChanges | undefined> {
  try {
    const changes = await source.listChanges?.(record.state, signal);
    if (changes) ctx.journal.setSourceHealth(record.userId, record.name, true, null);
    return changes;
  } catch (err) {
    if (signal.aborted) throw err;
    const msg = `${source.type} source "${record.name}": listing changes failed, nothing deleted: ${describeError(err)}`;
    ctx.journal.setSourceHealth(record.userId, record.name, false, msg);
    throw new SyncError("SYNC_E_SOURCE_UNAVAILABLE", msg, { cause: err });
  }
}

function chainSteps(...hooks: Array<SyncOptions["onStep"] | undefined>): SyncOptions["onStep"] | undefined {
  const set = hooks.filter((h) => h !== undefined);
  if (set.length === 0) return undefined;
  return (step, batch) => {
    for (const h of set) h(step, batch);
  };
}
