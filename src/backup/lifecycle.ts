import {
  GetBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  PutBucketLifecycleConfigurationCommand,
} from "@aws-sdk/client-s3";
import { SyncError } from "../errors/sync-error.js";
import type { BackupTarget } from "./backup-target.js";
import { LazyS3Target } from "./lazy-s3-target.js";
import { S3Target } from "./s3-target.js";

/** Options of {@link applyLifecycle}. */
export interface LifecycleOptions {
  /** Days after which a version that is no longer current (overwritten or deleted) is removed; ≥ 1. */
  noncurrentDays: number;
  /** Days after which an unfinished multipart upload is aborted (its parts removed); ≥ 1. */
  abortMultipartDays: number;
}

/** Outcome of {@link applyLifecycle}. */
export type LifecycleResult =
  | {
      applied: true;
      /** The rules written for this target's prefix. */
      rules: LifecycleRule[];
      /** Rules of the bucket for other prefixes or tools, kept as they were. */
      keptRules: number;
    }
  | {
      applied: false;
      /** Why nothing was written, in a sentence for the user. */
      reason: string;
    };

/**
 * Writes the bucket lifecycle rules of an S3 target, filtered to its prefix: remove noncurrent versions after
 * `noncurrentDays` (with expired delete markers) and abort incomplete multipart uploads after
 * `abortMultipartDays`. Current objects are never expired by age: an old data file is still needed by every
 * kept snapshot that references it, and only prune knows which are not. S3 replaces a bucket's whole
 * lifecycle configuration on each write, so the existing rules are read first and every rule that is not
 * this prefix's own (by id) is kept. When the store answers 501 NotImplemented (s3rver, some S3-compatible
 * stores), or the target is a local directory, nothing is written and `applied` is false with the reason.
 * Any other failure is `SYNC_E_BACKUP_UNAVAILABLE`; bad options are `SYNC_E_INVALID_ARGUMENT`.
 */
export async function applyLifecycle(
  target: BackupTarget,
  options: LifecycleOptions,
): Promise<LifecycleResult> {
  for (const name of ["noncurrentDays", "abortMultipartDays"] as const) {
    const days = options[name];
    if (!Number.isInteger(days) || days < 1) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `lifecycle: ${name} must be a whole number of days ≥ 1, got ${days}`,
      );
    }
  }
  if (target instanceof LazyS3Target) target = await target.resolve();
  if (!(target instanceof S3Target)) {
    return {
      applied: false,
      reason:
        `${target.location} is not an S3 bucket: lifecycle rules are an S3 feature ` +
        "(prune removes the objects no kept snapshot references)",
    };
  }
  const ours = lifecycleRules(target.prefix, options);
  let existing: LifecycleRule[];
  try {
    const res = await target.client.send(
      new GetBucketLifecycleConfigurationCommand({ Bucket: target.bucket }),
    );
    existing = res.Rules ?? [];
  } catch (err) {
    if (notImplemented(err)) return unsupported(target, err);
    if (errorName(err) !== "NoSuchLifecycleConfiguration")
      throw unavailable(target, "read the lifecycle rules", err);
    existing = [];
  }
  const merged = mergeLifecycleRules(existing, ours);
  try {
    await target.client.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: target.bucket,
        LifecycleConfiguration: { Rules: merged },
      }),
    );
  } catch (err) {
    if (notImplemented(err)) return unsupported(target, err);
    throw unavailable(target, "write the lifecycle rules", err);
  }
  return { applied: true, rules: ours, keptRules: merged.length - ours.length };
}

/** The two rules of a prefix (ids `lancedb-sync:<prefix>:noncurrent` and `…:abort-multipart`). */
export function lifecycleRules(prefix: string, options: LifecycleOptions): LifecycleRule[] {
  const id = (what: string) => `lancedb-sync:${prefix}:${what}`.slice(0, 255);
  return [
    {
      ID: id("noncurrent"),
      Status: "Enabled",
      Filter: { Prefix: prefix },
      NoncurrentVersionExpiration: { NoncurrentDays: options.noncurrentDays },
      Expiration: { ExpiredObjectDeleteMarker: true },
    },
    {
      ID: id("abort-multipart"),
      Status: "Enabled",
      Filter: { Prefix: prefix },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: options.abortMultipartDays },
    },
  ];
}

/** `existing` without the rules whose ids `ours` takes over, then `ours`: other prefixes' rules survive. */
export function mergeLifecycleRules(existing: LifecycleRule[], ours: LifecycleRule[]): LifecycleRule[] {
  const taken = new Set(ours.map((r) => r.ID));
  return [...existing.filter((r) => !taken.has(r.ID)), ...ours];
}

function unsupported(target: S3Target, err: unknown): LifecycleResult {
  return {
    applied: false,
    reason:
      `the store at ${target.endpoint} does not support bucket lifecycle rules (it answered ` +
      `${errorName(err) ?? "501"}): nothing was written; remove incomplete multipart uploads and old versions ` +
      `under ${target.location} with the store's own tools`,
  };
}

function unavailable(target: S3Target, what: string, err: unknown): SyncError {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return new SyncError(
    "SYNC_E_BACKUP_UNAVAILABLE",
    `lifecycle: could not ${what} of bucket ${target.bucket} at ${target.endpoint}` +
      `${status ? ` (HTTP ${status})` : ""}: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err, retryable: !(status !== undefined && status >= 400 && status < 500) },
  );
}

function notImplemented(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 501 || errorName(err) === "NotImplemented";
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}
