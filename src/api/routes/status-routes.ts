import type { FastifyPluginAsync } from "fastify";
import { serviceGauges } from "../api-metrics.js";
import { principalOf, scopeUser } from "../auth.js";
import { BACKUP_STATUS } from "../backup-schemas.js";
import {
  closed,
  FAILURE,
  JOB_RECORD,
  MONITOR,
  RUN_ACTIVITY,
  responses,
  SERVICE_METRICS,
  TABLE_HEALTH,
  USER_ID,
} from "../schemas.js";
import type { RouteDeps } from "./route-deps.js";

const STR = { type: "string" } as const;
const INT = { type: "integer" } as const;
const NULLABLE_STR = { type: ["string", "null"] } as const;

const SCOPE_QUERY = {
  type: "object",
  additionalProperties: false,
  properties: { user_id: USER_ID },
} as const;

const STATUS = closed({
  documents: INT,
  chunks: INT,
  failed: INT,
  pending: INT,
  embedder: STR,
  table_embedder: NULLABLE_STR,
  local_db_available: { type: "boolean" },
  tables: {
    type: "array",
    items: TABLE_HEALTH,
    description: "Store-wide table health; empty in a per-user report.",
  },
  store: closed({ state: STR, detail: NULLABLE_STR }),
  sources: {
    type: "array",
    items: closed({
      user_id: STR,
      name: STR,
      type: STR,
      healthy: { type: "boolean" },
      last_error: NULLABLE_STR,
    }),
  },
  last_run: {
    anyOf: [
      { type: "null" },
      closed({
        run_id: INT,
        user_id: STR,
        source: STR,
        status: STR,
        started_at: STR,
        finished_at: NULLABLE_STR,
        stats: {},
        error: NULLABLE_STR,
      }),
    ],
  },
  failures: { type: "array", items: FAILURE },
  service: closed({
    started_at: NULLABLE_STR,
    monitoring: { type: "boolean" },
    sources_monitored: INT,
  }),
  monitors: { type: "array", items: MONITOR },
  metrics: SERVICE_METRICS,
  backup: {
    anyOf: [{ type: "null" }, BACKUP_STATUS],
    description: "Backup state (store-wide reports only; null in a per-user report).",
  },
});

/** `GET /api/v1/me`, `GET /api/v1/status` and `GET /api/v1/sync/status`. */
export const statusRoutes: FastifyPluginAsync<RouteDeps> = async (app, { system, service }) => {
  app.get(
    "/api/v1/me",
    {
      schema: {
        summary: "Who the API key acts as",
        tags: ["service"],
        response: responses({
          200: closed({
            role: { type: "string", enum: ["user", "admin"] },
            user_id: NULLABLE_STR,
          }),
        }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      return p.kind === "admin" ? { role: "admin", user_id: null } : { role: "user", user_id: p.userId };
    },
  );

  app.get<{ Querystring: { user_id?: string } }>(
    "/api/v1/status",
    {
      schema: {
        summary: "Status report",
        description:
          "Documents, chunks, failed and pending items, sources and their health, the last run, the service's " +
          "monitors and gauges. A user key gets its own user's report (no store-wide table figures); an admin " +
          "key the whole store's, or one user's with `user_id`.",
        tags: ["service"],
        querystring: SCOPE_QUERY,
        response: responses({ 200: STATUS }),
      },
    },
    async (request) => {
      const userId = scopeUser(request, request.query.user_id);
      const report = await system.status({ userId });
      const metrics = serviceGauges(report, service, userId);
      return {
        ...report,
        service: {
          started_at: service.startedAt,
          monitoring: service.monitoring,
          sources_monitored: metrics.sources_monitored,
        },
        monitors: service.monitors(userId),
        metrics,
        backup: report.backup ?? null,
      };
    },
  );

  app.get<{ Querystring: { user_id?: string } }>(
    "/api/v1/sync/status",
    {
      schema: {
        summary: "Runs in progress, queued and recent, and failed items",
        description:
          "`running` runs carry their progress (`done` of `total` items); `recent` lists finished jobs, newest " +
          "first; `failures` the items whose last sync failed.",
        tags: ["sync"],
        querystring: SCOPE_QUERY,
        response: responses({
          200: closed({
            running: { type: "array", items: RUN_ACTIVITY },
            queued: { type: "array", items: RUN_ACTIVITY },
            recent: { type: "array", items: JOB_RECORD },
            failures: { type: "array", items: FAILURE },
          }),
        }),
      },
    },
    async (request) => {
      const userId = scopeUser(request, request.query.user_id);
      const { running, queued } = service.queue.activity(userId);
      const recent = service.queue.recent(userId);
      const { failures } = await system.status({ userId });
      return { running, queued, recent, failures };
    },
  );
};
