import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyStore } from "../../src/api/api-keys.js";
import { createApiApp } from "../../src/api/create-api-app.js";
import type { BackupTarget } from "../../src/backup/backup-target.js";
import { createS3Client } from "../../src/backup/s3-client.js";
import { S3Target } from "../../src/backup/s3-target.js";
import { createSyncSystem, type SyncSystem } from "../../src/index.js";
import {
  createSyncService,
  type SyncService,
  type SyncServiceOptions,
} from "../../src/service/sync-service.js";
import {
  S3_TEST_CREDENTIALS,
  S3_TEST_REGION,
  type S3TestServer,
  startS3Server,
} from "../helpers/s3-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { addFolderSource, dataDir, localTarget, writeCorpus } from "./support.js";

process.env.AWS_EC2_METADATA_DISABLED = "true";

const silentLogger = pino({ level: "silent" });
let tmp: ReturnType<typeof makeTempDir>;
const cleanups: Array<() => Promise<void>> = [];

beforeEach(() => {
  tmp = makeTempDir("backup-service-");
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  tmp.cleanup();
});

interface Served {
  system: SyncSystem;
  service: SyncService;
  app: FastifyInstance;
  admin: string;
  user: string;
  call(
    key: string,
    method: "GET" | "POST",
    url: string,
    body?: unknown,
    // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
  ): Promise<{ status: number; json: any }>;
}

async function serve(targets: BackupTarget[], backup: SyncServiceOptions["backup"]): Promise<Served> {
  const system = createSyncSystem({
    ...dataDir(join(tmp.path, "live")),
    logger: silentLogger,
    enableSourceMonitoring: false,
    backupTargets: targets,
  });
  await system.start();
  const service = createSyncService({ system, logger: silentLogger, backup });
  await service.start();
  const keys = new ApiKeyStore(system.config.api.keysFile);
  const admin = (await keys.create({ admin: true })).key;
  const user = (await keys.create({ userId: "dee" })).key;
  const app = await createApiApp({ system, service, keys, logger: silentLogger });
  cleanups.push(async () => {
    await app.close();
    await service.stop();
    await system.stop();
  });
  return {
    system,
    service,
    app,
    admin,
    user,
    async call(key, method, url, body) {
      const r = await app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}` },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      return {
        status: r.statusCode,
        json: String(r.headers["content-type"]).includes("json") ? r.json() : r.body,
      };
    },
  };
}

/** Polls `check` until it returns true (no timing assertion: the test fails only if it never does). */
async function until(check: () => Promise<boolean>, what: string, limitMs = 60_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("backups in the service", () => {
  it("backs up once syncs settle; admin routes run, list and drill backups; user keys are refused", async () => {
    const root = join(tmp.path, "files");
    writeCorpus(root, 10, 31);
    const s = await serve([localTarget(join(tmp.path, "backups"))], { debounceMs: 100, intervalMs: 0 });
    await addFolderSource(s.system, "dee", "n", root);
    const ticket = await s.service.queue.enqueue({
      kind: "full",
      userId: "dee",
      sourceId: "n",
      reason: "api",
    });
    await s.service.queue.wait(ticket.job_id);
    await until(async () => (await s.system.backups.list()).length === 1, "a backup after the sync settled");
    await s.service.backups.idle();

    const status = await s.call(s.admin, "GET", "/api/v1/backup/status");
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({
      targets: [expect.stringMatching(/^file:\/\//)],
      status: { configured: true, s3_sync_available: 1, pending_syncs: 0, last_backup: { ok: true } },
    });
    expect((await s.call(s.user, "GET", "/api/v1/backup/status")).status).toBe(403);
    expect((await s.call(s.user, "POST", "/api/v1/backup")).status).toBe(403);
    expect((await s.call(s.user, "POST", "/api/v1/backup/drill", {})).status).toBe(403);

    const now = await s.call(s.admin, "POST", "/api/v1/backup");
    expect(now.status).toBe(200);
    expect(now.json).toMatchObject({ files_uploaded: 1, tables: [{ rows: 10 }, {}] });
    const list = await s.call(s.admin, "GET", "/api/v1/backup/snapshots");
    expect(list.json.snapshots.map((x: { snapshot_id: string }) => x.snapshot_id)).toContain(
      now.json.snapshot_id,
    );
    const drill = await s.call(s.admin, "POST", "/api/v1/backup/drill", {
      snapshot_id: now.json.snapshot_id,
    });
    expect(drill.status).toBe(200);
    expect(drill.json).toMatchObject({
      ok: true,
      snapshot_id: now.json.snapshot_id,
      tables: [{ rows: 10, expected_rows: 10 }, {}],
    });
    expect(drill.json.search.hits).toBeGreaterThan(0);
    const api = await s.call(s.admin, "GET", "/api/v1/status");
    expect(api.json.backup).toMatchObject({
      configured: true,
      recovery_point: { snapshot_id: now.json.snapshot_id },
    });
  });

  it("while S3 is down syncs go on and s3_sync_available is 0; the backlog drains with retries when it returns", async () => {
    const server: S3TestServer = await startS3Server();
    cleanups.push(() => server.close());
    const client: S3Client = createS3Client({
      region: S3_TEST_REGION,
      endpoint: server.endpoint,
      credentials: { ...S3_TEST_CREDENTIALS },
      maxAttempts: 1,
      connectTimeoutMs: 500,
    });
    cleanups.push(async () => client.destroy());
    const target = new S3Target({ client, bucket: "backup", prefix: "p/", endpoint: server.endpoint });
    const root = join(tmp.path, "files");
    const paths = writeCorpus(root, 6, 32);
    const s = await serve([target], { debounceMs: 50, intervalMs: 0, retryBaseMs: 100, retryMaxMs: 400 });
    await addFolderSource(s.system, "dee", "n", root);
    const sync = async () => {
      const t = await s.service.queue.enqueue({ kind: "full", userId: "dee", sourceId: "n", reason: "api" });
      return s.service.queue.wait(t.job_id);
    };
    await sync();
    await until(async () => (await s.system.status()).backup?.recovery_point != null, "the first backup");
    await s.service.backups.idle();
    const first = (await s.system.status()).backup?.recovery_point?.snapshot_id;

    await server.stop();
    writeFileSync(paths[0] as string, "# edited during the outage\n\nribbon furnace\n");
    expect((await sync()).updated).toBe(1);
    await until(async () => (await s.system.status()).backup?.s3_sync_available === 0, "the outage noticed");
    const during = await s.call(s.admin, "GET", "/api/v1/status");
    expect(during.json.metrics.s3_sync_available).toBe(0);
    expect(during.json.backup.pending_syncs).toBeGreaterThan(0);
    const metrics = await s.app.inject({
      method: "GET",
      url: "/metrics",
      headers: { authorization: `Bearer ${s.admin}` },
    });
    expect(metrics.body).toMatch(/\ns3_sync_available 0\n/);
    expect(metrics.body).toMatch(/\nlancedb_sync_backup_pending_versions [1-9]/);
    writeFileSync(paths[1] as string, "# edited too\n\nmosaic delta\n");
    expect((await sync()).updated).toBe(1);

    await server.restart();
    await until(async () => {
      const b = (await s.system.status()).backup;
      return b?.s3_sync_available === 1 && b.pending_syncs === 0 && b.recovery_point?.snapshot_id !== first;
    }, "the backlog drained after S3 returned");
    const after = await s.app.inject({
      method: "GET",
      url: "/metrics",
      headers: { authorization: `Bearer ${s.admin}` },
    });
    expect(after.body).toMatch(/\ns3_sync_available 1\n/);
  });
});
