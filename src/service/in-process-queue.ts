import type { SourceRunResult } from "../app/run-source.js";
import type { RunTicket, SyncSystem } from "../app/sync-system.js";
import { describeError, isSyncError, SyncError } from "../errors/sync-error.js";
import type { JobRecord, JobTicket, RunReason, RunRequest, WorkQueue } from "./service-types.js";

/** Finished jobs remembered for `recent` and `wait` (the journal keeps the full run history). */
const KEEP_FINISHED = 200;

interface ActiveJob {
  ticket: RunTicket;
  reason: RunReason;
  startedAt: string | null;
}

/**
 * The in-process {@link WorkQueue}: requests become runs of this process's {@link SyncSystem}, which queues
 * them per source (a request joins the run already queued for its source and kind) and bounds processing with
 * one semaphore. Finished jobs are kept, newest first, up to {@link KEEP_FINISHED}.
 */
export function createInProcessQueue(system: SyncSystem): WorkQueue {
  const active = new Map<string, ActiveJob>();
  const finished: JobRecord[] = [];
  const results = new Map<string, Promise<SourceRunResult>>();

  system.events.on("run-started", (e) => {
    const job = active.get(e.jobId);
    if (job) job.startedAt = new Date().toISOString();
  });

  const remember = (record: JobRecord, done: Promise<SourceRunResult>): void => {
    finished.unshift(record);
    results.set(record.job_id, done);
    while (finished.length > KEEP_FINISHED) {
      const old = finished.pop();
      if (old) results.delete(old.job_id);
    }
  };

  const follow = (job: ActiveJob): void => {
    const { ticket } = job;
    const base = {
      job_id: ticket.jobId,
      user_id: ticket.userId,
      source_id: ticket.sourceId,
      kind: ticket.kind,
    };
    ticket.done.then(
      (result) => {
        active.delete(ticket.jobId);
        remember(
          {
            ...base,
            reason: job.reason,
            state: "succeeded",
            run_id: result.run_id,
            started_at: job.startedAt,
            finished_at: new Date().toISOString(),
            result,
            error: null,
          },
          ticket.done,
        );
      },
      (err: unknown) => {
        active.delete(ticket.jobId);
        remember(
          {
            ...base,
            reason: job.reason,
            state: "failed",
            run_id: null,
            started_at: job.startedAt,
            finished_at: new Date().toISOString(),
            result: null,
            error: {
              code: isSyncError(err) ? err.code : "SYNC_E_INTERNAL",
              message: describeError(err),
            },
          },
          ticket.done,
        );
      },
    );
  };

  return {
    async enqueue(request: RunRequest): Promise<JobTicket> {
      const ticket =
        request.kind === "changes"
          ? system.requestChanges({ userId: request.userId, sourceId: request.sourceId, keys: request.keys })
          : system.requestSync({
              userId: request.userId,
              sourceId: request.sourceId,
              scheduled: request.scheduled,
              incremental: request.reason === "poll",
              allowMassDelete: request.allowMassDelete,
            });
      if (!active.has(ticket.jobId)) {
        const job: ActiveJob = {
          ticket,
          reason: request.reason,
          startedAt: ticket.state === "running" ? new Date().toISOString() : null,
        };
        active.set(ticket.jobId, job);
        follow(job);
      }
      return {
        job_id: ticket.jobId,
        user_id: ticket.userId,
        source_id: ticket.sourceId,
        kind: ticket.kind,
        state: ticket.state,
        joined: ticket.joined,
      };
    },

    wait(jobId: string): Promise<SourceRunResult> {
      const done = active.get(jobId)?.ticket.done ?? results.get(jobId);
      if (!done) return Promise.reject(new SyncError("SYNC_E_NOT_FOUND", `no job ${jobId} is known`));
      return done;
    },

    activity(userId?: string) {
      return system.activity({ userId });
    },

    recent(userId?: string, limit = 50): JobRecord[] {
      return finished.filter((j) => userId === undefined || j.user_id === userId).slice(0, limit);
    },
  };
}
