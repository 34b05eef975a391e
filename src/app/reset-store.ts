import { loadLanceDb } from "../storage/load-lancedb.js";
import type { AppContext } from "./app-context.js";

/** Outcome of {@link resetStore}. */
export interface ResetResult {
  dropped: string[];
  /** The new store epoch: runs that began before the reset fail instead of writing into the new tables. */
  epoch: number;
}

/**
 * Drops both tables and forgets every synced item (sources stay registered), under the store's writer lock:
 * a sync in progress can neither write between the drop and the journal reset, nor afterwards (its next
 * batch sees the new epoch and fails with `SYNC_E_STORE_CHANGED` instead of marking items synced).
 */
export async function resetStore(ctx: AppContext): Promise<ResetResult> {
  return ctx.withWriterLock("reset", async () => {
    const lancedb = await loadLanceDb();
    const conn = await lancedb.connect(ctx.config.lancedbUri);
    const dropped: string[] = [];
    try {
      const names = new Set(await conn.tableNames());
      for (const t of [ctx.config.chunksTable, ctx.config.documentsTable]) {
        if (names.has(t)) {
          await conn.dropTable(t);
          dropped.push(t);
        }
      }
    } finally {
      conn.close();
    }
    const epoch = ctx.journal.forgetAll();
    return { dropped, epoch };
  });
}
