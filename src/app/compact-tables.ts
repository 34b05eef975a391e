import type { TableHealth } from "../core/document-store.js";
import { ensureFtsIndex } from "../search/fts-index.js";
import type { AppContext } from "./app-context.js";

/** Outcome of {@link compactTables}: table health before and after. */
export interface CompactResult {
  before: TableHealth[];
  after: TableHealth[];
  retention_hours: number;
}

/**
 * Runs LanceDB `optimize` on both tables: compacts small fragments, folds new rows into indices (building
 * the full-text index if missing) and removes versions older than `retentionHours`.
 */
export async function compactTables(ctx: AppContext, retentionHours: number): Promise<CompactResult> {
  const store = await ctx.openStore();
  const before = await store.health();
  const cleanupOlderThan = new Date(Date.now() - retentionHours * 3_600_000);
  const chunks = store.chunksTable();
  if ((await chunks.countRows()) > 0) await ensureFtsIndex(chunks);
  for (const table of [store.documentsTable(), chunks]) {
    await table.optimize({ cleanupOlderThan, deleteUnverified: retentionHours === 0 });
  }
  return { before, after: await store.health(), retention_hours: retentionHours };
}
