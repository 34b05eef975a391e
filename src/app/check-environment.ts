import { accessSync, constants, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type Config, checkConfigPaths } from "../config/load-config.js";
import type { Embedder } from "../core/embedder.js";
import { describeError } from "../errors/sync-error.js";
import { createEmbedder } from "../pipeline/embed/create-embedder.js";
import { storeOptions } from "./app-context.js";

/** One check of {@link checkEnvironment}. */
export interface EnvironmentCheck {
  name: string;
  ok: boolean;
  /** What was found, or what is wrong and how to fix it. */
  detail: string;
}

/**
 * Checks that lancedb-sync can run here: data directories writable, LanceDB opens, the configured embedder
 * answers with vectors of the expected width, and the backup target: with `S3_BUCKET` the bucket (and the
 * `S3_REPLICA_BUCKET`, if any) answers a HeadBucket; else with `BACKUP_DIR` that directory is writable. Never
 * throws; every problem is a failed check.
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
  checks.push(await checkEmbedder(config, signal));
  if (config.s3.bucket) {
    checks.push(await checkS3(config, "primary", signal));
    if (config.s3.replica.bucket) checks.push(await checkS3(config, "replica", signal));
  } else if (config.backupDir) {
    checks.push(checkBackupDir(config.backupDir));
  } else {
    checks.push({ name: "s3 reachable", ok: true, detail: "S3_BUCKET not set: backup disabled" });
  }
  return checks;
}

/**
 * Creates the configured embedder and embeds one text: the server is reached, the model answers, and its
 * vectors have the width the tables need (`EMBEDDING_DIMENSIONS` when set).
 */
async function checkEmbedder(config: Config, signal?: AbortSignal): Promise<EnvironmentCheck> {
  const e = config.embedding;
  const what =
    e.provider === "hashing" ? "hashing (offline)" : `${e.provider} model ${e.model} at ${e.baseUrl}`;
  const abort = signal ?? AbortSignal.timeout(Math.min(e.deadlineMs, 60_000));
  let embedder: Embedder | undefined;
  try {
    embedder = await createEmbedder(e, abort);
    const [vector] = await embedder.embed(["lancedb-sync setup: embedder check"], abort);
    const width = vector?.length ?? 0;
    const expected = e.dimensions ?? embedder.dimensions;
    if (width !== expected) {
      return {
        name: "embedder answers",
        ok: false,
        detail: `${what}: answered with ${width}-dimensional vectors, expected ${expected} (EMBEDDING_DIMENSIONS)`,
      };
    }
    return {
      name: "embedder answers",
      ok: true,
      detail: `${what}: ${width}-dimensional vectors (${embedder.id})`,
    };
  } catch (err) {
    return { name: "embedder answers", ok: false, detail: `${what}: ${describeError(err)}` };
  } finally {
    await embedder?.close?.();
  }
}

async function checkS3(
  config: Config,
  which: "primary" | "replica",
  signal?: AbortSignal,
): Promise<EnvironmentCheck> {
  const { HeadBucketCommand } = await import("@aws-sdk/client-s3");
  const { createS3Client } = await import("../backup/s3-client.js");
  const { s3ClientSettings } = await import("../backup/create-backup-targets.js");
  const name = which === "primary" ? "s3 reachable" : "s3 replica reachable";
  const bucket = which === "primary" ? config.s3.bucket : config.s3.replica.bucket;
  const client = createS3Client({ ...s3ClientSettings(config, which), maxAttempts: 2 });
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }), {
      abortSignal: signal ?? AbortSignal.timeout(10_000),
    });
    return { name, ok: true, detail: `bucket ${bucket}` };
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return {
      name,
      ok: false,
      detail: `bucket ${bucket}${status ? ` (HTTP ${status})` : ""}: ${describeError(err)}`,
    };
  } finally {
    client.destroy();
  }
}

/** `BACKUP_DIR` (the local backup target) exists or can be made, and is writable. */
function checkBackupDir(dir: string): EnvironmentCheck {
  const name = "backup dir writable";
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return { name, ok: true, detail: dir };
  } catch (err) {
    return { name, ok: false, detail: `BACKUP_DIR ${dir}: ${describeError(err)}` };
  }
}
