import type { TableHealth } from "../core/document-store.js";
import type { AppContext } from "./app-context.js";

/** Outcome of {@link compactTables}: table health before and after. */
export interface CompactResult {
  before: TableHealth[];
  after: TableHealth[];
  retention_hours: number;
}

/**
 * Runs LanceDB `optimize` on both tables: compacts small fragments, folds new rows into indices (building
 * the full-text index if missing, and the vector index once the chunks table reaches `VECTOR_INDEX_THRESHOLD`
 * rows) and removes versions older than `retentionHours`.
 */
export async function compactTables(ctx: AppContext, retentionHours: number): Promise<CompactResult> {
  const store = await ctx.openStore();
  // The whole of it under the writer lock: no sync commits meanwhile, so files written but not yet committed
  // by another writer cannot exist, and `deleteUnverified` (retention 0) is safe.
  return ctx.withWriterLock("compact", async () => {
    const { before, after } = await store.compact({ retentionHours });
    return { before, after, retention_hours: retentionHours };
  });
}
