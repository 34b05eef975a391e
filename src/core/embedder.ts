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
  /** True when vectors are L2-normalised (cosine distance and dot product agree). */
  readonly normalized: boolean;
  /**
   * Embeds `texts` in order; the result has exactly `texts.length` vectors of `dimensions` floats.
   * Throws `SyncError("SYNC_E_EMBEDDING_FAILED")` when the provider fails after its retries.
   */
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
}
