import { type SearchHit, type SearchOptions, searchChunks } from "../search/search-chunks.js";
import type { AppContext } from "./app-context.js";

/**
 * Searches one user's chunks with the configured store and embedder. A first full-text or hybrid search
 * that finds no full-text index builds it under the store's writer lock.
 */
export async function searchDocuments(
  ctx: AppContext,
  options: Omit<SearchOptions, "indexBuildLock">,
): Promise<SearchHit[]> {
  return searchChunks(await ctx.openStore(), await ctx.embedder(), {
    ...options,
    indexBuildLock: (fn) => ctx.withWriterLock("full-text index build", fn),
  });
}
