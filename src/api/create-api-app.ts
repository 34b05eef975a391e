import multipart from "@fastify/multipart";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { Logger as PinoLogger } from "pino";
import type { SyncSystem } from "../app/sync-system.js";
import { SyncError } from "../errors/sync-error.js";
import { REDACT_PATHS } from "../logging/create-logger.js";
import type { SyncServiceView } from "../service/service-types.js";
import type { ApiKeyStore } from "./api-keys.js";
import { createApiMetrics } from "./api-metrics.js";
import { installAuth } from "./auth.js";
import { frameworkError, installErrorHandling, MAX_PARAM_LENGTH } from "./error-handler.js";
import { backupRoutes } from "./routes/backup-routes.js";
import { documentRoutes } from "./routes/document-routes.js";
import { healthRoutes } from "./routes/health-routes.js";
import { maintenanceRoutes } from "./routes/maintenance-routes.js";
import { metricsRoutes } from "./routes/metrics-routes.js";
import { notionWebhookRoutes } from "./routes/notion-webhook-routes.js";
import type { RouteDeps } from "./routes/route-deps.js";
import { searchRoutes } from "./routes/search-routes.js";
import { sourceRoutes } from "./routes/source-routes.js";
import { statusRoutes } from "./routes/status-routes.js";
import { statusPagePlugin } from "./status-page.js";

/** Options of {@link createApiApp}. */
export interface ApiAppOptions {
  system: SyncSystem;
  service: SyncServiceView;
  keys: ApiKeyStore;
  /** Fastify logs through a child of this pino logger (request headers are never logged). */
  logger: PinoLogger;
  /** PEM certificate and key: the app then speaks HTTPS (`TLS_CERT_FILE`, `TLS_KEY_FILE`). */
  https?: { cert: Buffer; key: Buffer };
}

/**
 * Log paths removed from the API's log lines, whatever logs them (Fastify logs no headers, but a plugin may at
 * trace level: @fastify/multipart logs its busboy options, request headers included). A child's redaction
 * replaces its parent's, so the shared paths are included.
 */
const REDACTED = [
  ...new Set([
    ...REDACT_PATHS,
    "headers.authorization",
    'headers["x-api-key"]',
    "*.headers.authorization",
    '*.headers["x-api-key"]',
    '["x-api-key"]',
  ]),
];

const NO_QUERY = { type: "object", additionalProperties: false, properties: {} } as const;

/**
 * Builds the HTTP API of the service (Fastify 5), not listening: tests call `inject()`, `serve` calls `listen`
 * (more plugins, such as the status page, may be registered before either). Every route has a JSON schema
 * (unknown fields and wrong types are 400: nothing is coerced or dropped), every error is `{ error: { code,
 * message } }` with its code's status, every route but `/health`, `/docs` and the status page needs an API
 * key, requests are rate limited per key (`RATE_LIMIT_PER_MINUTE`; per address without a valid key), JSON
 * bodies are limited to `MAX_REQUEST_BODY_KB` and uploads to `MAX_FILE_SIZE_MB`. OpenAPI at `/docs/json`,
 * its UI at `/docs`. Closing the app detaches its metrics from the system's events.
 */
export async function createApiApp(options: ApiAppOptions): Promise<FastifyInstance> {
  const { system, service, keys } = options;
  const { config } = system;
  const app = Fastify({
    loggerInstance: options.logger.child(
      { component: "api" },
      { redact: { paths: REDACTED, remove: true } },
    ) as FastifyBaseLogger,
    bodyLimit: config.api.maxBodyBytes,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkError,
    // One debug line per request (below) instead of Fastify's two info lines: a polled service would log
    // every status-page refresh and health check.
    logController: new LogController({ disableRequestLogging: true }),
    ...(options.https ? { https: options.https } : {}),
  }) as unknown as FastifyInstance;

  app.addHook("onResponse", async (request, reply) => {
    request.log.debug(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      "request",
    );
  });
  installErrorHandling(app);
  installAuth(app, keys);
  // A query string on an API route that takes none is refused like an unknown body field (a `user_id` there
  // must not look accepted while the body's is used).
  app.addHook("onRoute", (route) => {
    if (!route.url.startsWith("/api/") || !route.schema || route.schema.querystring) return;
    route.schema = { ...route.schema, querystring: NO_QUERY };
  });

  await app.register(rateLimit, {
    global: true,
    max: config.api.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => (request.principal ? `key:${request.principal.keyHash}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) =>
      new SyncError(
        "SYNC_E_RATE_LIMITED",
        `too many requests: at most ${context.max} a minute; retry in ${context.after}`,
      ),
  });
  await app.register(multipart, { limits: { fileSize: config.maxFileBytes } });
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "lancedb-sync",
        description:
          "Keeps a LanceDB knowledge base in step with documents where they live. Every route but /health, " +
          "/docs and the status page needs an API key: `Authorization: Bearer <key>` or `X-API-Key: <key>`. " +
          'Errors are `{ "error": { "code": "SYNC_E_…", "message": "…" } }`.',
        version: "1",
      },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "An API key as a bearer token." },
          apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  const metrics = createApiMetrics(system, service);
  app.addHook("onClose", async () => metrics.close());
  const deps: RouteDeps = { system, service, metrics };
  await app.register(healthRoutes);
  await app.register(statusRoutes, deps);
  await app.register(sourceRoutes, deps);
  await app.register(documentRoutes, deps);
  await app.register(searchRoutes, deps);
  await app.register(maintenanceRoutes, deps);
  await app.register(backupRoutes, deps);
  await app.register(metricsRoutes, deps);
  await app.register(notionWebhookRoutes, deps);
  await app.register(statusPagePlugin);
  return app;
}
