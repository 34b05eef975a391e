/**
 * Turns texts into fixed-width vectors. Implementations must be deterministic for a given `id`: the same
 * text under the same id always yields the same vector, because vectors are cached by (id, text hash).
 * Not in the contract: normalisation (callers must not assume unit length unless `normalized` says so).
 */
export interface Embedder {
  /** Stable identity of the model and its settings, e.g. `hashing-ngram-v1:384`. Recorded with the table. */
  readonly id: string;
  /** Width of every vector this embedder returns. */
  readonly dimensions: number;
  /**
   * True when vectors are L2-normalised (cosine distance and dot product agree); a text without content (empty
   * or blank) may still give the zero vector.
   */
  readonly normalized: boolean;
  /**
   * True when a text's vector is the same on every call and costs less to compute again than to read back from
   * the store (the built-in hashing embedder): a sync then asks the store only which texts it holds (for its
   * figures: those still count as reused, not embedded) and computes their vectors again.
   */
  readonly recomputable?: boolean;
  /**
   * Embeds `texts` in order; the result has exactly `texts.length` vectors of `dimensions` finite floats, and a
   * text's vector does not depend on the other texts of the call or their order. `[]` gives `[]`.
   *
   * Errors:
   * - `embed` throws `SyncError("SYNC_E_EMBEDDING_REJECTED")` when the provider refuses the input itself
   *   (e.g. a text over the model's token limit): retrying the same texts cannot succeed; the engine isolates
   *   the texts responsible by bisecting.
   * - `SyncError("SYNC_E_EMBEDDING_FAILED")` for everything else: `retryable` true when the provider was
   *   unavailable after the embedder's own retries (an outage), false for a run-level problem that no retry
   *   of any input fixes (bad key, wrong URL or model, malformed responses).
   * - When `signal` is already aborted, `embed` rejects with `signal.reason` before doing any work; an abort
   *   during the call makes embedders that do I/O reject promptly with `signal.reason` (CPU-only ones may
   *   complete).
   */
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
  /**
   * Optional: releases what the embedder holds (worker threads, connections). The owner calls it once, when
   * it is done with the embedder; `embed` may fail afterwards. Idle resources never keep the process alive,
   * so an owner that cannot call it loses nothing but their memory until they time out.
   */
  close?(): Promise<void>;
}
