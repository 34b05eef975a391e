import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { checkEnvironment, type EnvironmentCheck } from "../../src/app/check-environment.js";
import { loadConfig } from "../../src/config/load-config.js";
import { type S3TestServer, startS3Server } from "../helpers/s3-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";

describe("setup's backup checks", () => {
  let server: S3TestServer;
  let dir: ReturnType<typeof makeTempDir>;
  beforeAll(async () => {
    server = await startS3Server({ buckets: ["primary", "copy"] });
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    dir = makeTempDir("lancedb-sync-setup-backup-");
  });
  afterEach(() => dir.cleanup());

  const check = async (env: Record<string, string>): Promise<EnvironmentCheck[]> =>
    checkEnvironment(
      loadConfig({
        env: { LANCEDB_URI: join(dir.path, "db"), STATE_DB_PATH: join(dir.path, "state.db"), ...env },
        envFile: join(dir.path, "none.env"),
      }),
    );
  const named = (checks: EnvironmentCheck[], name: string) => checks.find((c) => c.name === name);

  it("checks the primary and the replica bucket with the configured credentials", async () => {
    const ok = await check({ ...server.env, S3_BUCKET: "primary", S3_REPLICA_BUCKET: "copy" });
    expect(named(ok, "s3 reachable")).toEqual({ name: "s3 reachable", ok: true, detail: "bucket primary" });
    expect(named(ok, "s3 replica reachable")).toEqual({
      name: "s3 replica reachable",
      ok: true,
      detail: "bucket copy",
    });
    const missing = await check({ ...server.env, S3_BUCKET: "primary", S3_REPLICA_BUCKET: "nope" });
    expect(named(missing, "s3 reachable")?.ok).toBe(true);
    expect(named(missing, "s3 replica reachable")).toMatchObject({
      ok: false,
      detail: expect.stringContaining("nope"),
    });
    expect(named(missing, "s3 replica reachable")?.detail).toContain("HTTP 404");
  });

  it("without S3_BUCKET, BACKUP_DIR must be a writable directory", async () => {
    const backupDir = join(dir.path, "backups", "nested");
    const ok = await check({ BACKUP_DIR: backupDir });
    expect(named(ok, "backup dir writable")).toEqual({
      name: "backup dir writable",
      ok: true,
      detail: backupDir,
    });
    expect(existsSync(backupDir)).toBe(true);
    expect(named(ok, "s3 reachable")).toBeUndefined();

    const file = join(dir.path, "a-file");
    writeFileSync(file, "x");
    const bad = await check({ BACKUP_DIR: file });
    const paths = named(bad, "paths");
    expect(paths?.ok).toBe(false);
    expect(paths?.detail).toContain("BACKUP_DIR");
    expect(paths?.detail).toContain(file);
  });

  it("with neither, backup is reported as disabled", async () => {
    const checks = await check({});
    expect(named(checks, "s3 reachable")).toMatchObject({
      ok: true,
      detail: expect.stringContaining("disabled"),
    });
  });
});
