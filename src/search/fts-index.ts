import type { Table } from "@lancedb/lancedb";
import { loadLanceDb } from "../storage/load-lancedb.js";

/**
 * Builds the full-text index on `text` if the table has none. Rows added later are still searchable
 * (LanceDB scans unindexed rows); `compact` folds them into the index.
 */
export async function ensureFtsIndex(table: Table): Promise<void> {
  const indices = await table.listIndices();
  if (indices.some((i) => i.indexType === "FTS" && i.columns.includes("text"))) return;
  const { Index } = await loadLanceDb();
  await table.createIndex("text", { config: Index.fts(), replace: false });
}
