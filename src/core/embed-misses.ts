import { describeError, isSyncError, SyncError } from "../errors/sync-error.js";
import type { BatchRows } from "./build-rows.js";
import type { Embedder } from "./embedder.js";
import type { ItemFailure } from "./prepare-item.js";

/** A text any working embedder accepts (to tell a refused input from a refused setting). */
const EMBED_PROBE = "ok";

/**
 * Embeds `misses` into `vectors`. When the embedder rejects the input itself (`SYNC_E_EMBEDDING_REJECTED`),
 * bisects the batch's documents to find those responsible and records them in `rejected` (by item key);
 * the others are embedded. Other errors (outages after the client's retries) propagate and fail the run.
 * Returns how many texts were embedded.
 */
export async function embedMisses(
  embedder: Embedder,
  rows: BatchRows,
  misses: readonly string[],
  vectors: Map<string, Float32Array>,
  rejected: Map<string, ItemFailure>,
  signal: AbortSignal | undefined,
): Promise<number> {
  if (misses.length === 0) return 0;
  let embedded = 0;
  const embedHashes = async (hashes: readonly string[]): Promise<void> => {
    const out = await embedder.embed(
      hashes.map((h) => rows.texts.get(h) as string),
      signal,
    );
    for (const [i, h] of hashes.entries()) vectors.set(h, out[i] as Float32Array);
    embedded += hashes.length;
  };
  try {
    await embedHashes(misses);
    return embedded;
  } catch (err) {
    if (!isSyncError(err, "SYNC_E_EMBEDDING_REJECTED")) throw err;
  }
  const needed = (docs: BatchRows["upserts"]): string[] => [
    ...new Set(docs.flatMap((u) => u.chunks.map((c) => c.text_hash)).filter((h) => !vectors.has(h))),
  ];
  const bisect = async (docs: BatchRows["upserts"]): Promise<void> => {
    const hashes = needed(docs);
    if (hashes.length === 0) return;
    try {
      await embedHashes(hashes);
    } catch (err) {
      if (!isSyncError(err, "SYNC_E_EMBEDDING_REJECTED")) throw err;
      const [only] = docs;
      if (docs.length === 1 && only) {
        rejected.set(only.doc.item_key, {
          key: only.doc.item_key,
          code: err.code,
          error: `${only.doc.item_key}: the embedder rejected a chunk of it: ${describeError(err)}`,
        });
        return;
      }
      const mid = Math.ceil(docs.length / 2);
      await bisect(docs.slice(0, mid));
      await bisect(docs.slice(mid));
    }
  };
  await bisect(rows.upserts);
  if (rejected.size === rows.upserts.length) {
    // Every document refused on its own: either they are all bad, or a setting (model, dimensions) is
    // wrong. A harmless probe tells which; a refused probe fails the run instead of blaming the documents.
    try {
      await embedder.embed([EMBED_PROBE], signal);
    } catch (err) {
      if (!isSyncError(err, "SYNC_E_EMBEDDING_REJECTED")) throw err;
      throw new SyncError(
        "SYNC_E_EMBEDDING_FAILED",
        `the embedder rejects any input, even "${EMBED_PROBE}"; check the EMBEDDING_* settings: ${describeError(err)}`,
        { cause: err, retryable: false },
      );
    }
  }
  return embedded;
}
