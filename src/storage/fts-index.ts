import type { Table } from "@lancedb/lancedb";
import { loadLanceDb } from "./load-lancedb.js";

/** True when the table has a full-text index on `text` (read-only). */
export async function hasFtsIndex(table: Table): Promise<boolean> {
  const indices = await table.listIndices();
  return indices.some((i) => i.indexType === "FTS" && i.columns.includes("text"));
}

/**
 * Builds the full-text index on `text` if the table has none. A write: call it under the store's writer lock
 * (`compact` and the store's `maintain()` after a sync do; searches never build it).
 */
export async function ensureFtsIndex(table: Table): Promise<boolean> {
  await table.checkoutLatest();
  if (await hasFtsIndex(table)) return false;
  const { Index } = await loadLanceDb();
  await table.createIndex("text", { config: Index.fts(), replace: false });
  return true;
}
