import type { SyncSystem, SyncSystemEvents } from "../app/sync-system.js";
import type { Logger } from "../core/logger.js";
import { BackupScheduler } from "./backup-scheduler.js";
import { CompactionScheduler } from "./compaction-scheduler.js";
import { createInProcessQueue } from "./in-process-queue.js";
import { Scheduler } from "./scheduler.js";
import type { SourceMonitorState, SyncServiceView, WorkQueue } from "./service-types.js";

/** The orchestrator of a long-running process (`serve`): see {@link createSyncService}. */
export interface SyncService extends SyncServiceView {
  /** The backup scheduler: after sync activity settles and on `BACKUP_INTERVAL` (idle without a target). */
  readonly backups: BackupScheduler;
  /**
   * Reads the sources, starts their schedules and watchers, and queues a reconciliation of every monitored
   * source (changes made while the service was down). Resolves without waiting for watchers to finish their
   * initial scan (`monitors()` shows `watching: true` once they have). Call once, after `system.start()`.
   */
  start(): Promise<void>;
  /**
   * Stops every timer and watcher; runs already queued or in progress are left to the system, which the
   * caller stops afterwards (`await service.stop(); await system.stop()`). Idempotent.
   */
  stop(): Promise<void>;
}

/** Options of {@link createSyncService}. */
export interface SyncServiceOptions {
  /** A started system; settings (intervals, debounce, thresholds, monitoring) come from `system.config`. */
  system: SyncSystem;
  logger: Logger;
  /** Where scheduled runs go; default `createInProcessQueue(system)`. */
  queue?: WorkQueue;
  /** Watch `local_filesystem` sources live (default `WATCH_SOURCES`); false: they are only polled. */
  watch?: boolean;
  /** Time between two re-reads of the source records (ms); default 30 s. */
  refreshIntervalMs?: number;
  /** Least time between two scheduled compaction checks (ms); default one minute. */
  compactCheckIntervalMs?: number;
  /** Backup timings (ms): defaults `BACKUP_DEBOUNCE_SECONDS`, `BACKUP_INTERVAL`, 5 s first retry. */
  backup?: { debounceMs?: number; intervalMs?: number; retryBaseMs?: number; retryMaxMs?: number };
}

/**
 * Creates the service's orchestrator over a {@link SyncSystem}. Scheduling (poll intervals, `SYNC_INTERVAL`
 * reconciliations, live watching: see `Scheduler`), execution (the {@link WorkQueue}) and writing (the
 * system) stay apart: every run is requested through `queue.enqueue`. With `ENABLE_SOURCE_MONITORING=false`
 * nothing is scheduled or watched; the queue still serves explicit requests. After runs that wrote, the
 * store is compacted when a table passes `COMPACT_AFTER_VERSIONS` or `COMPACT_AFTER_FRAGMENTS`, never while
 * a run is in progress (see `CompactionScheduler`).
 */
export function createSyncService(options: SyncServiceOptions): SyncService {
  return new Service(options);
}

class Service implements SyncService {
  readonly queue: WorkQueue;
  readonly monitoring: boolean;
  private started: string | null = null;
  private state: "new" | "started" | "stopped" = "new";
  private readonly scheduler: Scheduler;
  private readonly compaction: CompactionScheduler;
  /** Backups after activity settles and on `BACKUP_INTERVAL` (idle without a backup target). */
  readonly backups: BackupScheduler;
  private readonly onFinished = (e: SyncSystemEvents["run-finished"][0]): void => {
    const r = e.result;
    const wrote = r.added + r.updated + r.moved + r.deleted + r.repaired > 0;
    this.compaction.runFinished(wrote);
    this.backups.runFinished(wrote);
  };
  private readonly onFailed = (): void => {
    this.compaction.runFinished(true);
    this.backups.runFinished(true);
  };

  constructor(private readonly options: SyncServiceOptions) {
    const { system, logger } = options;
    this.queue = options.queue ?? createInProcessQueue(system);
    this.monitoring = system.config.enableSourceMonitoring;
    this.scheduler = new Scheduler({
      system,
      queue: this.queue,
      logger,
      monitoring: this.monitoring,
      watch: options.watch ?? options.system.config.watchSources,
      refreshIntervalMs: options.refreshIntervalMs,
    });
    this.compaction = new CompactionScheduler({
      system,
      logger,
      minIntervalMs: options.compactCheckIntervalMs,
    });
    this.backups = new BackupScheduler({ system, logger, ...options.backup });
  }

  get startedAt(): string | null {
    return this.started;
  }

  async start(): Promise<void> {
    if (this.state !== "new") return;
    this.state = "started";
    const { system, logger } = this.options;
    system.events.on("run-finished", this.onFinished);
    system.events.on("run-failed", this.onFailed);
    await this.scheduler.start();
    this.backups.start();
    this.started = new Date().toISOString();
    logger.info(
      { monitoring: this.monitoring, sources_monitored: this.scheduler.sourcesMonitored() },
      this.monitoring ? "sync service started" : "sync service started without source monitoring",
    );
  }

  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    const { system } = this.options;
    system.events.off("run-finished", this.onFinished);
    system.events.off("run-failed", this.onFailed);
    this.compaction.stop();
    this.backups.stop();
    await this.scheduler.stop();
  }

  monitors(userId?: string): SourceMonitorState[] {
    return this.scheduler.monitorStates(userId);
  }

  sourcesMonitored(userId?: string): number {
    return this.scheduler.sourcesMonitored(userId);
  }

  sourceChanged(_userId: string, _sourceId: string): void {
    if (this.state === "started") this.scheduler.sourceChanged();
  }
}
