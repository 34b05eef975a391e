import { join } from "node:path";
import multipart from "@fastify/multipart";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import {
  type ConfigOptions,
  createSyncSystem,
  ERROR_CODES,
  isSyncError,
  type SyncSystem,
} from "lancedb-sync";
import { documentRoutes } from "./routes.js";

declare module "fastify" {
  interface FastifyInstance {
    /** The lancedb-sync system this app serves (started on `ready`, stopped on `close`). */
    system: SyncSystem;
  }
}

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /** Holds `lancedb/`, `state.db` and `uploads/`. */
  dataDir: string;
  /** Fastify's request log (default off). */
  logger?: boolean;
  /** More lancedb-sync settings in camelCase (e.g. `maxFileSizeMb`); the paths above win. */
  settings?: ConfigOptions;
}

/** The error body of every non-2xx answer. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * A host application of lancedb-sync: per-user uploads, search and deletion over HTTP. Builds the app
 * without listening (tests call `inject()`); the system starts on `ready` and stops on `close`.
 *
 * @example
 * const app = buildApp({ dataDir: "./data/host-app" });
 * await app.listen({ port: 3000 });
 */
export function buildApp(options: BuildAppOptions): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false });
  const system = createSyncSystem({
    ...options.settings,
    lancedbUri: join(options.dataDir, "lancedb"),
    stateDbPath: join(options.dataDir, "state.db"),
    uploadDir: join(options.dataDir, "uploads"),
    logLevel: "warn",
  });
  app.decorate("system", system);
  app.addHook("onReady", async () => {
    await system.start();
  });
  app.addHook("onClose", async () => {
    await system.stop();
  });

  app.register(multipart, {
    // A file one byte over the limit still reaches the library, which answers SYNC_E_FILE_TOO_LARGE; a larger
    // one trips multipart's own limit, mapped to the same code by toErrorBody.
    limits: { fileSize: system.config.maxFileBytes + 1, files: 1, fields: 10 },
    // Busboy would cut "../../etc/passwd" down to "passwd"; the library refuses paths with a clear
    // SYNC_E_FILENAME_INVALID instead, so the client learns its file name was wrong.
    preservePath: true,
  });
  app.register(documentRoutes);

  app.get("/health", async () => ({ status: "ok" }));

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, body } = toErrorBody(err);
    if (status >= 500) request.log.error({ err }, "request failed");
    return reply.status(status).send(body);
  });
  return app;
}

/** The HTTP status and body of a thrown error: lancedb-sync's codes by their table, Fastify's by theirs. */
export function toErrorBody(err: FastifyError): { status: number; body: ErrorBody } {
  if (isSyncError(err)) {
    return {
      status: ERROR_CODES[err.code].status,
      body: { error: { code: err.code, message: err.message } },
    };
  }
  if (err.code === "FST_REQ_FILE_TOO_LARGE") {
    return {
      status: ERROR_CODES.SYNC_E_FILE_TOO_LARGE.status,
      body: {
        error: {
          code: "SYNC_E_FILE_TOO_LARGE",
          message: "the file exceeds the size limit (MAX_FILE_SIZE_MB)",
        },
      },
    };
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { status, body: { error: { code: "SYNC_E_INVALID_ARGUMENT", message: err.message } } };
  }
  return { status: 500, body: { error: { code: "SYNC_E_INTERNAL", message: "internal error" } } };
}
