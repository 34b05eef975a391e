import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddingsServer, startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import {
  type CliEnv,
  envFor,
  expectStoreMatchesFiles,
  journalItems,
  keyOf,
  listFiles,
  makeText,
  prng,
  readTables,
  show,
  suiteTempDir,
} from "./support.js";

const HASHING_ID = "hashing-ngram-v1:384";
const OPENAI_ID = "openai-compatible:text-embedding-3-small:16";

describe("switching embedders", () => {
  const tmp = suiteTempDir("lancedb-sync-embedder-");
  const docs = join(tmp.path, "docs");
  const env = envFor(tmp.path);
  let server: EmbeddingsServer;
  let openai: CliEnv;
  const sync = (e: Record<string, string>) =>
    runCli(["sync", docs, "--user", "alice", "--json"], { cwd: tmp.path, env: e });

  beforeAll(async () => {
    tmp.create();
    server = await startEmbeddingsServer({ dimensions: 16 });
    openai = {
      ...env,
      EMBEDDING_PROVIDER: "openai",
      EMBEDDING_BASE_URL: server.url,
      EMBEDDING_DIMENSIONS: "16",
      EMBEDDING_BATCH_SIZE: "4",
      EMBEDDING_API_KEY: "sk-local-test",
    };
    mkdirSync(docs);
    const rand = prng(17);
    for (let i = 0; i < 5; i++) writeFileSync(join(docs, `long-${i}.md`), makeText(rand, 2500, `long${i}`));
    writeFileSync(join(docs, "beacon.txt"), "The harbour beacon flashes twice every ten seconds.");
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  it("the default hashing embedder builds the tables", async () => {
    const r = await sync(env);
    expect(r.code, show(r)).toBe(0);
    expect(r.json.added).toBe(6);
    const s = await runCli(["status", "--json"], { cwd: tmp.path, env });
    expect(s.json).toMatchObject({ embedder: HASHING_ID, table_embedder: HASHING_ID });
  });

  it("a sync with another embedder and no changed files exits 1 with SYNC_E_EMBEDDER_MISMATCH", async () => {
    const r = await sync(openai);
    expect(r.code, show(r)).toBe(1);
    expect(r.json.error.code).toBe("SYNC_E_EMBEDDER_MISMATCH");
    expect(r.json.error.message).toContain(HASHING_ID);
    expect(r.json.error.message).toContain(OPENAI_ID);
  });

  it("a sync with another embedder and a changed file exits 1 naming both embedders, writing nothing", async () => {
    const before = await readTables(env.LANCEDB_URI);
    appendFileSync(join(docs, "beacon.txt"), " It was repainted in May.");
    server.reset();
    const r = await sync(openai);
    expect(r.code, show(r)).toBe(1);
    expect(r.json.error.code).toBe("SYNC_E_EMBEDDER_MISMATCH");
    expect(r.json.error.message).toContain(HASHING_ID);
    expect(r.json.error.message).toContain(OPENAI_ID);
    expect(r.stderr).toContain("SYNC_E_EMBEDDER_MISMATCH");
    const after = await readTables(env.LANCEDB_URI);
    expect(after.chunks.map((c) => c.chunk_id).sort()).toEqual(before.chunks.map((c) => c.chunk_id).sort());
    expect(after.chunks.map((c) => c.text).sort()).toEqual(before.chunks.map((c) => c.text).sort());

    const s = await runCli(["search", "beacon", "--user", "alice", "--json"], { cwd: tmp.path, env: openai });
    expect(s.code, show(s)).toBe(1);
    expect(s.json.error.code).toBe("SYNC_E_EMBEDDER_MISMATCH");
  });

  it("after reset --yes the openai provider re-indexes everything in batches and vector search works", async () => {
    const reset = await runCli(["reset", "--yes", "--json"], { cwd: tmp.path, env: openai });
    expect(reset.code, show(reset)).toBe(0);
    expect(reset.json.dropped.sort()).toEqual(["document_chunks", "processed_documents"]);

    server.reset();
    const r = await sync(openai);
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ added: 6, failed: 0, reused_chunks: 0 });
    const { chunks } = await expectStoreMatchesFiles(openai, listFiles(docs), { userId: "alice" });
    const unique = new Set(chunks.map((c) => c.text)).size;
    expect(r.json.embedded_chunks).toBe(unique);

    // Batching: at most EMBEDDING_BATCH_SIZE inputs per request, full batches used, every text sent once.
    const inputs = server.requests.map((q) => (q.body as { input: string[] }).input);
    expect(server.requests.every((q) => q.path === "/v1/embeddings" && q.method === "POST")).toBe(true);
    expect(server.requests.every((q) => q.headers.authorization === "Bearer sk-local-test")).toBe(true);
    expect(
      server.requests.every((q) => (q.body as { model: string; dimensions: number }).dimensions === 16),
    ).toBe(true);
    for (const i of inputs) expect(i.length).toBeLessThanOrEqual(4);
    expect(inputs.filter((i) => i.length === 4).length).toBeGreaterThan(0);
    expect(server.requests.length).toBeGreaterThanOrEqual(Math.ceil(unique / 4));
    expect(inputs.flat().sort()).toEqual([...new Set(chunks.map((c) => c.text))].sort());

    const s = await runCli(["status", "--json"], { cwd: tmp.path, env: openai });
    expect(s.json).toMatchObject({ embedder: OPENAI_ID, table_embedder: OPENAI_ID, documents: 6 });

    // The server's vectors are a hash of the text: the exact text of a chunk is its own nearest neighbour.
    const beacon = chunks.find((c) => c.item_key === keyOf(join(docs, "beacon.txt")));
    expect(beacon).toBeDefined();
    server.reset();
    const q = await runCli(
      ["search", beacon?.text as string, "--user", "alice", "--mode", "vector", "--json"],
      {
        cwd: tmp.path,
        env: openai,
      },
    );
    expect(q.code, show(q)).toBe(0);
    expect(q.json.hits[0]).toMatchObject({ item_key: beacon?.item_key, text: beacon?.text });
    expect(q.json.hits[0].score).toBeCloseTo(1, 4);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.body).toMatchObject({ input: [beacon?.text] });

    // And the hashing embedder is now the mismatched one (with a change, so the run must write).
    appendFileSync(join(docs, "beacon.txt"), " Its keeper retired in June.");
    const h = await sync(env);
    expect(h.code, show(h)).toBe(1);
    expect(h.json.error.code).toBe("SYNC_E_EMBEDDER_MISMATCH");
  });
});

describe("an embedding server that starts failing mid-run", () => {
  it("fails the run (exit 1) without half-written documents; the next run resumes where it stopped", async () => {
    const tmp = makeTempDir("lancedb-sync-embedder-");
    const server = await startEmbeddingsServer({ dimensions: 16 });
    try {
      const docs = join(tmp.path, "docs");
      mkdirSync(docs);
      const rand = prng(29);
      for (let i = 0; i < 60; i++) writeFileSync(join(docs, `d${i}.txt`), makeText(rand, 1500, `d${i}`));
      const env = {
        ...envFor(tmp.path),
        EMBEDDING_PROVIDER: "openai",
        EMBEDDING_BASE_URL: server.url,
        EMBEDDING_DIMENSIONS: "16",
        EMBEDDING_BATCH_SIZE: "8",
        WRITE_BATCH_DOCS: "10",
      };
      // A run-level client error (a refused key) is not retried, so the run fails at once.
      server.setBehaviour((_req, ctx) =>
        ctx.index < 6 ? "default" : { status: 403, body: { error: { message: "model overloaded" } } },
      );
      const failed = await runCli(["sync", docs, "--user", "alice", "--json"], { cwd: tmp.path, env });
      expect(failed.code, show(failed)).toBe(1);
      expect(failed.json.error.code).toBe("SYNC_E_EMBEDDING_FAILED");
      expect(failed.json.error.message).toContain("model overloaded");

      const items = journalItems(env.STATE_DB_PATH);
      expect(items.filter((i) => i.status === "pending")).toEqual([]);
      const committed = items.map((i) => i.item_key);
      expect(committed.length).toBeGreaterThan(0); // 6 good requests embed more than one write batch
      expect(committed.length).toBeLessThan(60);
      const { docs: rows } = await readTables(env.LANCEDB_URI);
      expect(rows.map((d) => d.item_key).sort()).toEqual([...committed].sort());
      const s = await runCli(["status", "--json"], { cwd: tmp.path, env });
      expect(s.json.last_run).toMatchObject({ status: "failed" });
      expect(s.json.last_run.error).toContain("model overloaded");

      server.setBehaviour(undefined);
      const rerun = await runCli(["sync", docs, "--user", "alice", "--json"], { cwd: tmp.path, env });
      expect(rerun.code, show(rerun)).toBe(0);
      expect(rerun.json).toMatchObject({
        unchanged: committed.length,
        added: 60 - committed.length,
        failed: 0,
      });
      await expectStoreMatchesFiles(env, listFiles(docs), { userId: "alice" });
    } finally {
      await server.close();
      tmp.cleanup();
    }
  });
});

describe("an embedding server that is down", () => {
  it("does not stop status and cleanup-failed (EMBEDDING_DIMENSIONS unset, so the width is unknown)", async () => {
    const tmp = makeTempDir("lancedb-sync-embedder-");
    // Every request fails with a client error (not retried), as a misconfigured or broken server would.
    const server = await startEmbeddingsServer({
      behaviour: () => ({ status: 400, body: { error: { message: "no such model" } } }),
    });
    try {
      const docs = join(tmp.path, "docs");
      mkdirSync(docs);
      writeFileSync(join(docs, "a.txt"), "first file\n");
      writeFileSync(join(docs, "b.txt"), "second file\n");
      const env = envFor(tmp.path);
      const first = await runCli(["sync", docs, "--user", "alice", "--json"], { cwd: tmp.path, env });
      expect(first.code, show(first)).toBe(0);

      const down = { ...env, EMBEDDING_PROVIDER: "openai", EMBEDDING_BASE_URL: server.url };
      const sync = await runCli(["sync", docs, "--user", "alice", "--json"], { cwd: tmp.path, env: down });
      expect(sync.code, show(sync)).toBe(1);

      const status = await runCli(["status", "--json"], { cwd: tmp.path, env: down });
      expect(status.code, show(status)).toBe(0);
      expect(status.json).toMatchObject({ documents: 2, failed: 0, table_embedder: HASHING_ID });
      const cleanup = await runCli(["cleanup-failed", "--json"], { cwd: tmp.path, env: down });
      expect(cleanup.code, show(cleanup)).toBe(0);
    } finally {
      await server.close();
      tmp.cleanup();
    }
  });
});
