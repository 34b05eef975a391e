import type { FastifyPluginAsync } from "fastify";
import { requireAdmin } from "../auth.js";
import { responses } from "../schemas.js";
import type { RouteDeps } from "./route-deps.js";

/** `GET /metrics` (admin): Prometheus text format. */
export const metricsRoutes: FastifyPluginAsync<RouteDeps> = async (app, { metrics }) => {
  app.get(
    "/metrics",
    {
      schema: {
        summary: "Prometheus metrics (admin)",
        description:
          "Gauges `pending_syncs`, `failed_syncs`, `local_db_available`, `s3_sync_available`, " +
          "`sources_monitored` and `lancedb_sync_table_rows|versions|fragments{table}` (read at scrape time); " +
          "counters `lancedb_sync_items_processed_total{source_type,result}`, " +
          "`lancedb_sync_items_failed_total{source_type}`, `lancedb_sync_chunks_embedded_total`, " +
          "`lancedb_sync_chunks_reused_total`, `lancedb_sync_runs_total{kind,status}`; the histogram " +
          "`lancedb_sync_run_duration_seconds{source_type,kind}`; Node's default metrics (`nodejs_eventloop_lag_*`).",
        tags: ["service"],
        produces: ["text/plain"],
        response: responses({ 200: { type: "string", description: "Prometheus text exposition format." } }),
      },
    },
    async (request, reply) => {
      requireAdmin(request);
      const text = await metrics.render();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
};
