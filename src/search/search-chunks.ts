import type { Embedder } from "../core/embedder.js";
import { SyncError } from "../errors/sync-error.js";
import { userFilter } from "../storage/filter.js";
import { wrap } from "../storage/lance-errors.js";
import type { LanceDbStore } from "../storage/lancedb-store.js";
import { loadLanceDb } from "../storage/load-lancedb.js";
import { hasFtsIndex } from "./fts-index.js";

/** How to search: by vector, by LanceDB full-text index, or both fused by reciprocal rank. */
export type SearchMode = "vector" | "fts" | "hybrid";

/** Options of {@link searchChunks}. */
export interface SearchOptions {
  query: string;
  /** Results are always limited to this user's chunks. */
  userId: string;
  mode?: SearchMode;
  /** 1–1000, default 10. */
  limit?: number;
  /**
   * Called when an `fts` or `hybrid` search found no full-text index and answered by vector search instead
   * (searches never build it: syncs of small stores and `compact` do).
   */
  onFallback?: (reason: string) => void;
}

/** One search result. */
export interface SearchHit {
  doc_id: string;
  chunk_id: string;
  item_key: string;
  source_id: string;
  title: string;
  text: string;
  start: number;
  end: number;
  /** Higher is better: 1 − cosine distance (vector), BM25 (fts), RRF relevance (hybrid). */
  score: number;
}

const COLUMNS = ["doc_id", "chunk_id", "item_key", "source_id", "title", "text", "start", "end"];

/**
 * Searches one user's chunks. The user id is validated and escaped by {@link userFilter}. Read-only: it builds
 * no index and takes no lock. Syncs keep the full-text index of small stores current and `compact` builds and
 * refreshes it for any store; when an `fts` or `hybrid` search finds none yet, it answers by vector search and
 * says so through `onFallback`.
 */
export async function searchChunks(
  store: LanceDbStore,
  embedder: Embedder,
  options: SearchOptions,
): Promise<SearchHit[]> {
  const mode = options.mode ?? "hybrid";
  const limit = options.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", `limit ${limit} is not an integer in 1..1000`);
  }
  const query = options.query.trim();
  if (query === "") throw new SyncError("SYNC_E_INVALID_ARGUMENT", "search query is empty");
  const where = userFilter(options.userId);
  const table = store.chunksTable();
  if ((await wrap("count rows", () => table.countRows(), table.name)) === 0) return [];
  const ftsReady = mode !== "vector" && (await wrap("list indices", () => hasFtsIndex(table), table.name));
  if (mode !== "vector" && !ftsReady) {
    options.onFallback?.(
      `no full-text index yet: ${mode} search answered by vector search; \`lancedb-sync compact\` builds the index`,
    );
  }
  if (mode === "vector" || !ftsReady) {
    const [vec] = await embedder.embed([query]);
    const rows = await wrap(
      "vector search",
      () =>
        table
          .vectorSearch(vec as Float32Array)
          .distanceType("cosine")
          .where(where)
          .select([...COLUMNS, "_distance"])
          .limit(limit)
          .toArray(),
      table.name,
    );
    return rows.map((r) => toHit(r, 1 - (r._distance as number)));
  }
  if (mode === "fts") {
    const rows = await wrap(
      "full-text search",
      () =>
        table
          .search(query, "fts")
          .where(where)
          .select([...COLUMNS, "_score"])
          .limit(limit)
          .toArray(),
      table.name,
    );
    return rows.map((r) => toHit(r, r._score as number));
  }
  const lancedb = await loadLanceDb();
  const [vec] = await embedder.embed([query]);
  const reranker = await lancedb.rerankers.RRFReranker.create();
  const rows = await wrap(
    "hybrid search",
    () =>
      table
        .query()
        .fullTextSearch(query)
        .nearestTo(vec as Float32Array)
        .distanceType("cosine")
        .where(where)
        .rerank(reranker)
        .select(COLUMNS)
        .limit(limit)
        .toArray(),
    table.name,
  );
  return rows.map((r) => toHit(r, r._relevance_score as number));
}

function toHit(r: Record<string, unknown>, score: number): SearchHit {
  return {
    doc_id: r.doc_id as string,
    chunk_id: r.chunk_id as string,
    item_key: r.item_key as string,
    source_id: r.source_id as string,
    title: r.title as string,
    text: r.text as string,
    start: r.start as number,
    end: r.end as number,
    score,
  };
}
