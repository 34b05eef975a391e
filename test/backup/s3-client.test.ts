import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { createS3Client, describeEndpoint } from "../../src/backup/s3-client.js";

const dist = resolve("dist/backup/s3-client.js");

/** Runs `code` (an ES module body) in a fresh Node process; `npm run build` must have run. */
function runNode(code: string): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    encoding: "utf8",
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "" },
    timeout: 30_000,
  });
  return { stdout: r.stdout, stderr: r.stderr };
}

describe("createS3Client", () => {
  it("with an endpoint: path style, checksums only when required, explicit credentials, bounded retries", async () => {
    const client = createS3Client({
      region: "auto",
      endpoint: "http://127.0.0.1:9",
      credentials: { accessKeyId: "AK", secretAccessKey: "SK", sessionToken: "ST" },
      maxAttempts: 4,
    });
    try {
      expect(client.config.forcePathStyle).toBe(true);
      expect(await client.config.region()).toBe("auto");
      expect(await client.config.requestChecksumCalculation()).toBe("WHEN_REQUIRED");
      expect(await client.config.responseChecksumValidation()).toBe("WHEN_REQUIRED");
      expect(await client.config.maxAttempts()).toBe(4);
      expect(await client.config.credentials()).toMatchObject({
        accessKeyId: "AK",
        secretAccessKey: "SK",
        sessionToken: "ST",
      });
    } finally {
      client.destroy();
    }
  });

  it("without an endpoint (AWS): virtual-hosted style and the SDK's checksum defaults", async () => {
    const client = createS3Client({ region: "eu-west-3" });
    try {
      expect(client.config.forcePathStyle).toBe(false);
      expect(await client.config.requestChecksumCalculation()).toBe("WHEN_SUPPORTED");
      expect(await client.config.maxAttempts()).toBe(3);
    } finally {
      client.destroy();
    }
  });

  it("an explicit forcePathStyle wins over the default", () => {
    const client = createS3Client({
      region: "us-east-1",
      endpoint: "http://127.0.0.1:9",
      forcePathStyle: false,
    });
    try {
      expect(client.config.forcePathStyle).toBe(false);
    } finally {
      client.destroy();
    }
  });

  it("does not print the SDK's Node-version warning and leaves the environment as it was", () => {
    const major = Number(process.versions.node.split(".")[0]);
    const quiet = runNode(
      `const { createS3Client } = await import(${JSON.stringify(dist)});
       createS3Client({ region: "us-east-1", endpoint: "http://127.0.0.1:9" }).destroy();
       createS3Client({ region: "us-east-1" }).destroy();
       console.log(JSON.stringify(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? null));`,
    );
    expect(quiet.stderr).not.toContain("NodeVersionSupportWarning");
    expect(quiet.stdout.trim()).toBe('""');
    // Control: the SDK itself warns on this Node (it asks for >= 22), so the check above can fail.
    const loud = runNode(
      `const { S3Client } = await import("@aws-sdk/client-s3");
       new S3Client({ region: "us-east-1" }).destroy();`,
    );
    if (major < 22) expect(loud.stderr).toContain("NodeVersionSupportWarning");
  });

  it("describeEndpoint drops user info and query from what messages show", () => {
    expect(describeEndpoint("http://user:secret@127.0.0.1:9000/?token=x")).toBe("http://127.0.0.1:9000");
    expect(describeEndpoint("")).toBe("AWS");
    expect(describeEndpoint(undefined)).toBe("AWS");
  });
});
