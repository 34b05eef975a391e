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
    // A store of its own, never opened: a reset must work when the tables cannot be opened (another embedder,
    // damaged files).
    const dropped = await (await ctx.newStore()).drop();
    const epoch = ctx.journal.forgetAll();
    return { dropped, epoch };
  });
}
