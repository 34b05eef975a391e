import type { Table } from "@lancedb/lancedb";
import { loadLanceDb } from "../storage/load-lancedb.js";

/** Runs a write exclusively (the store's writer lock); see `AppContext.withWriterLock`. */
export type IndexBuildLock = <T>(fn: () => Promise<T>) => Promise<T>;

async function hasFtsIndex(table: Table): Promise<boolean> {
  const indices = await table.listIndices();
  return indices.some((i) => i.indexType === "FTS" && i.columns.includes("text"));
}

/**
 * Builds the full-text index on `text` if the table has none, under `lock` when given (an index build is a
 * commit, so it must not race other writers). Rows added later are still searchable (LanceDB scans unindexed
 * rows); `compact` folds them into the index.
 */
export async function ensureFtsIndex(table: Table, lock?: IndexBuildLock): Promise<void> {
  if (await hasFtsIndex(table)) return;
  const build = async (): Promise<void> => {
    await table.checkoutLatest();
    if (await hasFtsIndex(table)) return;
    const { Index } = await loadLanceDb();
    await table.createIndex("text", { config: Index.fts(), replace: false });
  };
  await (lock ? lock(build) : build());
}
