import type { TableHealth } from "../core/document-store.js";
import { isSyncError } from "../errors/sync-error.js";
import { acquireLock, type HeldLock } from "../storage/lease-lock.js";
import type { AppContext } from "./app-context.js";
import { BACKUP_LOCK } from "./backups.js";

/** Outcome of {@link compactTables}: table health before and after. */
export interface CompactResult {
  before: TableHealth[];
  after: TableHealth[];
  retention_hours: number;
  /** True when old versions were kept because a backup was reading their files (the next compact removes them). */
  cleanup_deferred?: boolean;
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
    // The clean-up fence: old versions are removed only while no backup is between its consistent point and
    // its manifest (it holds BACKUP_LOCK); otherwise compaction still runs and clean-up waits for the next one.
    let fence: HeldLock | undefined;
    try {
      fence = await acquireLock(ctx.journal, BACKUP_LOCK, {
        purpose: "compact (clean-up)",
        leaseMs: ctx.config.lockLeaseSeconds * 1000,
        waitMs: 0,
        busyCode: "SYNC_E_BACKUP_BUSY",
      });
    } catch (err) {
      if (!isSyncError(err, "SYNC_E_BACKUP_BUSY")) throw err;
    }
    try {
      const { before, after } = await store.compact({ retentionHours, skipCleanup: !fence });
      return fence
        ? { before, after, retention_hours: retentionHours }
        : { before, after, retention_hours: retentionHours, cleanup_deferred: true };
    } finally {
      fence?.release();
    }
  });
}
