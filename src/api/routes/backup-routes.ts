import type { FastifyPluginAsync } from "fastify";
import { requireAdmin } from "../auth.js";
import { BACKUP_STATUS } from "../backup-schemas.js";
import { closed, responses } from "../schemas.js";
import type { RouteDeps } from "./route-deps.js";

const STR = { type: "string" } as const;
const INT = { type: "integer" } as const;
const TABLE_AT = closed({ name: STR, version: INT, rows: INT });
const TARGET_UPLOAD = closed({ location: STR, files_uploaded: INT, bytes_uploaded: INT, files_skipped: INT });
const SNAPSHOT = closed({
  snapshot_id: STR,
  created_at: STR,
  store_id: { type: ["string", "null"] },
  tables: { type: "array", items: TABLE_AT },
  total_files: INT,
  total_bytes: INT,
});

/**
 * Backup routes, admin keys only (a backup holds every user's data): `GET /api/v1/backup/status`,
 * `POST /api/v1/backup`, `GET /api/v1/backup/snapshots`, `POST /api/v1/backup/drill`.
 */
export const backupRoutes: FastifyPluginAsync<RouteDeps> = async (app, { system }) => {
  app.get(
    "/api/v1/backup/status",
    {
      schema: {
        summary: "Backup status (admin)",
        description:
          "The recovery point (newest complete snapshot, its age, table versions not backed up yet), the last " +
          "backup's result and size, whether the backup store answers, and the configured targets.",
        tags: ["backup"],
        response: responses({
          200: closed({ targets: { type: "array", items: STR }, status: BACKUP_STATUS }),
        }),
      },
    },
    async (request) => {
      requireAdmin(request);
      const report = await system.status();
      return {
        targets: system.backups.targets().map((t) => t.location),
        status: report.backup,
      };
    },
  );

  app.post(
    "/api/v1/backup",
    {
      schema: {
        summary: "Back up now (admin)",
        description:
          "Takes a consistent, incremental snapshot of the tables and the journal and waits for it. 409 " +
          "SYNC_E_BACKUP_BUSY while another backup runs; 503 SYNC_E_BACKUP_UNAVAILABLE when the store is down.",
        tags: ["backup"],
        response: responses({
          200: closed({
            snapshot_id: STR,
            created_at: STR,
            files_uploaded: INT,
            bytes_uploaded: INT,
            files_skipped: INT,
            total_files: INT,
            total_bytes: INT,
            tables: { type: "array", items: TABLE_AT },
            duration_ms: INT,
            targets: { type: "array", items: TARGET_UPLOAD },
          }),
        }),
      },
    },
    async (request) => {
      requireAdmin(request);
      return system.backups.run();
    },
  );

  app.get(
    "/api/v1/backup/snapshots",
    {
      schema: {
        summary: "Complete snapshots, oldest first (admin)",
        tags: ["backup"],
        response: responses({ 200: closed({ snapshots: { type: "array", items: SNAPSHOT } }) }),
      },
    },
    async (request) => {
      requireAdmin(request);
      return { snapshots: await system.backups.list() };
    },
  );

  app.post<{ Body: { snapshot_id?: string } | null }>(
    "/api/v1/backup/drill",
    {
      schema: {
        summary: "Restore drill (admin)",
        description:
          "Restores a snapshot (the newest unless `snapshot_id`) into a temporary directory, checks every file's " +
          "size and SHA-256, each table's version and rows, runs a sample search, reports the time and removes it.",
        tags: ["backup"],
        body: {
          type: ["object", "null"],
          additionalProperties: false,
          properties: { snapshot_id: { type: "string", maxLength: 64 } },
        },
        response: responses({
          200: closed({
            snapshot_id: STR,
            created_at: STR,
            files_verified: INT,
            bytes: INT,
            tables: {
              type: "array",
              items: closed({ name: STR, version: INT, rows: INT, expected_rows: INT }),
            },
            search: {
              anyOf: [{ type: "null" }, closed({ user_id: STR, query: STR, hits: INT })],
            },
            restore_ms: INT,
            duration_ms: INT,
            ok: { type: "boolean" },
          }),
        }),
      },
    },
    async (request) => {
      requireAdmin(request);
      return system.backups.drill({ snapshotId: request.body?.snapshot_id });
    },
  );
};
