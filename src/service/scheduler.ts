import type { SourceView } from "../app/sources.js";
import type { SyncSystem } from "../app/sync-system.js";
import type { Logger } from "../core/logger.js";
import { describeError, isSyncError } from "../errors/sync-error.js";
import { localFilesystemConfig } from "../sources/local-filesystem/local-filesystem-type.js";
import type { RunReason, RunRequest, SourceMonitorState, WorkQueue } from "./service-types.js";
import { SourceWatcher, type WatchBatch, WatchStartError } from "./source-watcher.js";

/** Default time between two re-reads of the source records (ms). */
export const SOURCE_REFRESH_MS = 30_000;

/** Longest wait between two attempts to restart a watcher that keeps failing (ms). */
const WATCH_RETRY_MAX_MS = 3_600_000;

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  system: SyncSystem;
  queue: WorkQueue;
  logger: Logger;
  /** Schedules and watchers at all (`ENABLE_SOURCE_MONITORING`). */
  monitoring: boolean;
  /** Start live watchers for `local_filesystem` sources (false: they are polled only). */
  watch: boolean;
  /** Time between two re-reads of the source records (ms); default {@link SOURCE_REFRESH_MS}. */
  refreshIntervalMs?: number;
}

/** A run request without the source's ids (the monitor has them). */
type ScheduledRequest =
  | { kind: "full"; reason: RunReason }
  | { kind: "changes"; reason: RunReason; keys: string[] };

/** What the scheduler keeps per source record. */
interface Monitor {
  view: SourceView;
  /** Type, enabled flag, poll interval and config as last applied: a change restarts schedule and watcher. */
  signature: string;
  /** The source is polled and (if a folder source) watched. */
  active: boolean;
  pollTimer: NodeJS.Timeout | undefined;
  nextPollAt: number | null;
  watcher: SourceWatcher | undefined;
  watchError: string | null;
  /** Consecutive failures of the watcher itself (not of a missing root). */
  watchFailures: number;
  /** No restart attempt before this time (ms since the epoch). */
  watchRetryAt: number;
  lastEventAt: string | null;
  /** The last scheduled run's error, so that the same failure at every poll is logged at warn only once. */
  lastRunError: string | null;
}

/**
 * Runs every enabled source of a scheduled type (`SourceType.scheduled`) through the {@link WorkQueue}: a
 * full run on its `poll_interval` (`reason: "poll"`), a reconciliation of all of them at start (`"start"`)
 * and every `SYNC_INTERVAL` (`"reconcile"`), and, for `local_filesystem` sources, live watching
 * ({@link SourceWatcher}: `"watch"` partial runs, `"watch-fallback"` full runs when folders change or the
 * watcher fails). Source records are re-read every `refreshIntervalMs` and at once on {@link sourceChanged}:
 * new, enabled or reconfigured sources get a schedule, a watcher and a run at once (`"source-changed"`);
 * removed or disabled ones lose them.
 *
 * A watcher that fails (an `error` such as ENOSPC, a root that disappeared) is closed, the source marked
 * unhealthy (`watcher: …`), a reconciliation queued, and a restart tried at the source's next poll (after
 * repeated failures of the watcher itself, at doubling intervals up to an hour; a missing root is only a
 * `stat`, tried at every poll). Failed runs are logged (`SYNC_E_SOURCE_BUSY`, another process syncing the
 * source, at info) and never stop the scheduler. All timers are `unref()`'d.
 */
export class Scheduler {
  private readonly monitors = new Map<string, Monitor>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly wakers = new Set<() => void>();
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private started = false;
  private stopped = false;

  constructor(private readonly options: SchedulerOptions) {}

  /**
   * Reads the sources, starts schedules and watchers (not waiting for watchers to be ready: see
   * {@link monitorStates}), queues the start reconciliation, and starts the periodic timers.
   */
  async start(): Promise<void> {
    const { system } = this.options;
    await this.refresh();
    this.started = true;
    if (!this.options.monitoring || this.stopped) return;
    for (const m of this.monitors.values()) if (m.active) this.submit(m, { kind: "full", reason: "start" });
    this.every(system.config.syncIntervalSeconds * 1000, () => {
      for (const m of this.monitors.values())
        if (m.active) this.submit(m, { kind: "full", reason: "reconcile" });
    });
    this.every(this.options.refreshIntervalMs ?? SOURCE_REFRESH_MS, () => void this.refresh());
  }

  /** Clears every timer and closes every watcher. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
    for (const wake of [...this.wakers]) wake();
    const closing: Promise<void>[] = [];
    for (const m of this.monitors.values()) closing.push(this.deactivate(m));
    await Promise.all(closing);
    await this.refreshing;
  }

  /** Re-reads the sources now (after one re-read in progress, if any). */
  sourceChanged(): void {
    void this.refresh();
  }

  /** Per-source state, of every user or of one. */
  monitorStates(userId?: string): SourceMonitorState[] {
    const out: SourceMonitorState[] = [];
    for (const m of this.monitors.values()) {
      if (userId !== undefined && m.view.user_id !== userId) continue;
      out.push({
        user_id: m.view.user_id,
        source_id: m.view.source_id,
        type: m.view.type,
        enabled: m.view.enabled,
        watching: m.watcher?.ready === true,
        watch_error: m.watchError,
        next_poll_at: m.nextPollAt === null ? null : new Date(m.nextPollAt).toISOString(),
        last_event_at: m.lastEventAt,
      });
    }
    return out;
  }

  /** Sources with a live schedule or watcher, of every user or of one. */
  sourcesMonitored(userId?: string): number {
    let n = 0;
    for (const m of this.monitors.values()) {
      if (userId !== undefined && m.view.user_id !== userId) continue;
      if (m.pollTimer !== undefined || m.watcher?.ready) n++;
    }
    return n;
  }

  /** Waits `ms`, or less when the scheduler stops meanwhile. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        this.timers.delete(t);
        this.wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      t.unref();
      this.timers.add(t);
      this.wakers.add(wake);
    });
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.add(t);
  }

  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          await this.refreshOnce();
        } while (this.refreshAgain && !this.stopped);
      } catch (err) {
        this.options.logger.warn({ err: describeError(err) }, "could not re-read the sources; retried later");
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private async refreshOnce(): Promise<void> {
    const { system } = this.options;
    if (this.stopped) return;
    const views = await system.sources.list();
    if (this.stopped) return;
    const seen = new Set<string>();
    for (const view of views) {
      const key = `${view.user_id}\0${view.source_id}`;
      seen.add(key);
      const signature = JSON.stringify([view.type, view.enabled, view.poll_interval, view.config]);
      const known = this.monitors.get(key);
      if (known) {
        known.view = view;
        if (known.signature === signature) continue;
        await this.deactivate(known);
        known.signature = signature;
        this.activate(known, true);
        continue;
      }
      const m: Monitor = {
        view,
        signature,
        active: false,
        pollTimer: undefined,
        nextPollAt: null,
        watcher: undefined,
        watchError: null,
        watchFailures: 0,
        watchRetryAt: 0,
        lastEventAt: null,
        lastRunError: null,
      };
      this.monitors.set(key, m);
      this.activate(m, this.started);
    }
    for (const [key, m] of this.monitors) {
      if (seen.has(key)) continue;
      this.monitors.delete(key);
      await this.deactivate(m);
    }
  }

  /** Starts the schedule and watcher of a source that should have them; `runNow`: a run at once, too. */
  private activate(m: Monitor, runNow: boolean): void {
    const { system } = this.options;
    if (this.stopped || !this.options.monitoring || !m.view.enabled) return;
    let scheduled: boolean;
    try {
      scheduled = system.isScheduledType(m.view.type);
    } catch {
      scheduled = false;
    }
    if (!scheduled) return;
    m.active = true;
    m.watchError = null;
    m.watchFailures = 0;
    m.watchRetryAt = 0;
    this.schedulePoll(m);
    if (this.wantsWatcher(m)) void this.startWatcher(m);
    if (runNow && !this.hasFreshFullRun(m)) this.submit(m, { kind: "full", reason: "source-changed" });
  }

  /**
   * Whether a full run of the source is queued, or running since the record last changed: then it already
   * covers the change (the API queues one when it adds or reconfigures a source) and another would list the
   * whole source again for nothing.
   */
  private hasFreshFullRun(m: Monitor): boolean {
    const { running, queued } = this.options.queue.activity(m.view.user_id);
    const mine = (r: { source_id: string; kind: string }) =>
      r.source_id === m.view.source_id && r.kind === "full";
    const since = m.view.updated_at ?? "";
    return queued.some(mine) || running.some((r) => mine(r) && (r.started_at ?? "") >= since);
  }

  private async deactivate(m: Monitor): Promise<void> {
    m.active = false;
    clearTimeout(m.pollTimer);
    m.pollTimer = undefined;
    m.nextPollAt = null;
    const w = m.watcher;
    m.watcher = undefined;
    await w?.close();
  }

  private wantsWatcher(m: Monitor): boolean {
    return this.options.watch && m.view.type === "local_filesystem";
  }

  private schedulePoll(m: Monitor): void {
    const ms = m.view.poll_interval * 1000;
    m.nextPollAt = Date.now() + ms;
    m.pollTimer = setTimeout(() => this.poll(m), ms);
    m.pollTimer.unref();
  }

  private poll(m: Monitor): void {
    if (!m.active || this.stopped) return;
    this.schedulePoll(m);
    if (this.wantsWatcher(m) && m.watcher === undefined && Date.now() >= m.watchRetryAt) {
      void this.startWatcher(m);
    }
    this.submit(m, { kind: "full", reason: "poll" });
  }

  /**
   * Starts a watcher for the source; false when it could not start (or was superseded). Unless `quiet`, a
   * failure is logged, shown in `watch_error` and recorded as the source's health.
   */
  private async startWatcher(m: Monitor, quiet = false): Promise<boolean> {
    const { system, logger } = this.options;
    const c = localFilesystemConfig(m.view);
    const watcher: SourceWatcher = new SourceWatcher({
      roots: c.watch_paths,
      patterns: c.file_patterns,
      ignore: c.ignore_patterns,
      followSymlinks: c.follow_symlinks,
      debounceMs: system.config.watchDebounceMs,
      onBatch: (batch) => this.onBatch(m, watcher, batch),
      onFailure: (f) => void this.onWatchFailure(m, watcher, f.message, f.rootGone),
    });
    m.watcher = watcher;
    const ids = { user: m.view.user_id, source: m.view.source_id };
    logger.debug(ids, "starting watcher");
    try {
      await watcher.start();
    } catch (err) {
      logger.debug({ ...ids, err: describeError(err) }, "watcher failed to start");
      if (m.watcher !== watcher) return false;
      m.watcher = undefined;
      const message = describeError(err);
      if (!(err instanceof WatchStartError && err.rootUnavailable)) this.backOff(m);
      if (quiet) return false;
      if (m.watchError !== message) {
        logger.warn({ ...ids, err: message }, "watcher not started");
        await this.markUnhealthy(m, message);
      }
      m.watchError = message;
      return false;
    }
    if (m.watcher !== watcher) {
      await watcher.close();
      return false;
    }
    if (m.watchError !== null) logger.info(ids, "watcher running again");
    else logger.debug(ids, "watcher ready");
    m.watchError = null;
    m.watchFailures = 0;
    m.watchRetryAt = 0;
    return true;
  }

  /** After the watcher itself failed `n` times in a row: skip restarts for `poll × 2^(n-1)` (capped). */
  private backOff(m: Monitor): void {
    m.watchFailures++;
    const poll = m.view.poll_interval * 1000;
    const wait = Math.min(poll * 2 ** (m.watchFailures - 1), WATCH_RETRY_MAX_MS);
    // The next poll itself retries after one failure: the wait ends a little before it is due.
    m.watchRetryAt = Date.now() + wait - Math.min(1000, poll / 2);
  }

  private onBatch(m: Monitor, watcher: SourceWatcher, batch: WatchBatch): void {
    if (m.watcher !== watcher || !m.active) return;
    m.lastEventAt = watcher.lastEventAt;
    if (batch.kind === "changes") this.submit(m, { kind: "changes", reason: "watch", keys: batch.keys });
    else this.submit(m, { kind: "full", reason: "watch-fallback" });
  }

  private async onWatchFailure(m: Monitor, watcher: SourceWatcher, message: string, rootGone: boolean) {
    const { system, logger } = this.options;
    if (m.watcher !== watcher) return;
    m.watcher = undefined;
    m.lastEventAt = watcher.lastEventAt;
    const ids = { user: m.view.user_id, source: m.view.source_id };
    if (rootGone) {
      // A file root replaced by an editor's atomic save, or a folder moved back: if it is there again after a
      // quiet spell, watching goes on (the reconciliation catches up).
      await this.sleep(system.config.watchDebounceMs);
      if (!m.active || this.stopped || m.watcher !== undefined) return;
      if (await this.startWatcher(m, true)) {
        this.submit(m, { kind: "full", reason: "watch-fallback" });
        return;
      }
      if (m.watcher !== undefined) return;
    } else {
      this.backOff(m);
    }
    m.watchError = message;
    logger.warn({ ...ids, err: message }, "watcher stopped; the source is reconciled and polled meanwhile");
    await this.markUnhealthy(m, message);
    this.submit(m, { kind: "full", reason: "watch-fallback" });
  }

  private async markUnhealthy(m: Monitor, message: string): Promise<void> {
    try {
      await this.options.system.sources.setHealth({
        userId: m.view.user_id,
        sourceId: m.view.source_id,
        healthy: false,
        error: message,
      });
    } catch (err) {
      this.options.logger.debug({ err: describeError(err) }, "could not record the source's health");
    }
  }

  /** Queues a run and logs how it ended (once per new job: a request that joined one is not logged again). */
  private submit(m: Monitor, request: ScheduledRequest): void {
    const { queue, logger } = this.options;
    if (this.stopped) return;
    const ids = { userId: m.view.user_id, sourceId: m.view.source_id };
    const full: RunRequest =
      request.kind === "full"
        ? { ...ids, kind: "full", reason: request.reason, scheduled: true }
        : { ...ids, kind: "changes", reason: request.reason, keys: request.keys };
    const fields = { user: ids.userId, source: ids.sourceId, reason: request.reason };
    queue.enqueue(full).then(
      (ticket) => {
        if (ticket.joined) return;
        queue.wait(ticket.job_id).then(
          (r) => {
            m.lastRunError = null;
            logger.debug({ ...fields, job: ticket.job_id, run: r.run_id }, "scheduled run finished");
          },
          (err: unknown) => this.logRunError(m, { ...fields, job: ticket.job_id }, err),
        );
      },
      (err: unknown) => {
        this.logRunError(m, fields, err);
        if (isSyncError(err) && err.code === "SYNC_E_NOT_FOUND") void this.refresh();
      },
    );
  }

  /** Busy (another process syncs the source) at info; a failure at warn, or at debug when it repeats. */
  private logRunError(m: Monitor, fields: Record<string, unknown>, err: unknown): void {
    const { logger } = this.options;
    const code = isSyncError(err) ? err.code : "SYNC_E_INTERNAL";
    const message = describeError(err);
    const entry = { ...fields, code, err: message };
    if (code === "SYNC_E_SOURCE_BUSY") {
      logger.info(entry, "scheduled run skipped: another process is syncing the source");
    } else if (code === "SYNC_E_SHUTTING_DOWN") {
      logger.debug(entry, "scheduled run dropped: shutting down");
    } else {
      const again = m.lastRunError === message;
      m.lastRunError = message;
      if (again) logger.debug(entry, "scheduled run failed again");
      else logger.warn(entry, "scheduled run failed");
    }
  }
}
