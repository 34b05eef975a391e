import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BackupObjectNotFound } from "../../src/backup/backup-target.js";
import { createS3Client, type S3ClientSettings } from "../../src/backup/s3-client.js";
import { S3Target, type S3TargetOptions } from "../../src/backup/s3-target.js";
import { isSyncError, type SyncError } from "../../src/errors/sync-error.js";
import { rejection } from "../helpers/caught.js";
import {
  S3_TEST_CREDENTIALS,
  S3_TEST_REGION,
  type S3TestServer,
  startS3Server,
} from "../helpers/s3-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/** What a client sent: the command name and the HTTP request headers (after signing-independent build). */
interface Sent {
  command: string;
  headers: Record<string, string>;
}

describe("S3Target against s3rver", () => {
  let server: S3TestServer;
  let scratch: ReturnType<typeof makeTempDir>;
  const clients: S3Client[] = [];
  let n = 0;

  beforeAll(async () => {
    server = await startS3Server({ buckets: ["backup", "other"] });
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    scratch = makeTempDir("lancedb-sync-s3t-");
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
    scratch.cleanup();
  });

  const client = (settings: Partial<S3ClientSettings> = {}): S3Client => {
    const c = createS3Client({
      region: S3_TEST_REGION,
      endpoint: server.endpoint,
      credentials: { ...S3_TEST_CREDENTIALS },
      ...settings,
    });
    clients.push(c);
    return c;
  };
  /** A target on a fresh prefix, and the log of every request its client sends. */
  const target = (options: Partial<S3TargetOptions> = {}, settings: Partial<S3ClientSettings> = {}) => {
    const c = options.client ?? client(settings);
    const sent: Sent[] = [];
    c.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        sent.push({ command: String(context.commandName), headers: { ...(request.headers ?? {}) } });
        return next(args);
      },
      { step: "finalizeRequest", name: `capture-${n}` },
    );
    const t = new S3Target({
      client: c,
      bucket: "backup",
      prefix: `case${n++}/`,
      endpoint: server.endpoint,
      ...options,
    });
    return { target: t, sent, client: c };
  };
  const bigFile = (bytes: number): { path: string; sha: string } => {
    const path = join(scratch.path, `big-${bytes}.bin`);
    const content = randomBytes(bytes);
    writeFileSync(path, content);
    return { path, sha: sha(content) };
  };

  it("uploads a file above the threshold in parts, and the object reads back whole", async () => {
    const { target: t, sent } = target({
      multipartThresholdBytes: 5 * 1024 * 1024,
      partSizeBytes: 5 * 1024 * 1024,
    });
    const file = bigFile(6 * 1024 * 1024 + 123);
    expect(await t.putIfAbsent("data/big.lance", { file: file.path })).toBe("created");
    const commands = sent.map((s) => s.command);
    expect(commands).toContain("CreateMultipartUploadCommand");
    expect(commands.filter((c) => c === "UploadPartCommand").length).toBe(2);
    expect(commands).toContain("CompleteMultipartUploadCommand");
    expect(commands).not.toContain("PutObjectCommand");
    expect((await t.head("data/big.lance")).size).toBe(6 * 1024 * 1024 + 123);
    expect(sha(await t.get("data/big.lance"))).toBe(file.sha);
    const dest = join(scratch.path, "back.bin");
    await t.download("data/big.lance", dest);
    expect(sha(readFileSync(dest))).toBe(file.sha);
    expect(await t.putIfAbsent("data/big.lance", { file: file.path })).toBe("exists");
  });

  it("a file below the threshold is one PUT with its length (no chunked framing stored)", async () => {
    const { target: t, sent } = target();
    const file = bigFile(200_000);
    await t.putIfAbsent("data/small.lance", { file: file.path });
    const put = sent.find((s) => s.command === "PutObjectCommand");
    expect(put?.headers["content-length"]).toBe("200000");
    expect(put?.headers["content-encoding"] ?? "").not.toContain("aws-chunked");
    expect(sha(await t.get("data/small.lance"))).toBe(file.sha);
  });

  it("a multipart upload that fails part-way leaves no object, and the next attempt completes", async () => {
    const { target: t, client: c } = target({
      multipartThresholdBytes: 5 * 1024 * 1024,
      partSizeBytes: 5 * 1024 * 1024,
      partConcurrency: 1,
    });
    let parts = 0;
    let failing = true;
    // Fault injection: the second part never reaches the store (a dropped connection), every retry included.
    c.middlewareStack.add(
      (next, context) => async (args) => {
        if (failing && context.commandName === "UploadPartCommand" && ++parts >= 2) {
          throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET", $metadata: {} });
        }
        return next(args);
      },
      { step: "initialize", name: "drop-second-part" },
    );
    const file = bigFile(11 * 1024 * 1024);
    const err = await rejection(t.putIfAbsent("data/cut.lance", { file: file.path }));
    expect(isSyncError(err, "SYNC_E_BACKUP_UNAVAILABLE"), String(err)).toBe(true);
    expect(await rejection(t.head("data/cut.lance"))).toBeInstanceOf(BackupObjectNotFound);
    expect(await t.list("data/")).toEqual([]);
    failing = false;
    expect(await t.putIfAbsent("data/cut.lance", { file: file.path })).toBe("created");
    expect(sha(await t.get("data/cut.lance"))).toBe(file.sha);
  });

  it("aborting a multipart upload part-way rejects with the abort reason and leaves no object", async () => {
    const {
      target: t,
      sent,
      client: c,
    } = target({
      multipartThresholdBytes: 5 * 1024 * 1024,
      partSizeBytes: 5 * 1024 * 1024,
      partConcurrency: 1,
    });
    const controller = new AbortController();
    c.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === "UploadPartCommand") controller.abort();
        return result;
      },
      { step: "initialize", name: "abort-after-first-part" },
    );
    const file = bigFile(16 * 1024 * 1024);
    const err = await rejection(
      t.putIfAbsent("data/aborted.lance", { file: file.path }, { signal: controller.signal }),
    );
    expect((err as Error).name).toBe("AbortError");
    expect(sent.filter((s) => s.command === "UploadPartCommand").length).toBeLessThan(4);
    expect(sent.map((s) => s.command)).not.toContain("CompleteMultipartUploadCommand");
    expect(await rejection(t.head("data/aborted.lance"))).toBeInstanceOf(BackupObjectNotFound);
    expect(await t.list("")).toEqual([]);
  });

  it("asks for server-side encryption on every upload (AES256, aws:kms with a key id), multipart included", async () => {
    const aes = target({ sse: { mode: "AES256" } });
    await aes.target.putIfAbsent("a.bin", { bytes: new Uint8Array([1, 2, 3]) });
    const aesPut = aes.sent.find((s) => s.command === "PutObjectCommand");
    expect(aesPut?.headers["x-amz-server-side-encryption"]).toBe("AES256");

    const kms = target({
      sse: { mode: "aws:kms", kmsKeyId: "arn:aws:kms:us-east-1:111122223333:key/test-key" },
      multipartThresholdBytes: 5 * 1024 * 1024,
      partSizeBytes: 5 * 1024 * 1024,
    });
    await kms.target.putIfAbsent("b.bin", { bytes: new Uint8Array([4, 5]) });
    await kms.target.putIfAbsent("c.bin", { file: bigFile(6 * 1024 * 1024).path });
    const kmsPut = kms.sent.find((s) => s.command === "PutObjectCommand");
    const kmsCreate = kms.sent.find((s) => s.command === "CreateMultipartUploadCommand");
    for (const req of [kmsPut, kmsCreate]) {
      expect(req?.headers["x-amz-server-side-encryption"]).toBe("aws:kms");
      expect(req?.headers["x-amz-server-side-encryption-aws-kms-key-id"]).toBe(
        "arn:aws:kms:us-east-1:111122223333:key/test-key",
      );
    }
    const plain = target();
    await plain.target.putIfAbsent("d.bin", { bytes: new Uint8Array([6]) });
    const plainPut = plain.sent.find((s) => s.command === "PutObjectCommand");
    expect(plainPut?.headers["x-amz-server-side-encryption"]).toBeUndefined();
  });

  it("puts with If-None-Match: * and, where a store rejects it, falls back to HEAD-then-PUT for good", async () => {
    const { target: t, sent, client: c } = target();
    // Emulates a store that answers a conditional PUT with 501 NotImplemented (s3rver ignores the header).
    c.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { method?: string; headers?: Record<string, string> };
        if (request.method === "PUT" && request.headers?.["if-none-match"]) {
          throw Object.assign(
            new Error("A header you provided implies functionality that is not implemented"),
            {
              name: "NotImplemented",
              $metadata: { httpStatusCode: 501 },
            },
          );
        }
        return next(args);
      },
      { step: "finalizeRequest", name: "reject-conditional", priority: "low" },
    );
    expect(await t.putIfAbsent("k1", { bytes: new Uint8Array([1]) })).toBe("created");
    expect(await t.putIfAbsent("k2", { bytes: new Uint8Array([2]) })).toBe("created");
    expect(await t.putIfAbsent("k1", { bytes: new Uint8Array([9]) })).toBe("exists");
    const puts = sent.filter((s) => s.command === "PutObjectCommand");
    expect(puts.map((p) => p.headers["if-none-match"])).toEqual(["*", undefined, undefined]);
    expect(Array.from(await t.get("k1"))).toEqual([1]);

    const fresh = target();
    await fresh.target.putIfAbsent("k", { bytes: new Uint8Array([1]) });
    const sentFirst = fresh.sent.filter((s) => s.command === "PutObjectCommand");
    expect(sentFirst.map((p) => p.headers["if-none-match"])).toEqual(["*"]);
    const objectCalls = fresh.sent.map((s) => s.command).filter((c) => c !== "HeadBucketCommand");
    expect(objectCalls).toEqual(["HeadObjectCommand", "PutObjectCommand"]);
  });

  it("a stopped server is SYNC_E_BACKUP_UNAVAILABLE naming the endpoint; after a restart all is there", async () => {
    const { target: t } = target({}, { maxAttempts: 1 });
    await t.putIfAbsent("before/stop", { bytes: new Uint8Array([7]) });
    await server.stop();
    try {
      for (const call of [
        () => t.list(""),
        () => t.head("before/stop"),
        () => t.get("before/stop"),
        () => t.download("before/stop", join(scratch.path, "x")),
        () => t.putIfAbsent("during/stop", { bytes: new Uint8Array([8]) }),
        () => t.delete("before/stop"),
      ]) {
        const err = await rejection(call());
        expect(isSyncError(err, "SYNC_E_BACKUP_UNAVAILABLE"), String(err)).toBe(true);
        expect((err as SyncError).retryable).toBe(true);
        expect((err as Error).message).toContain(`127.0.0.1:${server.port}`);
        expect((err as Error).message).toContain(t.location);
        expect((err as Error).message).not.toContain(S3_TEST_CREDENTIALS.secretAccessKey);
      }
    } finally {
      await server.restart();
    }
    expect(Array.from(await t.get("before/stop"))).toEqual([7]);
    expect(await rejection(t.head("during/stop"))).toBeInstanceOf(BackupObjectNotFound);
    expect(await t.putIfAbsent("after/restart", { bytes: new Uint8Array([9]) })).toBe("created");
  });

  it("wrong credentials are a refusal (not retryable) that never shows the secret", async () => {
    const secret = "not-the-right-secret-1234567890";
    // s3rver checks the access key id (it does not verify SigV4 signatures): an unknown one is refused.
    const { target: t } = target({}, { credentials: { accessKeyId: "NOT-S3RVER", secretAccessKey: secret } });
    for (const call of [() => t.list(""), () => t.putIfAbsent("k", { bytes: new Uint8Array([1]) })]) {
      const err = await rejection(call());
      expect(isSyncError(err, "SYNC_E_BACKUP_UNAVAILABLE"), String(err)).toBe(true);
      expect((err as SyncError).retryable).toBe(false);
      expect((err as Error).message).toMatch(/HTTP 403/);
      expect((err as Error).message).not.toContain(secret);
    }
  });

  it("a missing bucket is unavailable naming the bucket, not a missing object", async () => {
    const { target: t } = target({ bucket: "no-such-bucket" });
    for (const call of [() => t.head("k"), () => t.get("k"), () => t.list(""), () => t.delete("k")]) {
      const err = await rejection(call());
      expect(err).not.toBeInstanceOf(BackupObjectNotFound);
      expect(isSyncError(err, "SYNC_E_BACKUP_UNAVAILABLE"), String(err)).toBe(true);
      expect((err as Error).message).toContain("no-such-bucket");
    }
  });

  it("keeps objects under its prefix (a missing trailing / is added) and lists keys relative to it", async () => {
    const c = client();
    const a = new S3Target({ client: c, bucket: "other", prefix: "team", endpoint: server.endpoint });
    const b = new S3Target({ client: c, bucket: "other", prefix: "teamwork/", endpoint: server.endpoint });
    expect(a.location).toBe("s3://other/team/");
    await a.putIfAbsent("x/1", { bytes: new Uint8Array([1]) });
    await b.putIfAbsent("x/2", { bytes: new Uint8Array([2]) });
    expect((await a.list("")).map((o) => o.key)).toEqual(["x/1"]);
    expect((await b.list("")).map((o) => o.key)).toEqual(["x/2"]);
    const raw = await c.send(new ListObjectsV2Command({ Bucket: "other" }));
    expect((raw.Contents ?? []).map((o) => o.Key).sort()).toEqual(["team/x/1", "teamwork/x/2"]);
  });
});

describe("s3rver fixes (patches/s3rver+3.7.1.patch)", () => {
  let server: S3TestServer;
  let c: S3Client;
  beforeAll(async () => {
    server = await startS3Server({ buckets: ["fixes"] });
    c = createS3Client({
      region: S3_TEST_REGION,
      endpoint: server.endpoint,
      credentials: { ...S3_TEST_CREDENTIALS },
    });
    const t = new S3Target({ client: c, bucket: "fixes", endpoint: server.endpoint });
    // Keys whose directory order differs from key order ("a/…" is a folder, "a-b" sorts before "a/"),
    // enough of them for two pages.
    const keys = [
      ...Array.from({ length: 1_001 }, (_, i) => `a/${String(i).padStart(4, "0")}`),
      "a-b",
      "deep/x/y/1",
      "deep/z/2",
    ];
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < keys.length)
          await t.putIfAbsent(keys[next++] as string, { bytes: new Uint8Array([1]) });
      }),
    );
  }, 120_000);
  afterAll(async () => {
    c.destroy();
    await server.close();
  });

  it("pages past 1,000 keys in key order, losing none", async () => {
    const first = await c.send(new ListObjectsV2Command({ Bucket: "fixes" }));
    expect(first.IsTruncated).toBe(true);
    expect(first.Contents?.length).toBe(1000);
    expect(first.Contents?.[0]?.Key).toBe("a-b");
    const second = await c.send(
      new ListObjectsV2Command({ Bucket: "fixes", ContinuationToken: first.NextContinuationToken }),
    );
    expect(second.IsTruncated).toBe(false);
    const all = [...(first.Contents ?? []), ...(second.Contents ?? [])].map((o) => o.Key);
    expect(all.length).toBe(1_004);
    expect(new Set(all).size).toBe(1_004);
  });

  it("reports the common prefixes of a prefix + delimiter listing, also those with no object directly inside", async () => {
    const res = await c.send(new ListObjectsV2Command({ Bucket: "fixes", Prefix: "deep/", Delimiter: "/" }));
    expect((res.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual(["deep/x/", "deep/z/"]);
    expect(res.Contents ?? []).toEqual([]);
  });
});

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}
