import type { IndexConfig, Table, VectorQuery } from "@lancedb/lancedb";
import { loadLanceDb } from "./load-lancedb.js";

/** Default chunk rows from which the store keeps a vector index. */
export const VECTOR_INDEX_THRESHOLD = 100_000;
/** Fewest rows an IVF_PQ index is trained on (PQ's 8-bit codebooks need 256 vectors). */
export const MIN_VECTOR_INDEX_ROWS = 256;
/** Distance every vector search and the index use: they must match. */
export const VECTOR_DISTANCE = "cosine" as const;

/**
 * Kinds of vector index the store builds (`VECTOR_INDEX_TYPE`): IVF_PQ (product-quantised codes, smallest,
 * needs re-ranking for recall), IVF_HNSW_SQ (a graph per partition over 8-bit scalar-quantised vectors) and
 * IVF_FLAT (full vectors per partition: exact distances, the largest).
 */
export const VECTOR_INDEX_TYPES = ["ivf_pq", "ivf_hnsw_sq", "ivf_flat"] as const;
/** One of {@link VECTOR_INDEX_TYPES}. */
export type VectorIndexType = (typeof VECTOR_INDEX_TYPES)[number];

/** Query parameters of an indexed vector search. */
export interface VectorSearchTuning {
  /** Least IVF partitions probed; more when the filter leaves fewer hits than `limit`. */
  nprobes?: number;
  /** Candidates re-ranked by exact distance: `limit` × this (0 or unset: none). */
  refineFactor?: number;
  /** Candidates an HNSW graph search keeps (`ef`); only for an IVF_HNSW_SQ index (0 or unset: LanceDB's). */
  ef?: number;
}

/** The vector index on `vector`, if any (read-only). */
export async function vectorIndexOf(table: Table): Promise<IndexConfig | undefined> {
  const indices = await table.listIndices();
  return indices.find((i) => i.columns.includes("vector") && /^IVF|HNSW/i.test(i.indexType));
}

/** Whether `index` (as `listIndices` names it: `IvfPq`, `IvfHnswSq`, …) is of kind `type`. */
export function isIndexType(index: IndexConfig, type: VectorIndexType): boolean {
  return index.indexType.replace(/_/g, "").toLowerCase() === type.replace(/_/g, "");
}

/**
 * Whether a table of `rows` rows should have a vector index under `threshold` (0: never): from
 * `max(threshold, MIN_VECTOR_INDEX_ROWS)` rows on.
 */
export function wantsVectorIndex(rows: number, threshold: number): boolean {
  return threshold > 0 && rows >= Math.max(threshold, MIN_VECTOR_INDEX_ROWS);
}

/**
 * Builds (or, with `replace`, retrains) the vector index of `type` on `vector` with the cosine distance searches
 * use: IVF_PQ with √rows partitions and dimensions/16 (else /8) sub-vectors of 8 bits; IVF_HNSW_SQ with one
 * partition per 500,000 rows (each partition is one graph; fewer partitions search faster, more train with less
 * memory); IVF_FLAT with √rows partitions. A write: call it under the writer lock.
 */
export async function buildVectorIndex(
  table: Table,
  replace: boolean,
  type: VectorIndexType = "ivf_pq",
): Promise<void> {
  const { Index } = await loadLanceDb();
  const distanceType = VECTOR_DISTANCE;
  let config: ReturnType<typeof Index.ivfPq>;
  if (type === "ivf_hnsw_sq") {
    const rows = await table.countRows();
    config = Index.hnswSq({ distanceType, numPartitions: Math.max(1, Math.ceil(rows / 500_000)) });
  } else if (type === "ivf_flat") config = Index.ivfFlat({ distanceType });
  else config = Index.ivfPq({ distanceType });
  await table.createIndex("vector", { config, replace });
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
  if (tuning.ef !== undefined && tuning.ef > 0) q = q.ef(tuning.ef);
  return q;
}
