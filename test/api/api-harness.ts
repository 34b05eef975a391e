import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { pino } from "pino";
import { ApiKeyStore } from "../../src/api/api-keys.js";
import { createApiApp } from "../../src/api/create-api-app.js";
import type { ConfigOptions } from "../../src/config/load-config.js";
import { createSyncSystem, type SyncSystem } from "../../src/index.js";
import { createSyncService, type SyncService } from "../../src/service/sync-service.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/** A real system on a temp dir, its API app, and keys for two users and an admin. */
export interface ApiHarness {
  dir: string;
  system: SyncSystem;
  service: SyncService;
  keys: ApiKeyStore;
  app: FastifyInstance;
  /** Every log line the app and the system wrote (JSON text). */
  logs: string[];
  /** Keys: `u1`, `u2` (users) and `admin`. */
  key: { u1: string; u2: string; admin: string };
  /** `inject` with `as` naming whose key to send (`none`: no key). */
  call(as: "u1" | "u2" | "admin" | "none", options: InjectOptions): Promise<LightMyRequestResponse>;
  /** A folder under the temp dir with these files. */
  folder(name: string, files: Record<string, string>): string;
  close(): Promise<void>;
}

/**
 * Builds a {@link ApiHarness}; settings (or a function of the temp dir giving them) override the defaults,
 * e.g. `allowedRoots`, `rateLimitPerMinute`.
 */
export async function startApi(
  given: ConfigOptions | ((dir: string) => ConfigOptions) = {},
): Promise<ApiHarness> {
  const tmp = makeTempDir("api-");
  const settings = typeof given === "function" ? given(tmp.path) : given;
  const logs: string[] = [];
  const logger = pino({ level: "trace" }, { write: (line: string) => void logs.push(line) });
  const system = createSyncSystem({
    lancedbUri: join(tmp.path, "lancedb"),
    stateDbPath: join(tmp.path, "state.db"),
    uploadDir: join(tmp.path, "uploads"),
    logger,
    enableSourceMonitoring: false,
    ...settings,
  });
  await system.start();
  // The real service with monitoring off (unless a test turns it on): runs happen when a test asks for them.
  const service = createSyncService({ system, logger });
  await service.start();
  const keys = new ApiKeyStore(system.config.api.keysFile);
  const key = {
    u1: (await keys.create({ userId: "u1" }, "test u1")).key,
    u2: (await keys.create({ userId: "u2" })).key,
    admin: (await keys.create({ admin: true })).key,
  };
  const app = await createApiApp({ system, service, keys, logger });
  return {
    dir: tmp.path,
    system,
    service,
    keys,
    app,
    logs,
    key,
    call(as, options) {
      const headers = { ...(options.headers ?? {}) } as Record<string, string>;
      if (as !== "none") headers.authorization = `Bearer ${key[as]}`;
      return app.inject({ ...options, headers });
    },
    folder(name, files) {
      const dir = join(tmp.path, name);
      mkdirSync(dir, { recursive: true });
      for (const [f, body] of Object.entries(files)) writeFileSync(join(dir, f), body);
      return dir;
    },
    async close() {
      await app.close();
      await service.stop();
      await system.stop().catch(() => undefined);
      tmp.cleanup();
    },
  };
}

/** A multipart/form-data body of text fields and one file part. */
export function multipartBody(
  fields: Record<string, string>,
  file?: { name: string; content: Buffer | string; field?: string },
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----lancedbsync${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  if (file) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${file.field ?? "file"}"; filename="${file.name}"\r\n` +
          "Content-Type: application/octet-stream\r\n\r\n",
      ),
      Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content),
      Buffer.from("\r\n"),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(chunks),
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
  };
}
