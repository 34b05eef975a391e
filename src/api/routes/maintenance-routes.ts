import type { FastifyPluginAsync } from "fastify";
import { requireAdmin, scopeUser } from "../auth.js";
import { closed, ID, responses, TABLE_HEALTH, USER_ID } from "../schemas.js";
import type { RouteDeps } from "./route-deps.js";

/** `POST /api/v1/maintenance/cleanup-failed` and (admin) `POST /api/v1/maintenance/compact`. */
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
};
