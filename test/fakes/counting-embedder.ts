import { createHash } from "node:crypto";
import type { Embedder } from "../../src/core/embedder.js";
import { SyncError } from "../../src/errors/sync-error.js";

/** Options of {@link CountingEmbedder}. */
export interface CountingEmbedderOptions {
  /** Vector width (default 8). */
  dimensions?: number;
  /** When it holds for any text of a call, the call throws `SYNC_E_EMBEDDING_REJECTED` (like a token limit). */
  rejectText?: (text: string) => boolean;
  /** When set, every call throws what it returns (e.g. a retryable `SYNC_E_EMBEDDING_FAILED` outage). */
  failWith?: () => unknown;
}

/**
 * A deterministic {@link Embedder} that counts calls and texts; vectors come from a hash of the text.
 * `new CountingEmbedder(8)` or `new CountingEmbedder({ dimensions, rejectText, failWith })`. Every call counts
 * in `calls`; only calls that succeed add to `texts`. `rejectText` and `failWith` may be changed between calls.
 */
export class CountingEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  readonly normalized = false;
  /** Number of `embed` calls, failed ones included. */
  calls = 0;
  /** Texts of the successful calls, in order. */
  texts: string[] = [];
  /** See {@link CountingEmbedderOptions.rejectText}. */
  rejectText: ((text: string) => boolean) | undefined;
  /** See {@link CountingEmbedderOptions.failWith}. */
  failWith: (() => unknown) | undefined;

  constructor(options: number | CountingEmbedderOptions = {}) {
    const opts = typeof options === "number" ? { dimensions: options } : options;
    this.dimensions = opts.dimensions ?? 8;
    this.rejectText = opts.rejectText;
    this.failWith = opts.failWith;
    this.id = `counting:${this.dimensions}`;
  }

  /** See {@link Embedder.embed}. */
  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    this.calls++;
    signal?.throwIfAborted();
    if (this.failWith) throw this.failWith();
    const reject = this.rejectText;
    const rejected = reject ? texts.find((t) => reject(t)) : undefined;
    if (rejected !== undefined) {
      const shown = rejected.length > 60 ? `${rejected.slice(0, 60)}…` : rejected;
      throw new SyncError("SYNC_E_EMBEDDING_REJECTED", `text rejected: ${JSON.stringify(shown)}`);
    }
    this.texts.push(...texts);
    return texts.map((t) => this.vectorOf(t));
  }

  /** The vector `embed` returns for `text`. */
  vectorOf(text: string): Float32Array {
    const digest = createHash("sha256").update(text).digest();
    return Float32Array.from(
      { length: this.dimensions },
      (_, i) => (digest[i % digest.length] as number) / 255,
    );
  }

  /** Zeroes `calls` and empties `texts`. */
  resetCounters(): void {
    this.calls = 0;
    this.texts = [];
  }
}
