import type { SourceRunResult } from "../app/run-source.js";
import type { RunActivity, RunKindName } from "../app/sync-system.js";

/**
 * Why a run was requested (shown in job records and metrics). `source-changed`: a source was added, enabled
 * or reconfigured while the service runs.
 */
export type RunReason =
  | "api"
  | "cli"
  | "poll"
  | "reconcile"
  | "watch"
  | "watch-fallback"
  | "start"
  | "source-changed";

/** A request for a run of one source: a full reconciliation, or a partial run over item keys. */
export type RunRequest =
  | {
      kind: "full";
      userId: string;
      sourceId: string;
      reason: RunReason;
      /** Retry failed items only once their backoff has passed (polls and reconciliations). */
      scheduled?: boolean;
      allowMassDelete?: boolean;
    }
  | { kind: "changes"; userId: string; sourceId: string; reason: RunReason; keys: readonly string[] };

/** What a request got: the job serving it (new, or a queued one it joined) and its state now. */
export interface JobTicket {
  job_id: string;
  user_id: string;
  source_id: string;
  kind: RunKindName;
  state: "queued" | "running";
  /** The request joined a run already queued for the source. */
  joined: boolean;
}

/** A finished job, as the service remembers it (the newest ones, bounded). */
export interface JobRecord {
  job_id: string;
  user_id: string;
  source_id: string;
  kind: RunKindName;
  reason: RunReason;
  state: "succeeded" | "failed";
  /** The journal's run id (`runs` table), when the run got as far as starting. */
  run_id: number | null;
  started_at: string | null;
  finished_at: string;
  result: SourceRunResult | null;
  error: { code: string; message: string } | null;
}

/**
 * The seam between scheduling and execution: callers (scheduler, watcher, API) put run requests here; the
 * first implementation runs them in this process on the `SyncSystem`, a later one may put them on a shared
 * queue (BullMQ, pg-boss) served by several worker processes.
 */
export interface WorkQueue {
  /** Queues a run (or joins the one queued for the same source and kind); resolves once it is accepted. */
  enqueue(request: RunRequest): Promise<JobTicket>;
  /** Resolves with the job's result once it finished (rejects with its error); unknown ids reject `SYNC_E_NOT_FOUND`. */
  wait(jobId: string): Promise<SourceRunResult>;
  /** Runs in progress (with progress) and queued, of every user or of one. */
  activity(userId?: string): { running: RunActivity[]; queued: RunActivity[] };
  /** The newest finished jobs first, of every user or of one. */
  recent(userId?: string, limit?: number): JobRecord[];
}

/** How the service watches one source. */
export interface SourceMonitorState {
  user_id: string;
  source_id: string;
  type: string;
  enabled: boolean;
  /** A live watcher is running for it (only `local_filesystem` sources are watched). */
  watching: boolean;
  /** Why the watcher is down or fell back to polling, if it is. */
  watch_error: string | null;
  /** When the next scheduled poll is due (null: not scheduled, e.g. disabled or monitoring off). */
  next_poll_at: string | null;
  last_event_at: string | null;
}

/** What the API and the CLI need of a running service. */
export interface SyncServiceView {
  readonly queue: WorkQueue;
  /** `ENABLE_SOURCE_MONITORING`: schedules and watchers are on. */
  readonly monitoring: boolean;
  readonly startedAt: string | null;
  /** Per-source monitoring state, of every user or of one. */
  monitors(userId?: string): SourceMonitorState[];
  /** Sources with a live schedule or watcher (the `sources_monitored` gauge), of every user or of one. */
  sourcesMonitored(userId?: string): number;
  /**
   * Tells the service a source was added, changed or removed (API, CLI): its schedule and watcher are
   * re-read now instead of at the next periodic check.
   */
  sourceChanged(userId: string, sourceId: string): void;
}
