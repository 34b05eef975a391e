import {
  type SearchHit,
  type SearchOptions,
  searchChunks,
  validateSearchOptions,
} from "../search/search-chunks.js";
import { validateId } from "../storage/filter.js";
import type { AppContext } from "./app-context.js";

/**
 * Searches one user's chunks with the configured store and embedder. Read-only (see `searchChunks`): a search
 * that finds no full-text index yet answers by vector search and reports it through `onFallback`.
 *
 * A `vector` or `hybrid` search opens the store as every command does (creating missing tables, checking the
 * embedder, upgrading an older layout under the writer lock). An `fts` search creates no embedder (the
 * OpenAI-compatible one may ask its server): it opens the existing tables read-only (no tables: no hits) and
 * asks for the embedder only if it has to answer by vector search; the store then checks that the query
 * vector's embedder is the one the tables were built with.
 */
export async function searchDocuments(ctx: AppContext, options: SearchOptions): Promise<SearchHit[]> {
  if ((options.mode ?? "hybrid") !== "fts") return searchChunks(await ctx.openStore(), ctx.embedder, options);
  const store = await ctx.readStore();
  if (!store) {
    // No tables: no hits, once the options and the user id are found valid (as a search of empty tables).
    validateSearchOptions(options);
    validateId("user id", options.userId);
    return [];
  }
  return searchChunks(store, ctx.embedder, options);
}
