import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { SyncError } from "../errors/sync-error.js";
import { assertBackupKey, assertBackupPrefix, PARTIAL_SUFFIX } from "./backup-key.js";
import {
  type BackupBody,
  type BackupCallOptions,
  type BackupObjectInfo,
  BackupObjectNotFound,
  type BackupTarget,
  type PutResult,
} from "./backup-target.js";
import { describeEndpoint } from "./s3-client.js";

/** Server-side encryption asked of the store on every upload. */
export type S3Sse = { mode: "AES256" } | { mode: "aws:kms"; kmsKeyId?: string };

/** Options of {@link S3Target}. */
export interface S3TargetOptions {
  /** Made by `createS3Client`; the target destroys it on {@link S3Target.destroy} only if `ownsClient`. */
  client: S3Client;
  ownsClient?: boolean;
  bucket: string;
  /** Key prefix of every object (`lancedb-sync/`); a missing trailing `/` is added; empty: bucket root. */
  prefix?: string;
  /** The client's endpoint, for messages only (empty: AWS). */
  endpoint?: string;
  sse?: S3Sse;
  /** Files larger than this are uploaded in parts (lib-storage `Upload`); default 16 MiB, at least 5 MiB. */
  multipartThresholdBytes?: number;
  /** Part size of a multipart upload; default 8 MiB, at least 5 MiB (S3's minimum). */
  partSizeBytes?: number;
  /** Parts of one upload in flight at once (each buffered in memory); default 4. */
  partConcurrency?: number;
}

const MiB = 1024 * 1024;

/**
 * A {@link BackupTarget} over an S3 bucket + prefix (AWS or any S3-compatible store). `putIfAbsent` asks with
 * a HEAD first and then PUTs with `If-None-Match: *`, so a store that honours conditional writes never
 * overwrites even under a race (412: `exists`); a store that rejects the header is remembered and written
 * without it (HEAD-then-PUT, safe for immutable keys). Files above the multipart threshold are uploaded in
 * parts; an interrupted multipart upload leaves no object (only parts that a lifecycle rule aborts).
 * Unreachable stores, 5xx and refusals become `SYNC_E_BACKUP_UNAVAILABLE` naming the target, the endpoint and
 * the cause; 4xx refusals (credentials, permissions) are marked not retryable.
 */
export class S3Target implements BackupTarget {
  readonly location: string;
  /** The client the target sends with (lifecycle rules, status checks may reuse it). */
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix of every object: empty or ending in `/`. */
  readonly prefix: string;
  /** The endpoint as messages show it (`AWS`, or scheme + host without user info). */
  readonly endpoint: string;
  readonly sse: S3Sse | undefined;
  private readonly ownsClient: boolean;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly partConcurrency: number;
  /** Whether the store accepts `If-None-Match: *` on PUT; false once it rejected it. */
  private conditionalPut = true;
  /** The bucket answered once: a later 404 on HEAD is about the object. */
  private bucketSeen = false;

  constructor(options: S3TargetOptions) {
    if (!options.bucket)
      throw new SyncError("SYNC_E_INVALID_ARGUMENT", "S3 target: bucket must not be empty");
    this.client = options.client;
    this.ownsClient = options.ownsClient ?? false;
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix ?? "");
    this.endpoint = describeEndpoint(options.endpoint);
    this.sse = options.sse;
    this.partSize = Math.max(5 * MiB, options.partSizeBytes ?? 8 * MiB);
    this.multipartThreshold = Math.max(5 * MiB, options.multipartThresholdBytes ?? 16 * MiB);
    this.partConcurrency = Math.max(1, options.partConcurrency ?? 4);
    this.location = `s3://${this.bucket}/${this.prefix}`;
  }

  async list(prefix: string, options: BackupCallOptions = {}): Promise<BackupObjectInfo[]> {
    assertBackupPrefix(prefix);
    const { signal } = options;
    const out: BackupObjectInfo[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.call(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
          }),
          signal,
        );
      } catch (err) {
        throw this.unavailable(`list ${JSON.stringify(prefix)}`, err, signal);
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key?.startsWith(this.prefix)) continue;
        out.push({
          key: o.Key.slice(this.prefix.length),
          size: o.Size ?? 0,
          ...(o.LastModified ? { modifiedAt: o.LastModified.toISOString() } : {}),
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    this.bucketSeen = true;
    return out;
  }

  async head(key: string, options: BackupCallOptions = {}): Promise<BackupObjectInfo> {
    assertBackupKey(key);
    const { signal } = options;
    try {
      const res: HeadObjectCommandOutput = await this.call(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
        signal,
      );
      this.bucketSeen = true;
      return {
        key,
        size: res.ContentLength ?? 0,
        ...(res.LastModified ? { modifiedAt: res.LastModified.toISOString() } : {}),
      };
    } catch (err) {
      if (!signal?.aborted && isNotFound(err)) {
        // HEAD has no body, so a missing bucket is a bare 404 too: tell the two apart once.
        await this.ensureBucket(signal);
        throw new BackupObjectNotFound(key, this.location, { cause: err });
      }
      throw this.unavailable(`head ${key}`, err, signal);
    }
  }

  async get(key: string, options: BackupCallOptions = {}): Promise<Uint8Array> {
    assertBackupKey(key);
    const { signal } = options;
    try {
      const res: GetObjectCommandOutput = await this.call(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
        signal,
      );
      if (!res.Body) throw new Error("the response has no body");
      return await res.Body.transformToByteArray();
    } catch (err) {
      throw this.mapKeyError(key, "get", err, signal);
    }
  }

  async download(key: string, path: string, options: BackupCallOptions = {}): Promise<void> {
    assertBackupKey(key);
    const { signal } = options;
    const to = resolve(path);
    const temp = `${to}.${randomBytes(6).toString("hex")}${PARTIAL_SUFFIX}`;
    try {
      const res: GetObjectCommandOutput = await this.call(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
        signal,
      );
      if (!res.Body) throw new Error("the response has no body");
      await mkdir(dirname(to), { recursive: true });
      await pipeline(res.Body as Readable, createWriteStream(temp), ...(signal ? [{ signal }] : []));
      const written = (await stat(temp)).size;
      if (res.ContentLength !== undefined && written !== res.ContentLength) {
        throw new Error(`the transfer ended after ${written} of ${res.ContentLength} bytes`);
      }
      await rename(temp, to);
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw this.mapKeyError(key, "download", err, signal);
    }
  }

  async putIfAbsent(key: string, body: BackupBody, options: BackupCallOptions = {}): Promise<PutResult> {
    assertBackupKey(key);
    const { signal } = options;
    if (await this.exists(key, signal)) return "exists";
    const size = "bytes" in body ? body.bytes.length : await fileSize(key, body.file);
    const base: PutObjectCommandInput = { Bucket: this.bucket, Key: this.prefix + key, ...this.sseParams() };
    for (;;) {
      const conditional = this.conditionalPut ? { IfNoneMatch: "*" } : {};
      try {
        if ("file" in body && size > this.multipartThreshold) {
          await this.upload({ ...base, ...conditional, Body: createReadStream(body.file) }, signal);
        } else {
          // Small files are sent from memory, so the SDK can retry the request (a stream cannot be replayed).
          const bytes = "bytes" in body ? body.bytes : await readBody(key, body.file);
          await this.call(
            new PutObjectCommand({ ...base, ...conditional, Body: bytes, ContentLength: bytes.length }),
            signal,
          );
        }
        this.bucketSeen = true;
        return "created";
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (err instanceof SyncError) throw err;
        const status = httpStatus(err);
        if (status === 412 || errorName(err) === "PreconditionFailed") return "exists";
        if (this.conditionalPut && rejectsConditional(err)) {
          this.conditionalPut = false;
          continue;
        }
        // 409 ConditionalRequestConflict: another conditional write of this key is in flight.
        if (status === 409 && (await this.exists(key, signal))) return "exists";
        throw this.unavailable(`put ${key}`, err, signal);
      }
    }
  }

  async delete(key: string, options: BackupCallOptions = {}): Promise<void> {
    assertBackupKey(key);
    const { signal } = options;
    try {
      await this.call(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), signal);
    } catch (err) {
      if (!signal?.aborted && isNotFound(err) && errorName(err) !== "NoSuchBucket") return;
      throw this.unavailable(`delete ${key}`, err, signal);
    }
  }

  /** Closes the client's connections when this target made it (`ownsClient`); the target is unusable after. */
  destroy(): void {
    if (this.ownsClient) this.client.destroy();
  }

  /** A multipart upload (lib-storage) that `signal` aborts; an aborted or failed one is aborted at the store. */
  private async upload(params: PutObjectCommandInput, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const abortController = new AbortController();
    const onAbort = () => abortController.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await new Upload({
        client: this.client,
        params,
        partSize: this.partSize,
        queueSize: this.partConcurrency,
        leavePartsOnError: false,
        abortController,
      }).done();
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Sends `command`; when `signal` aborts, rejects with its reason (not the SDK's error). */
  // biome-ignore lint/suspicious/noExplicitAny: the SDK's command types are too deep to name generically.
  private async call<T>(command: any, signal: AbortSignal | undefined): Promise<T> {
    signal?.throwIfAborted();
    try {
      return (await this.client.send(command, signal ? { abortSignal: signal } : {})) as T;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw err;
    }
  }

  private async exists(key: string, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      await this.head(key, { signal });
      return true;
    } catch (err) {
      if (err instanceof BackupObjectNotFound) return false;
      throw err;
    }
  }

  private sseParams(): Partial<PutObjectCommandInput> {
    if (!this.sse) return {};
    if (this.sse.mode === "AES256") return { ServerSideEncryption: "AES256" };
    return {
      ServerSideEncryption: "aws:kms",
      ...(this.sse.kmsKeyId ? { SSEKMSKeyId: this.sse.kmsKeyId } : {}),
    };
  }

  private async ensureBucket(signal: AbortSignal | undefined): Promise<void> {
    if (this.bucketSeen) return;
    try {
      await this.call(new HeadBucketCommand({ Bucket: this.bucket }), signal);
    } catch (err) {
      if (!signal?.aborted && isNotFound(err)) {
        throw new SyncError(
          "SYNC_E_BACKUP_UNAVAILABLE",
          `bucket ${this.bucket} does not exist at endpoint ${this.endpoint} (${this.location})`,
          { cause: err, retryable: false },
        );
      }
      throw this.unavailable("check the bucket", err, signal);
    }
    this.bucketSeen = true;
  }

  private mapKeyError(key: string, op: string, err: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason;
    if (err instanceof SyncError) return err;
    if (isNotFound(err) && errorName(err) !== "NoSuchBucket") {
      return new BackupObjectNotFound(key, this.location, { cause: err });
    }
    return this.unavailable(`${op} ${key}`, err, signal);
  }

  /** `err` as `SYNC_E_BACKUP_UNAVAILABLE`, or the abort reason when `signal` aborted the call. */
  private unavailable(what: string, err: unknown, signal?: AbortSignal): unknown {
    if (signal?.aborted) return signal.reason;
    if (err instanceof SyncError) return err;
    const status = httpStatus(err);
    const name = errorName(err);
    const refused = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
    const detail = [name && name !== "Error" ? name : undefined, status ? `HTTP ${status}` : undefined]
      .filter(Boolean)
      .join(", ");
    const message = err instanceof Error ? err.message : String(err);
    return new SyncError(
      "SYNC_E_BACKUP_UNAVAILABLE",
      `${what} at ${this.location} (endpoint ${this.endpoint}) failed${detail ? ` (${detail})` : ""}: ${message}`,
      { cause: err, retryable: !refused },
    );
  }
}

function normalizePrefix(prefix: string): string {
  const p = prefix.replace(/^\/+/, "");
  if (p === "") return "";
  const withSlash = p.endsWith("/") ? p : `${p}/`;
  assertBackupPrefix(withSlash);
  return withSlash;
}

async function fileSize(key: string, file: string): Promise<number> {
  try {
    const st = await stat(file);
    if (!st.isFile()) throw Object.assign(new Error(`${file} is not a file`), { code: "EISDIR" });
    return st.size;
  } catch (err) {
    throw unreadable(key, file, err);
  }
}

async function readBody(key: string, file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (err) {
    throw unreadable(key, file, err);
  }
}

function unreadable(key: string, file: string, err: unknown): SyncError {
  return new SyncError(
    "SYNC_E_INVALID_ARGUMENT",
    `put ${key}: cannot read the file to upload ${file}: ${(err as Error).message}`,
    { cause: err },
  );
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}

function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  return name === "NotFound" || name === "NoSuchKey" || name === "NoSuchBucket" || httpStatus(err) === 404;
}

/** A store that does not implement conditional PUT says so with 501 or a 400 naming the header. */
function rejectsConditional(err: unknown): boolean {
  const status = httpStatus(err);
  if (status === 501) return true;
  const name = errorName(err) ?? "";
  const message = err instanceof Error ? err.message : "";
  return (
    (status === 400 || name === "NotImplemented") &&
    /if-none-match|conditional|not ?implemented/i.test(name + message)
  );
}
