import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderEnvTemplate } from "../../src/config/env-template.js";
import { type Config, loadConfig } from "../../src/config/load-config.js";
import { ENV_VARS } from "../../src/config/schema.js";
import { isSyncError, type SyncError } from "../../src/errors/sync-error.js";
import { makeTempDir } from "../helpers/temp-dir.js";

let dir: { path: string; cleanup: () => void };
let noFile: string;

beforeEach(() => {
  dir = makeTempDir("lancedb-sync-config-");
  noFile = join(dir.path, "missing.env");
});
afterEach(() => dir.cleanup());

/** Loads with exactly `env` and no `.env` file (unless `envFile` is given): never the process environment. */
const load = (env: Record<string, string> = {}, envFile = noFile): Config => loadConfig({ env, envFile });

function writeEnv(content: string): string {
  const path = join(dir.path, ".env");
  writeFileSync(path, content);
  return path;
}

function configError(fn: () => unknown): SyncError {
  try {
    fn();
  } catch (err) {
    expect(isSyncError(err, "SYNC_E_CONFIG_INVALID"), String(err)).toBe(true);
    return err as SyncError;
  }
  throw new Error("expected SYNC_E_CONFIG_INVALID");
}

const MB = 1024 * 1024;

describe("loadConfig", () => {
  it("gives the documented defaults with an empty environment and no .env file", () => {
    const c = load();
    expect(c).toMatchObject({
      lancedbUri: "data/lancedb",
      documentsTable: "processed_documents",
      chunksTable: "document_chunks",
      stateDbPath: "data/state.db",
      maxConcurrentProcessing: 5,
      readChunkBytes: 4 * MB,
      maxFileBytes: 50 * MB,
      textChunkSize: 1000,
      textChunkOverlap: 150,
      writeBatchDocs: 1000,
      massDeleteThreshold: 0.5,
      maxRetryAttempts: 5,
      versionRetentionHours: 24,
      syncIntervalSeconds: 300,
      defaultPollIntervalSeconds: 60,
      enableSourceMonitoring: true,
      logLevel: "info",
      logFile: "",
      embeddingCacheScope: "user",
      maxExtractedBytes: 256 * MB,
      parseTimeoutMs: 120_000,
      parseMemoryMb: 1024,
      lockLeaseSeconds: 30,
      lockWaitSeconds: 120,
      lanceCpuThreads: undefined,
      crashAt: "",
    });
    expect(c.embedding).toEqual({
      provider: "hashing",
      dimensions: undefined,
      model: "text-embedding-3-small",
      baseUrl: "https://api.openai.com/v1",
      apiKey: "",
      batchSize: 64,
      timeoutMs: 60000,
      deadlineMs: 180000,
      allowInsecureHttp: false,
    });
    expect(c.s3).toMatchObject({ bucket: "", prefix: "lancedb-sync/", endpoint: "", region: "us-east-1" });
  });

  it("rejects equal table names, LANCE_CPU_THREADS below 2 and a malformed crash hook, naming each", () => {
    const bad = (env: Record<string, string>, re: RegExp) => {
      let err: unknown;
      try {
        load(env);
      } catch (e) {
        err = e;
      }
      expect(isSyncError(err, "SYNC_E_CONFIG_INVALID"), String(err)).toBe(true);
      expect((err as Error).message).toMatch(re);
    };
    bad({ LANCEDB_TABLE_NAME: "t", LANCEDB_CHUNKS_TABLE_NAME: "t" }, /LANCEDB_TABLE_NAME="t": must differ/);
    bad({ LANCE_CPU_THREADS: "1" }, /LANCE_CPU_THREADS="1"/);
    bad({ LANCEDB_SYNC_CRASH_AT: "now" }, /LANCEDB_SYNC_CRASH_AT="now"/);
    bad({ EMBEDDING_CACHE_SCOPE: "team" }, /EMBEDDING_CACHE_SCOPE="team"/);
    expect(load({ LANCE_CPU_THREADS: "2", EMBEDDING_CACHE_SCOPE: "global" })).toMatchObject({
      lanceCpuThreads: 2,
      embeddingCacheScope: "global",
    });
  });

  it("every documented default is itself a valid value", () => {
    const defaults = load();
    const env = Object.fromEntries(Object.entries(ENV_VARS).map(([k, spec]) => [k, spec.default]));
    expect(load(env)).toEqual(defaults);
  });

  it("reads the .env file, and the environment wins over it", () => {
    const file = writeEnv(
      [
        "MAX_CONCURRENT_PROCESSING=9",
        "LOG_LEVEL=debug",
        "MASS_DELETE_THRESHOLD=0.25",
        "# TEXT_CHUNK_SIZE=5",
      ].join("\n"),
    );
    const fromFile = load({}, file);
    expect(fromFile.maxConcurrentProcessing).toBe(9);
    expect(fromFile.logLevel).toBe("debug");
    expect(fromFile.massDeleteThreshold).toBe(0.25);
    expect(fromFile.textChunkSize).toBe(1000);

    const both = load({ MAX_CONCURRENT_PROCESSING: "3", LOG_LEVEL: "error" }, file);
    expect(both.maxConcurrentProcessing).toBe(3);
    expect(both.logLevel).toBe("error");
    expect(both.massDeleteThreshold).toBe(0.25);
  });

  it("a command's own defaults fill only what neither the environment nor .env sets, and are validated", () => {
    const defaults = { LANCEDB_INDEX_CACHE_MB: "64" } as const;
    expect(loadConfig({ env: {}, envFile: noFile, defaults }).indexCacheMb).toBe(64);
    expect(loadConfig({ env: {}, envFile: noFile }).indexCacheMb).toBe(256);
    expect(
      loadConfig({ env: { LANCEDB_INDEX_CACHE_MB: "300" }, envFile: noFile, defaults }).indexCacheMb,
    ).toBe(300);
    const file = writeEnv("LANCEDB_INDEX_CACHE_MB=128\n");
    expect(loadConfig({ env: {}, envFile: file, defaults }).indexCacheMb).toBe(128);
    expect(() => loadConfig({ env: {}, envFile: noFile, defaults: { LANCEDB_INDEX_CACHE_MB: "0" } })).toThrow(
      /LANCEDB_INDEX_CACHE_MB/,
    );
  });

  it("a bad value in the .env file is ignored when the environment overrides it", () => {
    const file = writeEnv("MAX_CONCURRENT_PROCESSING=abc\n");
    expect(load({ MAX_CONCURRENT_PROCESSING: "7" }, file).maxConcurrentProcessing).toBe(7);
    const err = configError(() => load({}, file));
    expect(err.message).toContain("MAX_CONCURRENT_PROCESSING");
    expect(err.message).toContain("abc");
  });

  it("parses numbers, booleans and trims whitespace", () => {
    const c = load({
      MAX_CONCURRENT_PROCESSING: " 12 ",
      READ_CHUNK_MB: "0.5",
      ENABLE_SOURCE_MONITORING: "no",
      EMBEDDING_DIMENSIONS: "256",
      EMBEDDING_PROVIDER: "openai",
    });
    expect(c.maxConcurrentProcessing).toBe(12);
    expect(c.readChunkBytes).toBe(MB / 2);
    expect(c.enableSourceMonitoring).toBe(false);
    expect(c.embedding.dimensions).toBe(256);
    expect(c.embedding.provider).toBe("openai");
  });

  it.each([
    ["MAX_CONCURRENT_PROCESSING", "abc"],
    ["MAX_CONCURRENT_PROCESSING", "0"],
    ["MAX_CONCURRENT_PROCESSING", "2.5"],
    ["MASS_DELETE_THRESHOLD", "2"],
    ["MASS_DELETE_THRESHOLD", "-0.1"],
    ["EMBEDDING_PROVIDER", "foo"],
    ["AWS_REGION", "us east 1"],
    ["LOG_LEVEL", "loud"],
    ["ENABLE_SOURCE_MONITORING", "maybe"],
    ["EMBEDDING_BASE_URL", "not a url"],
    ["TEXT_CHUNK_SIZE", "ten"],
    ["LANCEDB_URI", "   "],
  ])("%s=%j throws SYNC_E_CONFIG_INVALID naming the variable and the value", (name, value) => {
    const err = configError(() => load({ [name]: value }));
    expect(err.message).toContain(name);
    expect(err.message).toContain(JSON.stringify(value));
  });

  it.each([
    ["200", "200"],
    ["200", "500"],
  ])("TEXT_CHUNK_OVERLAP >= TEXT_CHUNK_SIZE (size %s, overlap %s) is refused", (size, overlap) => {
    const err = configError(() => load({ TEXT_CHUNK_SIZE: size, TEXT_CHUNK_OVERLAP: overlap }));
    expect(err.message).toContain("TEXT_CHUNK_OVERLAP");
    expect(err.message).toContain(overlap);
    expect(err.message).toContain("TEXT_CHUNK_SIZE");
    expect(
      load({ TEXT_CHUNK_SIZE: size, TEXT_CHUNK_OVERLAP: String(Number(size) - 1) }).textChunkOverlap,
    ).toBe(Number(size) - 1);
  });

  it("names every bad variable at once", () => {
    const err = configError(() => load({ MAX_CONCURRENT_PROCESSING: "abc", AWS_REGION: "us east 1" }));
    expect(err.message).toContain("MAX_CONCURRENT_PROCESSING");
    expect(err.message).toContain("AWS_REGION");
  });

  it("never shows the API key in an error message", () => {
    const secret = "sk-live-0123456789SECRET";
    const err = configError(() =>
      load({ EMBEDDING_API_KEY: secret, MAX_CONCURRENT_PROCESSING: "abc", EMBEDDING_PROVIDER: "foo" }),
    );
    expect(err.message).not.toContain(secret);
    expect(String(err.stack)).not.toContain(secret);
    const file = writeEnv(`EMBEDDING_API_KEY=${secret}\nAWS_REGION=us east 1\n`);
    expect(configError(() => load({}, file)).message).not.toContain(secret);
    expect(load({ EMBEDDING_API_KEY: secret }).embedding.apiKey).toBe(secret);
  });

  it("the config is deeply frozen", () => {
    const c = load();
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.embedding)).toBe(true);
    expect(Object.isFrozen(c.s3)).toBe(true);
    expect(() => {
      (c as { maxRetryAttempts: number }).maxRetryAttempts = 1;
    }).toThrow(TypeError);
    expect(() => {
      (c.embedding as { apiKey: string }).apiKey = "x";
    }).toThrow(TypeError);
  });
});

describe("env template", () => {
  it("lists every variable of ENV_VARS with its default commented out and its documentation", () => {
    const t = renderEnvTemplate();
    for (const [name, spec] of Object.entries(ENV_VARS)) {
      expect(t.split("\n"), name).toContain(`# ${name}=${spec.default}`);
      expect(t, name).toContain(spec.doc);
    }
    // Nothing is set: the file states only what the user uncomments.
    expect(t.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"))).toEqual([]);
  });

  it("has sections, an Ollama example and the re-index note", () => {
    const t = renderEnvTemplate();
    expect(t).toContain("# ===== Embedder =====");
    expect(t).toContain("#   EMBEDDING_BASE_URL=http://127.0.0.1:11434/v1");
    expect(t).toContain("#   EMBEDDING_MODEL=nomic-embed-text");
    expect(t).toContain("npx lancedb-sync reset --yes");
    expect(t.match(/^# ===== /gm)?.length).toBeGreaterThanOrEqual(6);
  });

  it("as a .env file it is accepted and gives exactly the defaults", () => {
    const file = writeEnv(renderEnvTemplate());
    expect(load({}, file)).toEqual(load());
  });
});
