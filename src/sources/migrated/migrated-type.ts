import { SyncError } from "../../errors/sync-error.js";
import type { SourceType } from "../registry.js";
import { MigratedSource } from "./migrated-source.js";

/**
 * `migrated`: documents brought in by `migrate` from another LanceDB table. No live origin and no schedule:
 * its documents stay until deleted through the API or the CLI. Its config (`from`, `table`) only records
 * where they came from; it cannot be added by hand.
 */
export const migratedType: SourceType = {
  type: "migrated",
  scheduled: false,
  normalizeConfig() {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      "a migrated source is created by `lancedb-sync migrate` (or POST /api/v1/maintenance/migrate), not added",
    );
  },
  create(record, ctx) {
    return new MigratedSource({ name: record.name, userId: record.userId, journal: ctx.journal });
  },
};
