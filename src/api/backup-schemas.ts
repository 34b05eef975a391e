import { closed } from "./schemas.js";

const STR = { type: "string" } as const;
const INT = { type: "integer" } as const;
const NULLABLE_STR = { type: ["string", "null"] } as const;

/** `BackupStatus` (`GET /api/v1/status` `backup`, `GET /api/v1/backup/status`). */
export const BACKUP_STATUS = closed(
  {
    configured: { type: "boolean" },
    s3_sync_available: {
      anyOf: [{ type: "null" }, { type: "integer", enum: [0, 1] }],
      description:
        "1: the backup store answered the last backup; 0: unreachable, or no target; null: never tried.",
    },
    pending_syncs: { ...INT, description: "Table versions committed since the newest complete snapshot." },
    recovery_point: {
      anyOf: [
        { type: "null" },
        closed({
          snapshot_id: STR,
          created_at: STR,
          age_seconds: INT,
          tables: {
            type: "array",
            items: closed({
              name: STR,
              local_version: { type: ["integer", "null"] },
              backed_up_version: INT,
            }),
          },
        }),
      ],
    },
    last_backup: {
      anyOf: [
        { type: "null" },
        closed({
          ok: { type: "boolean" },
          finished_at: STR,
          snapshot_id: NULLABLE_STR,
          bytes_uploaded: INT,
          total_bytes: INT,
          duration_ms: INT,
          error: NULLABLE_STR,
          code: NULLABLE_STR,
        }),
      ],
    },
  },
  "Backups: the recovery point, the last attempt, whether the backup store answers, and versions not yet backed up.",
);
