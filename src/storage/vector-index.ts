import type { IndexConfig, Table, VectorQuery } from "@lancedb/lancedb";
import { loadLanceDb } from "./load-lancedb.js";

/** Default chunk rows from which the store keeps a vector index. */
export const VECTOR_INDEX_THRESHOLD = 100_000;
/** Fewest rows an IVF_PQ index is trained on (PQ's 8-bit codebooks need 256 vectors). */
export const MIN_VECTOR_INDEX_ROWS = 256;
/** Distance every vector search and the index use: they must match. */
export const VECTOR_DISTANCE = "cosine" as const;

/** Query parameters of an indexed vector search. */
export interface VectorSearchTuning {
  /** Least IVF partitions probed; more when the filter leaves fewer hits than `limit`. */
  nprobes?: number;
  /** Candidates re-ranked by exact distance: `limit` × this (0 or unset: none). */
  refineFactor?: number;
}

/** The vector index on `vector`, if any (read-only). */
export async function vectorIndexOf(table: Table): Promise<IndexConfig | undefined> {
  const indices = await table.listIndices();
  return indices.find((i) => i.columns.includes("vector") && /^IVF|HNSW/i.test(i.indexType));
}

/**
 * Whether a table of `rows` rows should have a vector index under `threshold` (0: never): from
 * `max(threshold, MIN_VECTOR_INDEX_ROWS)` rows on.
 */
export function wantsVectorIndex(rows: number, threshold: number): boolean {
  return threshold > 0 && rows >= Math.max(threshold, MIN_VECTOR_INDEX_ROWS);
}

/**
 * Builds (or, with `replace`, retrains) the IVF_PQ index on `vector` with the cosine distance searches use;
 * √rows partitions, dimensions/16 (else /8) sub-vectors of 8 bits. A write: call it under the writer lock.
 */
export async function buildVectorIndex(table: Table, replace: boolean): Promise<void> {
  const { Index } = await loadLanceDb();
  await table.createIndex("vector", {
    config: Index.ivfPq({ distanceType: VECTOR_DISTANCE }),
    replace,
  });
}

/**
 * Applies `tuning` to a vector (or hybrid) query: `minimumNprobes` (LanceDB probes further partitions when a
 * prefilter leaves too few hits, so a small user's search still fills its `limit`) and `refineFactor`. Both are
 * ignored by LanceDB when the table has no vector index.
 */
export function tuneVectorQuery(query: VectorQuery, tuning: VectorSearchTuning): VectorQuery {
  let q = query;
  // Maximum first (0: no limit): LanceDB refuses a minimum above its default maximum (20).
  if (tuning.nprobes !== undefined) q = q.maximumNprobes(0).minimumNprobes(tuning.nprobes);
  if (tuning.refineFactor !== undefined && tuning.refineFactor > 0) q = q.refineFactor(tuning.refineFactor);
  return q;
}
