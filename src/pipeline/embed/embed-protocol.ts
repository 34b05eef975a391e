/** One batch sent to a hashing-embedder worker. */
export interface EmbedRequest {
  id: number;
  texts: string[];
  dimensions: number;
}

/**
 * A hashing-embedder worker's answer to the {@link EmbedRequest} with the same `id`: the vectors end to end
 * in one transferred buffer (`texts.length * dimensions` floats), or why it failed; or its first message,
 * `ready`, once its modules are loaded.
 */
export type EmbedResponse =
  | { ready: true }
  | { id: number; ok: true; vectors: Float32Array }
  | { id: number; ok: false; message: string };
