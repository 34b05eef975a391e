import { existsSync } from "node:fs";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type BackupTargets,
  createBackupTargets,
  requirePrimaryTarget,
  s3ClientSettings,
} from "../../src/backup/create-backup-targets.js";
import { LazyS3Target } from "../../src/backup/lazy-s3-target.js";
import { LocalDirTarget } from "../../src/backup/local-dir-target.js";
import { type Config, loadConfig } from "../../src/config/load-config.js";
import { isSyncError, type SyncError } from "../../src/errors/sync-error.js";
import { thrown } from "../helpers/caught.js";
import { type S3TestServer, startS3Server } from "../helpers/s3-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";

let dir: ReturnType<typeof makeTempDir>;
const opened: BackupTargets[] = [];
beforeEach(() => {
  dir = makeTempDir("lancedb-sync-targets-");
});
afterEach(() => {
  for (const t of opened.splice(0)) t.close();
  dir.cleanup();
});

/** Config from exactly `env` (never the process environment or a `.env` file). */
const load = (env: Record<string, string>): Config =>
  loadConfig({ env, envFile: join(dir.path, "none.env") });
const build = (env: Record<string, string>): BackupTargets => {
  const targets = createBackupTargets(load(env));
  opened.push(targets);
  return targets;
};
const configError = (env: Record<string, string>): SyncError => {
  const err = thrown(() => load(env));
  expect(isSyncError(err, "SYNC_E_CONFIG_INVALID"), String(err)).toBe(true);
  return err as SyncError;
};

describe("createBackupTargets from config", () => {
  it("nothing configured: no target, and requirePrimaryTarget says which settings to give", () => {
    const targets = build({});
    expect(targets.primary).toBeUndefined();
    expect(targets.replica).toBeUndefined();
    const err = thrown(() => requirePrimaryTarget(targets));
    expect(isSyncError(err, "SYNC_E_BACKUP_NOT_CONFIGURED")).toBe(true);
    expect((err as Error).message).toContain("S3_BUCKET");
    expect((err as Error).message).toContain("BACKUP_DIR");
  });

  it("BACKUP_DIR alone: a local directory target there", async () => {
    const backupDir = join(dir.path, "backups");
    const targets = build({ BACKUP_DIR: backupDir });
    const primary = requirePrimaryTarget(targets);
    expect(primary).toBeInstanceOf(LocalDirTarget);
    expect(primary.location).toBe(`file://${backupDir}/`);
    expect(targets.replica).toBeUndefined();
    await primary.putIfAbsent("snapshots/x.json", { bytes: new TextEncoder().encode("{}") });
    expect(existsSync(join(backupDir, "snapshots", "x.json"))).toBe(true);
  });

  it("S3_BUCKET wins over BACKUP_DIR", () => {
    const targets = build({
      S3_BUCKET: "b",
      BACKUP_DIR: join(dir.path, "unused"),
      S3_ENDPOINT: "http://127.0.0.1:9",
    });
    expect(targets.primary).toBeInstanceOf(LazyS3Target);
    expect(targets.primary?.location).toBe("s3://b/lancedb-sync/");
  });

  it("client settings: path style follows the endpoint unless set; explicit credentials only when given", () => {
    const aws = s3ClientSettings(load({ S3_BUCKET: "b", AWS_REGION: "eu-central-1" }));
    expect(aws).toEqual({ region: "eu-central-1", forcePathStyle: false });
    expect(aws.credentials).toBeUndefined();
    const compatible = s3ClientSettings(
      load({
        S3_BUCKET: "b",
        S3_ENDPOINT: "https://account.r2.example",
        AWS_REGION: "auto",
        AWS_ACCESS_KEY_ID: "AKID",
        AWS_SECRET_ACCESS_KEY: "SECRET",
        AWS_SESSION_TOKEN: "TOKEN",
      }),
    );
    expect(compatible).toEqual({
      region: "auto",
      endpoint: "https://account.r2.example",
      forcePathStyle: true,
      credentials: { accessKeyId: "AKID", secretAccessKey: "SECRET", sessionToken: "TOKEN" },
    });
    const virtualHosted = s3ClientSettings(
      load({ S3_BUCKET: "b", S3_ENDPOINT: "https://s3.example", S3_FORCE_PATH_STYLE: "false" }),
    );
    expect(virtualHosted.forcePathStyle).toBe(false);
  });

  it("the replica defaults to the primary's prefix, endpoint and region, and overrides each", () => {
    const base = { S3_BUCKET: "main", S3_ENDPOINT: "http://127.0.0.1:9", AWS_REGION: "us-east-1" };
    const same = load({ ...base, S3_REPLICA_BUCKET: "copy" });
    expect(same.s3.replica).toEqual({
      bucket: "copy",
      prefix: "lancedb-sync/",
      endpoint: "http://127.0.0.1:9",
      region: "us-east-1",
    });
    const other = load({
      ...base,
      S3_REPLICA_BUCKET: "copy",
      S3_REPLICA_PREFIX: "dr/",
      S3_REPLICA_ENDPOINT: "http://127.0.0.1:10",
      S3_REPLICA_REGION: "eu-west-1",
    });
    expect(s3ClientSettings(other, "replica")).toMatchObject({
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:10",
      forcePathStyle: true,
    });
    const targets = createBackupTargets(other);
    opened.push(targets);
    expect(targets.replica?.location).toBe("s3://copy/dr/");
  });

  it.each([
    [{ S3_SSE: "AES-256" }, "S3_SSE", '"AES-256"'],
    [{ S3_SSE_KMS_KEY_ID: "key-1" }, "S3_SSE_KMS_KEY_ID", "aws:kms"],
    [{ S3_SSE: "AES256", S3_SSE_KMS_KEY_ID: "key-1" }, "S3_SSE_KMS_KEY_ID", '"key-1"'],
    [{ S3_FORCE_PATH_STYLE: "sometimes" }, "S3_FORCE_PATH_STYLE", '"sometimes"'],
    [{ AWS_ACCESS_KEY_ID: "AKID" }, "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"],
    [{ AWS_SECRET_ACCESS_KEY: "s3cr3t-value" }, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    [{ AWS_SESSION_TOKEN: "tok3n-value" }, "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"],
    [{ S3_REPLICA_ENDPOINT: "http://127.0.0.1:9" }, "S3_REPLICA_ENDPOINT", "S3_REPLICA_BUCKET"],
    [{ S3_REPLICA_BUCKET: "copy" }, "S3_REPLICA_BUCKET", "S3_BUCKET"],
    [{ S3_BUCKET: "b", S3_REPLICA_BUCKET: "b" }, "S3_REPLICA_BUCKET", "the primary itself"],
    [{ S3_BUCKET: "b", S3_REPLICA_ENDPOINT: "not a url" }, "S3_REPLICA_ENDPOINT", '"not a url"'],
    [{ S3_BUCKET: "my bucket" }, "S3_BUCKET", '"my bucket"'],
    [{ S3_BUCKET: "b", S3_PREFIX: "a/../b" }, "S3_PREFIX", '"a/../b"'],
    [{ AWS_REGION: "us east" }, "AWS_REGION", '"us east"'],
  ])("%j is a config error naming %s (%s)", (env, name, detail) => {
    const err = configError(env as Record<string, string>);
    expect(err.message).toContain(name);
    expect(err.message).toContain(detail);
  });

  it("secrets never appear in a config error", () => {
    const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
    const token = "FwoGZXIvYXdzEXAMPLETOKEN";
    for (const env of <Record<string, string>[]>[
      { AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token },
      { AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token, MAX_CONCURRENT_PROCESSING: "x" },
    ]) {
      const err = configError(env);
      expect(err.message).not.toContain(secret);
      expect(err.message).not.toContain(token);
    }
  });

  it("accepts any region name and a replica in the same bucket under another prefix", () => {
    const c = load({ S3_BUCKET: "b", AWS_REGION: "auto", S3_REPLICA_BUCKET: "b", S3_REPLICA_PREFIX: "copy" });
    expect(c.s3.region).toBe("auto");
    expect(c.s3.replica.prefix).toBe("copy");
  });
});

describe("createBackupTargets against s3rver", () => {
  let server: S3TestServer;
  beforeAll(async () => {
    server = await startS3Server({ buckets: ["primary", "replica"] });
  });
  afterAll(async () => {
    await server.close();
  });

  it("the env of the test server gives working primary and replica targets, with SSE from config", async () => {
    const targets = build({
      ...server.env,
      S3_BUCKET: "primary",
      S3_PREFIX: "team-a",
      S3_REPLICA_BUCKET: "replica",
      S3_SSE: "aws:kms",
      S3_SSE_KMS_KEY_ID: "alias/backups",
    });
    const primary = await (requirePrimaryTarget(targets) as LazyS3Target).resolve();
    const replica = await (targets.replica as LazyS3Target).resolve();
    expect(primary.location).toBe("s3://primary/team-a/");
    expect(replica.location).toBe("s3://replica/team-a/");
    const headers: Record<string, string>[] = [];
    primary.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "PutObjectCommand") {
          headers.push({ ...((args.request as { headers?: Record<string, string> }).headers ?? {}) });
        }
        return next(args);
      },
      { step: "finalizeRequest", name: "capture" },
    );
    const body = { bytes: new TextEncoder().encode("snapshot") };
    expect(await primary.putIfAbsent("snapshots/1.json", body)).toBe("created");
    expect(await replica.putIfAbsent("snapshots/1.json", body)).toBe("created");
    expect(headers[0]?.["x-amz-server-side-encryption"]).toBe("aws:kms");
    expect(headers[0]?.["x-amz-server-side-encryption-aws-kms-key-id"]).toBe("alias/backups");
    for (const bucket of ["primary", "replica"]) {
      const listed = await primary.client.send(new ListObjectsV2Command({ Bucket: bucket }));
      expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(["team-a/snapshots/1.json"]);
    }
    targets.close();
    opened.splice(opened.indexOf(targets), 1);
  });
});
