import type { FailureState, ItemState } from "./journal.js";
import type { SourceItemRef } from "./source.js";

/** An item that must be read (and, if its content changed, processed). */
export interface Candidate {
  ref: SourceItemRef;
  /** What the journal knows of it; undefined for a new item. */
  prev: ItemState | undefined;
}

/** The outcome of comparing a listing with the journal. */
export interface DetectedChanges {
  /** New items, moved fingerprints, `pending` items, and failed items still to retry. */
  candidates: Candidate[];
  /** Items whose fingerprint did not move: not read at all. */
  unchanged: number;
  /** Failed items at the attempt limit whose fingerprint did not move: skipped. */
  givenUp: number;
  /** Failed items whose fingerprint did not move and whose next retry (with backoff) is not due yet. */
  deferred: number;
  /** Journal items absent from the listing (deletion candidates, or the old half of a move). */
  gone: ItemState[];
  /** Keys of the listing. */
  listed: Set<string>;
}

/** Options of {@link detectChanges}. */
export interface DetectOptions {
  maxRetryAttempts: number;
  /**
   * Start (epoch ms) of the previous run. Items modified within `racyWindowMs` before it, or after it, are
   * read and hashed even when their fingerprint did not move: they may have been edited again within the
   * timestamp granularity of the read that recorded them (git's "racily clean" rule).
   */
  prevRunStartMs?: number;
  /** Default: 2000 ms for whole-second timestamps (FAT, HFS+, ext3), 100 ms for finer ones. */
  racyWindowMs?: number;
  /** Key prefixes the listing could not see: known items under them are neither processed nor deleted. */
  incompletePrefixes?: readonly string[];
  /** Retry failed items only once their backoff has passed (see {@link retryDueAt}); default: every run. */
  retryBackoff?: RetryBackoff;
  /** Now, epoch ms (default `Date.now()`). */
  nowMs?: number;
}

/** Exponential backoff of failed items: `baseMs · 2^(attempts−1)`, at most `maxMs`, jittered by ±20%. */
export interface RetryBackoff {
  baseMs: number;
  maxMs: number;
}

/**
 * When a failed item may be retried: its last failure plus the backoff for its attempt count. The jitter is
 * derived from the key and the attempt count (deterministic, so every process agrees), spreading retries of
 * items that failed together.
 */
export function retryDueAt(failure: FailureState, backoff: RetryBackoff): number {
  const exp = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, failure.attempts - 1));
  let h = 2166136261;
  for (const ch of `${failure.key}\0${failure.attempts}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  const jitter = 0.8 + 0.4 * ((h >>> 0) / 2 ** 32);
  return Date.parse(failure.lastFailedAt) + Math.round(exp * jitter);
}

/** Whether `key` lies under one of `prefixes` (a prefix is a whole key or ends with `/`). */
export function underPrefix(key: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => key === p || (p.endsWith("/") && key.startsWith(p)));
}

/**
 * Compares a successful listing with the journal, reading nothing: an item is a candidate when it is new,
 * its fingerprint moved, its last apply may not have finished (`pending`, which wins over a given-up failure),
 * it was modified near the previous run's start (racily clean), or it failed and may be retried: changed
 * since it failed, or its backoff has passed and it is under `maxRetryAttempts` (a retryable failure, an
 * outage, is never given up).
 */
export function detectChanges(
  listing: readonly SourceItemRef[],
  known: ReadonlyMap<string, ItemState>,
  failed: ReadonlyMap<string, FailureState>,
  options: DetectOptions,
): DetectedChanges {
  const out: DetectedChanges = {
    candidates: [],
    unchanged: 0,
    givenUp: 0,
    deferred: 0,
    gone: [],
    listed: new Set(),
  };
  const prevStart = options.prevRunStartMs;
  const nowMs = options.nowMs ?? Date.now();
  for (const ref of listing) {
    out.listed.add(ref.key);
    const prev = known.get(ref.key);
    const failure = failed.get(ref.key);
    const sameFailure = failure !== undefined && failure.fingerprint === ref.fingerprint;
    if (prev?.status === "pending") out.candidates.push({ ref, prev });
    else if (sameFailure && !failure.retryable && failure.attempts >= options.maxRetryAttempts) {
      out.givenUp++;
    } else if (sameFailure && options.retryBackoff && retryDueAt(failure, options.retryBackoff) > nowMs) {
      out.deferred++;
    } else if (!prev || prev.fingerprint !== ref.fingerprint || failure) {
      out.candidates.push({ ref, prev });
    } else if (prevStart !== undefined && isRacy(ref.modifiedAt, prevStart, options.racyWindowMs)) {
      out.candidates.push({ ref, prev });
    } else out.unchanged++;
  }
  const incomplete = options.incompletePrefixes ?? [];
  for (const item of known.values()) {
    if (out.listed.has(item.key)) continue;
    if (incomplete.length > 0 && underPrefix(item.key, incomplete)) continue;
    out.gone.push(item);
  }
  return out;
}

/** Synced items with a known content hash, by hash: a new item with that hash is a move. */
export function byHash(items: readonly ItemState[]): Map<string, ItemState[]> {
  const out = new Map<string, ItemState[]>();
  for (const item of items) {
    if (item.contentHash === "" || item.status !== "synced") continue;
    const same = out.get(item.contentHash) ?? [];
    same.push(item);
    out.set(item.contentHash, same);
  }
  return out;
}

function isRacy(modifiedAt: string | undefined, prevStart: number, windowMs: number | undefined): boolean {
  if (modifiedAt === undefined) return false;
  const t = Date.parse(modifiedAt);
  return t >= prevStart - (windowMs ?? (t % 1000 === 0 ? 2000 : 100));
}
