import { type ApplyChangesOptions, applyChanges } from "../core/apply-changes.js";
import type { SourceRecord } from "../core/journal.js";
import { type Exclusive, runSync, type SyncOptions, type SyncResult } from "../core/run-sync.js";
import type { Gate } from "../core/semaphore.js";
import type { Source } from "../core/source.js";
import { SyncError } from "../errors/sync-error.js";
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
    if (options.keys) {
      const partial: ApplyChangesOptions = { ...common, keys: options.keys };
      result = await applyChanges(deps, partial);
    } else {
      result = await runSync(deps, {
        ...common,
        allowEmptyRoots: options.allowEmptyRoots,
        maxRetryAttempts: config.maxRetryAttempts,
        retryBackoff: options.scheduled
          ? { baseMs: config.retryBaseSeconds * 1000, maxMs: config.retryMaxSeconds * 1000 }
          : undefined,
        storeEpoch: epoch,
      });
    }
    if (drift) result.warnings.unshift(`store ${drift.state}: ${drift.detail}`);
    const wrote = result.added + result.updated + result.moved + result.deleted + result.repaired > 0;
    if (wrote || drift) await ctx.recordStore();
    journal.pruneRuns(config.runHistoryKeep);
    return { source: name, source_type: record.type, kind: options.keys ? "changes" : "full", ...result };
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
