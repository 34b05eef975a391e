import { type SearchHit, type SearchOptions, searchChunks } from "../search/search-chunks.js";
import type { AppContext } from "./app-context.js";

/**
 * Searches one user's chunks with the configured store and embedder. Read-only (see `searchChunks`): a search
 * that finds no full-text index yet answers by vector search and reports it through `onFallback`.
 */
export async function searchDocuments(ctx: AppContext, options: SearchOptions): Promise<SearchHit[]> {
  return searchChunks(await ctx.openStore(), await ctx.embedder(), options);
}
