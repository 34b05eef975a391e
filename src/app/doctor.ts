import type { TableInspection, TableRepair } from "../storage/lancedb-store.js";
import { journalDamage } from "../storage/sqlite-journal.js";
import { type AppContext, storeOptions } from "./app-context.js";

/** The report of `lancedb-sync doctor`. */
export interface DoctorReport {
  /** True when every table reads in full at its newest version (after the repair, with `--repair`). */
  ok: boolean;
  tables: TableInspection[];
  /** Tables brought back to an older version (`--repair`). */
  repaired: TableRepair[];
  /** The store epoch after the repair: every source re-checks its documents on its next sync. */
  epoch: number | null;
  journal: { path: string; ok: boolean; detail: string | null };
}

/**
 * Checks the store thoroughly (both tables read in full, at their newest version) and the journal
 * (`PRAGMA quick_check`). With `repair`, takes the writer lock, brings each damaged table back to its newest
 * readable version and bumps the store epoch, so the next sync of every source re-processes what the tables
 * lost (cached vectors are reused where chunks survive).
 */
export async function runDoctor(ctx: AppContext, options: { repair?: boolean } = {}): Promise<DoctorReport> {
  const { inspectTables, repairTable } = await import("../storage/lancedb-store.js");
  const opts = storeOptions(ctx.config);
  let tables = await inspectTables(opts);
  const repaired: TableRepair[] = [];
  let epoch: number | null = null;
  if (options.repair && tables.some((t) => !t.ok)) {
    await ctx.withWriterLock("doctor --repair", async () => {
      try {
        for (const t of await inspectTables(opts)) {
          if (!t.ok) repaired.push(await repairTable(opts, t.name));
        }
      } finally {
        // Even a partial repair changed the tables: every source must re-check its documents.
        epoch = ctx.journal.bumpStoreEpoch();
      }
    });
    tables = await inspectTables(opts);
  }
  const path = ctx.config.stateDbPath;
  const damage = path === ":memory:" ? undefined : journalDamage(path);
  return {
    ok: tables.every((t) => t.ok) && damage === undefined,
    tables,
    repaired,
    epoch,
    journal: { path, ok: damage === undefined, detail: damage ?? null },
  };
}
