import type { ChunkFilters, ChunkHit, DocumentStore } from "../core/document-store.js";
import type { Embedder } from "../core/embedder.js";
import { SyncError } from "../errors/sync-error.js";
import { validateId } from "../storage/filter.js";
import { fuseHits } from "./fuse-hits.js";

/** How to search: by vector, by the store's full-text index, or both, fused by weighted scores ({@link fuseHits}). */
export type SearchMode = "vector" | "fts" | "hybrid";

/** Options of {@link searchChunks}. */
export interface SearchOptions {
  query: string;
  /** Results are always limited to this user's chunks. */
  userId: string;
  mode?: SearchMode;
  /** 1–1000, default 10. */
  limit?: number;
  /** Narrow the search to sources, documents or metadata values (ANDed with each other and the user). */
  filters?: ChunkFilters;
  /**
   * Called when an `fts` or `hybrid` search found no full-text index and answered by vector search instead
   * (searches never build it: syncs of small stores and `compact` do).
   */
  onFallback?: (reason: string) => void;
}

/** One search result: the chunk, its score, and its document's metadata and URL. */
export type SearchHit = ChunkHit;

/** An embedder, or a function creating it on first need (an `fts` search with an index never calls it). */
export type EmbedderSource = Embedder | (() => Promise<Embedder>);

const MODES: readonly SearchMode[] = ["vector", "fts", "hybrid"];

/**
 * The mode (default `hybrid`), limit (default 10) and trimmed query text of `options`; throws
 * `SYNC_E_INVALID_ARGUMENT` for an unknown mode, a limit outside 1..1000 or an empty query.
 */
export function validateSearchOptions(options: SearchOptions): {
  mode: SearchMode;
  limit: number;
  text: string;
} {
  const mode = options.mode ?? "hybrid";
  if (!MODES.includes(mode)) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `mode ${JSON.stringify(mode)}: expected vector, fts or hybrid`,
    );
  }
  const limit = options.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", `limit ${limit} is not an integer in 1..1000`);
  }
  const text = options.query.trim();
  if (text === "") throw new SyncError("SYNC_E_INVALID_ARGUMENT", "search query is empty");
  return { mode, limit, text };
}

/**
 * Searches one user's chunks through {@link DocumentStore.search}. Validates the mode, limit and query, then
 * embeds the query only when the search needs a vector: a `vector` or `hybrid` search, or an `fts` search the
 * store cannot answer by full text. Read-only: it builds no index and takes no lock. Syncs keep the full-text
 * index of small stores current and `compact` builds and refreshes it for any store; when an `fts` or `hybrid`
 * search finds none yet, it answers by vector search and says so through `onFallback`.
 */
export async function searchChunks(
  store: DocumentStore,
  embedder: EmbedderSource,
  options: SearchOptions,
): Promise<SearchHit[]> {
  const { mode, limit, text } = validateSearchOptions(options);
  validateId("user id", options.userId);
  let effective = mode;
  if (mode !== "vector" && !(await store.fullTextReady())) {
    // No index and nothing of the user's to find: no hits, and no fallback to report.
    if ((await store.countRows(options.userId)).chunks === 0) return [];
    effective = "vector";
    options.onFallback?.(
      `no full-text index yet: ${mode} search answered by vector search; \`lancedb-sync compact\` builds the index`,
    );
  }
  const query = { userId: options.userId, mode: effective, text, limit, filters: options.filters };
  if (effective === "fts") return store.search(query);
  const e = typeof embedder === "function" ? await embedder() : embedder;
  const [vector] = await e.embed([text]);
  if (!vector)
    throw new SyncError("SYNC_E_EMBEDDING_FAILED", "the embedder returned no vector for the query");
  if (effective === "vector") return store.search({ ...query, vector, embedderId: e.id });
  // Hybrid: each half ranks a deeper list than asked for, so that a hit one half ranks low still gets the
  // other half's score; the halves are fused here, by score, not by LanceDB's reciprocal-rank reranker.
  const depth = Math.min(1000, Math.max(limit * 4, 50));
  const [fullText, byVector] = await Promise.all([
    store.search({ ...query, mode: "fts", limit: depth }),
    store.search({ ...query, mode: "vector", limit: depth, vector, embedderId: e.id }),
  ]);
  return fuseHits(fullText, byVector, limit);
}
