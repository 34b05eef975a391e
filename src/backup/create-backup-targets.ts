import type { Config } from "../config/load-config.js";
import { SyncError } from "../errors/sync-error.js";
import type { BackupTarget } from "./backup-target.js";
import { LazyS3Target } from "./lazy-s3-target.js";
import { LocalDirTarget } from "./local-dir-target.js";
import type { S3ClientSettings } from "./s3-client.js";
import type { S3Sse, S3TargetOptions } from "./s3-target.js";

/** The backup settings of a {@link Config}. */
export type BackupConfig = Pick<Config, "s3" | "backupDir">;

/** What {@link createBackupTargets} builds. */
export interface BackupTargets {
  /** S3 when `S3_BUCKET` is set, else the local `BACKUP_DIR`, else undefined (backup not configured). */
  primary: BackupTarget | undefined;
  /** The `S3_REPLICA_BUCKET` copy, when configured. */
  replica: BackupTarget | undefined;
  /** Closes the S3 clients' connections; the targets are unusable after. */
  close(): void;
}

/** Options of {@link createBackupTargets}: upload tuning for the S3 targets (tests force multipart with it). */
export type BackupTargetTuning = Pick<
  S3TargetOptions,
  "multipartThresholdBytes" | "partSizeBytes" | "partConcurrency"
>;

/**
 * Builds the backup targets of a configuration: the primary (S3 when `S3_BUCKET` is set, else a local
 * directory when `BACKUP_DIR` is set, else none) and the optional S3 replica (`S3_REPLICA_*`, same
 * credentials, SSE and path-style setting). Sends nothing: a bad bucket or endpoint shows at first use as
 * `SYNC_E_BACKUP_UNAVAILABLE`. Callers that need a target use {@link requirePrimaryTarget}.
 */
export function createBackupTargets(config: BackupConfig, tuning: BackupTargetTuning = {}): BackupTargets {
  const made: LazyS3Target[] = [];
  const s3 = (which: "primary" | "replica"): LazyS3Target => {
    const settings = s3ClientSettings(config, which);
    const where = which === "primary" ? config.s3 : config.s3.replica;
    const target = new LazyS3Target(settings, {
      bucket: where.bucket,
      prefix: where.prefix,
      endpoint: settings.endpoint ?? "",
      ...(s3Sse(config) ? { sse: s3Sse(config) } : {}),
      ...tuning,
    });
    made.push(target);
    return target;
  };
  const primary = config.s3.bucket
    ? s3("primary")
    : config.backupDir
      ? new LocalDirTarget(config.backupDir)
      : undefined;
  const replica = config.s3.bucket && config.s3.replica.bucket ? s3("replica") : undefined;
  return {
    primary,
    replica,
    close: () => {
      for (const t of made.splice(0)) t.destroy();
    },
  };
}

/**
 * The primary target, or `SYNC_E_BACKUP_NOT_CONFIGURED` saying which settings to give (`S3_BUCKET` or
 * `BACKUP_DIR`).
 */
export function requirePrimaryTarget(targets: BackupTargets): BackupTarget {
  if (targets.primary) return targets.primary;
  throw new SyncError(
    "SYNC_E_BACKUP_NOT_CONFIGURED",
    "no backup target is configured: set S3_BUCKET (with S3_ENDPOINT for an S3-compatible store) or BACKUP_DIR (a local directory)",
  );
}

/**
 * Client settings of the primary or the replica bucket: its region and endpoint, path style
 * (`S3_FORCE_PATH_STYLE`, else on exactly when an endpoint is set) and the shared explicit credentials, if
 * any (else the SDK's default chain). Used by the targets and by `setup`'s check.
 */
export function s3ClientSettings(
  config: BackupConfig,
  which: "primary" | "replica" = "primary",
): S3ClientSettings {
  const where = which === "primary" ? config.s3 : config.s3.replica;
  return {
    region: where.region,
    ...(where.endpoint ? { endpoint: where.endpoint } : {}),
    forcePathStyle: config.s3.forcePathStyle ?? Boolean(where.endpoint),
    ...(config.s3.credentials ? { credentials: { ...config.s3.credentials } } : {}),
  };
}

function s3Sse(config: BackupConfig): S3Sse | undefined {
  if (config.s3.sse === "AES256") return { mode: "AES256" };
  if (config.s3.sse === "aws:kms") {
    return { mode: "aws:kms", ...(config.s3.sseKmsKeyId ? { kmsKeyId: config.s3.sseKmsKeyId } : {}) };
  }
  return undefined;
}
