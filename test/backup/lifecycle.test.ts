import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyLifecycle, lifecycleRules, mergeLifecycleRules } from "../../src/backup/lifecycle.js";
import { LocalDirTarget } from "../../src/backup/local-dir-target.js";
import { createS3Client } from "../../src/backup/s3-client.js";
import { S3Target } from "../../src/backup/s3-target.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import { rejection } from "../helpers/caught.js";
import {
  S3_TEST_CREDENTIALS,
  S3_TEST_REGION,
  type S3TestServer,
  startS3Server,
} from "../helpers/s3-server.js";

const options = { noncurrentDays: 30, abortMultipartDays: 7 };

describe("applyLifecycle against s3rver (which has no lifecycle support)", () => {
  let server: S3TestServer;
  let client: S3Client;
  const sent: string[] = [];
  beforeAll(async () => {
    server = await startS3Server({ buckets: ["backup"] });
    client = createS3Client({
      region: S3_TEST_REGION,
      endpoint: server.endpoint,
      credentials: { ...S3_TEST_CREDENTIALS },
      maxAttempts: 1,
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(String(context.commandName));
        return next(args);
      },
      { step: "initialize", name: "record" },
    );
  });
  afterAll(async () => {
    client.destroy();
    await server.close();
  });

  it("reports plainly that the store does not support lifecycle rules, and writes nothing", async () => {
    const target = new S3Target({
      client,
      bucket: "backup",
      prefix: "lancedb-sync/",
      endpoint: server.endpoint,
    });
    sent.length = 0;
    const result = await applyLifecycle(target, options);
    expect(result.applied).toBe(false);
    if (result.applied) return;
    expect(result.reason).toContain("does not support bucket lifecycle rules");
    expect(result.reason).toContain(`127.0.0.1:${server.port}`);
    expect(result.reason).toContain("NotImplemented");
    // It asked for the current rules first (to keep other prefixes' rules) and stopped at the 501.
    expect(sent).toEqual(["GetBucketLifecycleConfigurationCommand"]);
  });

  it("an unreachable store is SYNC_E_BACKUP_UNAVAILABLE, not 'unsupported'", async () => {
    const target = new S3Target({ client, bucket: "backup", endpoint: server.endpoint });
    await server.stop();
    try {
      const err = await rejection(applyLifecycle(target, options));
      expect(isSyncError(err, "SYNC_E_BACKUP_UNAVAILABLE"), String(err)).toBe(true);
      expect((err as Error).message).toContain("lifecycle");
      expect((err as Error).message).toContain(`127.0.0.1:${server.port}`);
    } finally {
      await server.restart();
    }
  });

  it("refuses nonsense day counts, naming the option", async () => {
    const target = new S3Target({ client, bucket: "backup", endpoint: server.endpoint });
    for (const bad of [
      { noncurrentDays: 0, abortMultipartDays: 7 },
      { noncurrentDays: 30, abortMultipartDays: 1.5 },
    ]) {
      const err = await rejection(applyLifecycle(target, bad));
      expect(isSyncError(err, "SYNC_E_INVALID_ARGUMENT")).toBe(true);
      expect((err as Error).message).toMatch(/noncurrentDays|abortMultipartDays/);
    }
  });
});

describe("lifecycle rules", () => {
  it("a local directory target is not applied, with the reason", async () => {
    const result = await applyLifecycle(new LocalDirTarget("/tmp/lancedb-sync-never-created"), options);
    expect(result).toEqual({ applied: false, reason: expect.stringContaining("not an S3 bucket") });
  });

  it("are filtered to the prefix: expire noncurrent versions, abort incomplete multipart uploads", () => {
    expect(lifecycleRules("team/", options)).toEqual([
      {
        ID: "lancedb-sync:team/:noncurrent",
        Status: "Enabled",
        Filter: { Prefix: "team/" },
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        Expiration: { ExpiredObjectDeleteMarker: true },
      },
      {
        ID: "lancedb-sync:team/:abort-multipart",
        Status: "Enabled",
        Filter: { Prefix: "team/" },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      },
    ]);
  });

  it("merging keeps every other rule of the bucket and replaces only this prefix's own", () => {
    const other = {
      ID: "logs-expiry",
      Status: "Enabled" as const,
      Filter: { Prefix: "logs/" },
      Expiration: { Days: 3 },
    };
    const otherPrefix = lifecycleRules("other/", options);
    const before = [
      other,
      ...otherPrefix,
      ...lifecycleRules("team/", { noncurrentDays: 1, abortMultipartDays: 1 }),
    ];
    const ours = lifecycleRules("team/", options);
    const merged = mergeLifecycleRules(before, ours);
    expect(merged).toEqual([other, ...otherPrefix, ...ours]);
  });
});
