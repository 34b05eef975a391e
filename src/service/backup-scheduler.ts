import type { SyncSystem } from "../app/sync-system.js";
import type { Logger } from "../core/logger.js";
import { describeError, isSyncError } from "../errors/sync-error.js";

/** Options of {@link BackupScheduler}. */
export interface BackupSchedulerOptions {
  system: SyncSystem;
  logger: Logger;
  /** Quiet time after a run that wrote before backing up (ms); default `BACKUP_DEBOUNCE_SECONDS`; 0: none. */
  debounceMs?: number;
  /** Time between scheduled backups (ms); default `BACKUP_INTERVAL`; 0: none on a timer. */
  intervalMs?: number;
  /** First retry delay after a failed backup (ms); doubles up to `retryMaxMs`. Default 5 s. */
  retryBaseMs?: number;
  /** Longest retry delay (ms); default 10 minutes. */
  retryMaxMs?: number;
}

/**
 * Backs the store up from a service: once sync activity settles (no run that wrote for `debounceMs`), and
 * every `intervalMs` when something was written since the last snapshot (or there is none). A backup holds
 * the writer lock only for its consistent point, so it never blocks syncing. A failed backup (the store is
 * unreachable) is retried with exponential backoff, while syncs go on and the status reports
 * `s3_sync_available: 0`. Does nothing when no backup target is configured.
 */
export class BackupScheduler {
  private readonly debounceMs: number;
  private readonly intervalMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private settleTimer: NodeJS.Timeout | undefined;
  private intervalTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;
  private dirty = false;
  private stopped = false;

  constructor(private readonly options: BackupSchedulerOptions) {
    const { config } = options.system;
    this.debounceMs = options.debounceMs ?? config.backupDebounceSeconds * 1000;
    this.intervalMs = options.intervalMs ?? config.backupIntervalSeconds * 1000;
    this.retryBaseMs = options.retryBaseMs ?? 5_000;
    this.retryMaxMs = options.retryMaxMs ?? 600_000;
  }

  /** Whether backups are configured at all. */
  get enabled(): boolean {
    return this.options.system.backups.targets().length > 0;
  }

  /** Starts the interval timer (when configured). */
  start(): void {
    if (!this.enabled || this.stopped || this.intervalMs <= 0) return;
    this.intervalTimer = setInterval(() => {
      const pending = this.pendingVersions();
      void pending.then((n) => {
        if (n > 0 || this.dirty) this.trigger("interval");
      });
    }, this.intervalMs);
    this.intervalTimer.unref();
  }

  /** A run finished; `wrote`: it may have committed. Restarts the settle timer. */
  runFinished(wrote: boolean): void {
    if (!wrote || !this.enabled || this.stopped) return;
    this.dirty = true;
    if (this.debounceMs <= 0) return;
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.trigger("settled");
    }, this.debounceMs);
    this.settleTimer.unref();
  }

  /** Stops every timer; a backup in progress is left to `SyncSystem.stop` (which waits for it). */
  stop(): void {
    this.stopped = true;
    for (const t of [this.settleTimer, this.retryTimer]) clearTimeout(t);
    clearInterval(this.intervalTimer);
  }

  /** Resolves once the backup in progress (if any) is over; for tests and shutdown. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async pendingVersions(): Promise<number> {
    try {
      const { backup } = await this.options.system.status();
      return backup?.recovery_point ? backup.pending_syncs : 1;
    } catch {
      return 1;
    }
  }

  private trigger(reason: "settled" | "interval" | "retry"): void {
    if (this.stopped) return;
    if (this.running) {
      // A backup is in progress: one more after it, for what it did not capture.
      this.dirty = true;
      return;
    }
    const { system, logger } = this.options;
    this.dirty = false;
    this.running = (async () => {
      try {
        const r = await system.backups.run();
        this.failures = 0;
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        logger.info(
          {
            reason,
            snapshot_id: r.snapshot_id,
            files_uploaded: r.files_uploaded,
            bytes_uploaded: r.bytes_uploaded,
          },
          "backup complete",
        );
      } catch (err) {
        if (this.stopped || isSyncError(err, "SYNC_E_SHUTTING_DOWN")) return;
        this.dirty = true;
        this.failures++;
        const delay = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (this.failures - 1));
        logger.warn(
          { reason, err: describeError(err), attempt: this.failures, retry_in_ms: delay },
          "backup failed; syncing goes on and the backup is retried",
        );
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.trigger("retry");
        }, delay);
        this.retryTimer.unref();
      }
    })().finally(() => {
      this.running = undefined;
      if (this.dirty && !this.stopped && this.failures === 0 && this.settleTimer === undefined) {
        this.trigger("settled");
      }
    });
  }
}
