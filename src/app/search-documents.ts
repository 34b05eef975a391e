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
 * Reading creates nothing: with no tables yet, every mode answers no hits (once the options and the user id
 * are found valid) and creates neither tables nor the embedder. With tables, a `vector` or `hybrid` search
 * opens the store as every command does (checking the embedder, upgrading an older layout under the writer
 * lock). An `fts` search creates no embedder (the OpenAI-compatible one may ask its server): it reads the
 * existing tables and asks for the embedder only if it has to answer by vector search; the store then checks
 * that the query vector's embedder is the one the tables were built with.
 */
export async function searchDocuments(ctx: AppContext, options: SearchOptions): Promise<SearchHit[]> {
  const store = await ctx.readStore();
  if (!store) {
    validateSearchOptions(options);
    validateId("user id", options.userId);
    return [];
  }
  if ((options.mode ?? "hybrid") !== "fts") return searchChunks(await ctx.openStore(), ctx.embedder, options);
  return searchChunks(store, ctx.embedder, options);
}

/**
 * How many chunks `userId` has in the store, without creating anything (0 when there are no tables yet): a
 * search that finds nothing can tell "nothing indexed for this user" from "no match".
 */
export async function indexedChunks(ctx: AppContext, userId: string): Promise<number> {
  validateId("user id", userId);
  const store = await ctx.readStore();
  return store ? (await store.countRows(userId)).chunks : 0;
}
