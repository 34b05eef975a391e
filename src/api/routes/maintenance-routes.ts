import type { FastifyPluginAsync } from "fastify";
import { checkAllowedRoots } from "../allowed-roots.js";
import { requireAdmin, scopeUser } from "../auth.js";
import { closed, ID, responses, TABLE_HEALTH, USER_ID } from "../schemas.js";
import type { RouteDeps } from "./route-deps.js";

/**
 * `POST /api/v1/maintenance/cleanup-failed`, and (admin) `POST /api/v1/maintenance/compact` and
 * `POST /api/v1/maintenance/migrate`.
 */
export const maintenanceRoutes: FastifyPluginAsync<RouteDeps> = async (app, { system }) => {
  app.post<{ Body: { user_id?: string; source_id?: string } | null }>(
    "/api/v1/maintenance/cleanup-failed",
    {
      schema: {
        summary: "Forget failed items",
        description:
          "Forgets failure records so the items are retried afresh: a user key its own (optionally one " +
          "source's); an admin key every user's, or one user's (`user_id`, then optionally `source_id`).",
        tags: ["maintenance"],
        body: {
          type: ["object", "null"],
          additionalProperties: false,
          properties: { user_id: USER_ID, source_id: ID },
        },
        response: responses({ 200: closed({ removed: { type: "integer" } }) }),
      },
    },
    async (request) => {
      const b = request.body ?? {};
      const userId = scopeUser(request, b.user_id);
      const removed = await system.cleanupFailed({ userId, sourceId: b.source_id });
      return { removed };
    },
  );

  app.post<{ Body: { retention_hours?: number } | null }>(
    "/api/v1/maintenance/compact",
    {
      schema: {
        summary: "Compact the tables (admin)",
        description:
          "Compacts both tables, refreshes the full-text index and removes versions older than " +
          "`retention_hours` (default VERSION_RETENTION_HOURS), under the writer lock. Admin keys only.",
        tags: ["maintenance"],
        body: {
          type: ["object", "null"],
          additionalProperties: false,
          properties: { retention_hours: { type: "number", minimum: 0, maximum: 87_600 } },
        },
        response: responses({
          200: closed({
            before: { type: "array", items: TABLE_HEALTH },
            after: { type: "array", items: TABLE_HEALTH },
            retention_hours: { type: "number" },
          }),
        }),
      },
    },
    async (request) => {
      requireAdmin(request);
      return system.compact({ retentionHours: request.body?.retention_hours });
    },
  );

  app.post<{ Body: MigrateBody }>(
    "/api/v1/maintenance/migrate",
    {
      schema: {
        summary: "Migrate a legacy LanceDB table (admin)",
        description:
          "Brings a LanceDB table of another application into the store (see `lancedb-sync migrate`): exactly " +
          "one of `all_users`, `user_id`, `assign_user`; `map` overrides detected columns (column → field); " +
          "`dry_run` reads and checks everything and writes nothing. A local `from` or a `root` must lie under " +
          "ALLOWED_ROOTS. Counts of skipped rows (by reason, with example row ids) add up to `source_rows`. " +
          "Admin keys only.",
        tags: ["maintenance"],
        body: {
          type: "object",
          additionalProperties: false,
          required: ["table"],
          properties: {
            from: STRING,
            table: { type: "string", minLength: 1, maxLength: 1024 },
            all_users: { type: "boolean" },
            user_id: USER_ID,
            assign_user: USER_ID,
            map: { type: "object", additionalProperties: { type: "string" }, maxProperties: 64 },
            source_id: ID,
            root: STRING,
            legacy_embedder: STRING,
            reembed: { type: "boolean" },
            dry_run: { type: "boolean" },
          },
        },
        response: responses({ 200: MIGRATE_REPORT }),
      },
    },
    async (request) => {
      requireAdmin(request);
      const b = request.body;
      const roots = system.config.api.allowedRoots;
      for (const path of [b.from, b.root]) {
        if (path !== undefined && !path.includes("://")) {
          await checkAllowedRoots("local_filesystem", { watch_paths: [path] }, roots);
        }
      }
      return system.migrate({
        from: b.from,
        table: b.table,
        allUsers: b.all_users === true ? true : undefined,
        userId: b.user_id,
        assignUser: b.assign_user,
        map: b.map,
        sourceName: b.source_id,
        root: b.root,
        legacyEmbedder: b.legacy_embedder,
        reembed: b.reembed,
        dryRun: b.dry_run,
      });
    },
  );
};

/** Body of `POST /api/v1/maintenance/migrate`. */
interface MigrateBody {
  from?: string;
  table: string;
  all_users?: boolean;
  user_id?: string;
  assign_user?: string;
  map?: Record<string, string>;
  source_id?: string;
  root?: string;
  legacy_embedder?: string;
  reembed?: boolean;
  dry_run?: boolean;
}

const STRING = { type: "string", minLength: 1, maxLength: 4096 } as const;
const COUNT = { type: "integer" } as const;
const OPEN = { type: "object", additionalProperties: true } as const;

/** The `MigrateReport` of the library, as the API sends it. */
const MIGRATE_REPORT = closed({
  dry_run: { type: "boolean" },
  from: { type: "string" },
  table: { type: "string" },
  version: COUNT,
  resumed: { type: "boolean" },
  mapping: { type: "object", additionalProperties: { type: "string" } },
  source_rows: COUNT,
  rows_migrated: COUNT,
  documents: COUNT,
  chunks: COUNT,
  skipped: OPEN,
  vectors: { type: "string", enum: ["kept", "reembedded"] },
  vectors_reason: { type: "string" },
  vectors_kept: COUNT,
  reembedded: COUNT,
  written_documents: COUNT,
  unchanged_documents: COUNT,
  users: COUNT,
  per_user: {
    type: "array",
    items: closed({
      user_id: { type: "string" },
      source_id: { type: "string" },
      source_type: { type: "string" },
      documents: COUNT,
      chunks: COUNT,
      written: COUNT,
      unchanged: COUNT,
    }),
  },
  root: { anyOf: [{ type: "null" }, OPEN] },
  problems: { type: "array", items: { type: "string" } },
  duration_ms: COUNT,
});
