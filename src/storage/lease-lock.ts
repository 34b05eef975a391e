import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Journal, LeaseHolder } from "../core/journal.js";
import type { ErrorCode } from "../errors/codes.js";
import { SyncError } from "../errors/sync-error.js";

/** Name of the store-wide writer lock: every writer of the two tables (syncs, compact, reset, index builds). */
export const WRITER_LOCK = "store-writer";

/** Name of the run lock of one source of one user. */
export function runLockName(userId: string, sourceName: string): string {
  return `run:${userId}\0${sourceName}`;
}

/** Options of {@link acquireLock}. */
export interface AcquireLockOptions {
  /** What the holder is doing, shown to whoever waits (`sync alice/notes`, `compact`). */
  purpose: string;
  /** Lease length: the lock is renewed every third of it while held, and taken over once it lapses. */
  leaseMs: number;
  /** How long to wait for a held lock before failing; 0 fails at once. */
  waitMs: number;
  /** Code thrown when the wait runs out. */
  busyCode: ErrorCode;
  signal?: AbortSignal;
}

/** A lock held by this process. */
export interface HeldLock {
  /** Aborts when the lease was lost (not renewed in time and taken over, or cleared by `unlock`). */
  readonly signal: AbortSignal;
  /** Stops renewing and releases the lock; idempotent. */
  release(): void;
}

/**
 * Takes the lease `name` in the journal, waiting up to `waitMs` while another live owner holds it, then
 * renews it in the background until {@link HeldLock.release}. Works across processes and hosts sharing the
 * journal, and between callers within one process (each acquisition is a distinct owner).
 * Throws `busyCode` naming the holder when the wait runs out.
 */
export async function acquireLock(
  journal: Journal,
  name: string,
  options: AcquireLockOptions,
): Promise<HeldLock> {
  const owner = randomUUID();
  const deadline = Date.now() + options.waitMs;
  let pause = 20;
  for (;;) {
    options.signal?.throwIfAborted();
    const holder = journal.tryLease(name, owner, options.purpose, options.leaseMs);
    if (holder === undefined) break;
    if (Date.now() >= deadline) throw busy(name, holder, options);
    await sleep(Math.min(pause, Math.max(1, deadline - Date.now())), undefined, { signal: options.signal });
    pause = Math.min(pause * 2, 250);
  }
  const lost = new AbortController();
  const timer = setInterval(
    () => {
      try {
        if (!journal.renewLease(name, owner, options.leaseMs)) {
          clearInterval(timer);
          lost.abort(
            new SyncError(
              options.busyCode,
              `lost the lock ${describeName(name)}: it was taken over or cleared`,
            ),
          );
        }
      } catch (err) {
        clearInterval(timer);
        lost.abort(err);
      }
    },
    Math.max(50, Math.floor(options.leaseMs / 3)),
  );
  timer.unref();
  let released = false;
  return {
    signal: lost.signal,
    release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      try {
        journal.releaseLease(name, owner);
      } catch {
        // the journal is closed: the lease lapses by itself
      }
    },
  };
}

/** Runs `fn` while holding the lock `name`; releases it however `fn` ends. */
export async function withLock<T>(
  journal: Journal,
  name: string,
  options: AcquireLockOptions,
  fn: (lock: HeldLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireLock(journal, name, options);
  try {
    return await fn(lock);
  } finally {
    lock.release();
  }
}

function describeName(name: string): string {
  return name === WRITER_LOCK ? "the store's writer lock" : `"${name.replace("\0", "/")}"`;
}

function busy(name: string, h: LeaseHolder, options: AcquireLockOptions): SyncError {
  const waited = options.waitMs > 0 ? ` after waiting ${Math.round(options.waitMs / 1000)} s` : "";
  return new SyncError(
    options.busyCode,
    `${describeName(name)} is held by ${h.purpose} (process ${h.pid} on ${h.host.split("/")[0]}, since ` +
      `${h.acquiredAt}; its lease lapses at ${new Date(h.expiresAt).toISOString()} unless renewed)${waited}; ` +
      "try again later, or `lancedb-sync unlock` if you are sure it is gone",
  );
}
