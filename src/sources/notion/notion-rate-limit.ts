import { createHash } from "node:crypto";

/** A clock and a sleep, injectable so the bucket can be tested without waiting. */
export interface BucketClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: BucketClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/**
 * A token bucket: `take` resolves once a token is available, at most `ratePerSecond` tokens a second with
 * bursts of up to `burst`. Waiters are served in order (each reserves its slot), so concurrent callers share
 * the rate fairly however many there are.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number = Math.max(1, Math.floor(ratePerSecond)),
    private readonly clock: BucketClock = realClock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Waits for one token (rejects when `signal` aborts meanwhile). */
  async take(signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    // The token is reserved now (tokens may go negative): later callers queue behind this one.
    this.tokens -= 1;
    if (this.tokens >= 0) return;
    await this.clock.sleep((-this.tokens / this.ratePerSecond) * 1000, signal);
  }
}

const buckets = new Map<string, TokenBucket>();

/**
 * The process-wide bucket of one integration token, keyed by a hash of the token (the token itself is kept
 * nowhere): every source and run using that token shares it. A new rate replaces the bucket.
 */
export function sharedBucket(token: string, ratePerSecond: number): TokenBucket {
  const key = tokenId(token);
  let bucket = buckets.get(key);
  if (!bucket || bucket.ratePerSecond !== ratePerSecond) {
    bucket = new TokenBucket(ratePerSecond);
    buckets.set(key, bucket);
  }
  return bucket;
}

/** A short, non-reversible name of a token for logs and maps (first 12 hex digits of its SHA-256). */
export function tokenId(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 12);
}
