import { accessSync, constants, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type Config, checkConfigPaths } from "../config/load-config.js";
import { describeError } from "../errors/sync-error.js";
import { storeOptions } from "./app-context.js";

/** One check of {@link checkEnvironment}. */
export interface EnvironmentCheck {
  name: string;
  ok: boolean;
  /** What was found, or what is wrong and how to fix it. */
  detail: string;
}

/**
 * Checks that lancedb-sync can run here: data directories writable, LanceDB opens, and — only when
 * `S3_BUCKET` is set — the bucket answers a HeadBucket. Never throws; every problem is a failed check.
 */
export async function checkEnvironment(config: Config, signal?: AbortSignal): Promise<EnvironmentCheck[]> {
  const checks: EnvironmentCheck[] = [];
  try {
    checkConfigPaths(config);
  } catch (err) {
    // Creating the directories could hang (Node's recursive mkdir under /proc) or fail obscurely: stop here.
    checks.push({ name: "paths", ok: false, detail: describeError(err) });
    return checks;
  }
  const dirs: [string, string][] = [["state dir writable", dirname(config.stateDbPath)]];
  if (!config.lancedbUri.includes("://")) dirs.push(["lancedb dir writable", config.lancedbUri]);
  for (const [name, dir] of dirs) {
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
      checks.push({ name, ok: true, detail: dir });
    } catch (err) {
      checks.push({ name, ok: false, detail: `${dir}: ${describeError(err)}` });
    }
  }
  const { LanceDbStore } = await import("../storage/lancedb-store.js");
  const store = new LanceDbStore(storeOptions(config));
  try {
    const exists = await store.openExisting();
    checks.push({ name: "lancedb opens", ok: true, detail: exists ? "tables present" : "no tables yet" });
  } catch (err) {
    checks.push({ name: "lancedb opens", ok: false, detail: describeError(err) });
  } finally {
    await store.close();
  }
  if (config.s3.bucket) checks.push(await checkS3(config, signal));
  else checks.push({ name: "s3 reachable", ok: true, detail: "S3_BUCKET not set: backup disabled" });
  return checks;
}

async function checkS3(config: Config, signal?: AbortSignal): Promise<EnvironmentCheck> {
  const { HeadBucketCommand } = await import("@aws-sdk/client-s3");
  const { createS3Client } = await import("../backup/s3-client.js");
  const { s3ClientSettings } = await import("../backup/create-backup-targets.js");
  const client = createS3Client({ ...s3ClientSettings(config), maxAttempts: 2 });
  try {
    await client.send(new HeadBucketCommand({ Bucket: config.s3.bucket }), {
      abortSignal: signal ?? AbortSignal.timeout(10_000),
    });
    return { name: "s3 reachable", ok: true, detail: `bucket ${config.s3.bucket}` };
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return {
      name: "s3 reachable",
      ok: false,
      detail: `bucket ${config.s3.bucket}${status ? ` (HTTP ${status})` : ""}: ${describeError(err)}`,
    };
  } finally {
    client.destroy();
  }
}
