import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSyncError } from "../../src/errors/sync-error.js";
import { HashingEmbedder } from "../../src/pipeline/embed/hashing-embedder.js";
import { searchChunks } from "../../src/search/search-chunks.js";
import { LanceDbStore } from "../../src/storage/lancedb-store.js";
import { startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, keyOf, readTables, show, suiteTempDir } from "./support.js";

const INJECTIONS = ["x' OR '1'='1", "alice' OR '1'='1", "alice' --", "alice OR user_id = 'bob'"];

interface Hit {
  doc_id: string;
  item_key: string;
  source_id: string;
  text: string;
  score: number;
  metadata: Record<string, unknown>;
  url: string | null;
}

describe("search is scoped to one user", () => {
  const tmp = suiteTempDir("lancedb-sync-search-");
  const env = envFor(tmp.path);
  const aliceDir = join(tmp.path, "alice");
  const bobDir = join(tmp.path, "bob");
  const aliceDocs = new Set<string>();
  const bobDocs = new Set<string>();

  const search = (query: string, user: string, ...extra: string[]) =>
    runCli(["search", query, "--user", user, "--json", ...extra], { cwd: tmp.path, env });

  beforeAll(async () => {
    tmp.create();
    mkdirSync(aliceDir);
    mkdirSync(bobDir);
    // Shared vocabulary ("lighthouse keeper") in both users' documents, plus words only one of them has.
    writeFileSync(
      join(aliceDir, "lighthouse.md"),
      "# Lighthouse\n\nThe lighthouse keeper logs every passing ship in the copper ledger. Zephyrine storms arrive in spring.\n",
    );
    writeFileSync(join(aliceDir, "garden.txt"), "The lighthouse keeper also tends an orchard of pears.\n");
    writeFileSync(join(aliceDir, "recipes.txt"), "Zephyrine soup: onions, pears, and a pinch of salt.\n");
    writeFileSync(
      join(bobDir, "keeper.md"),
      "# Keeper\n\nA lighthouse keeper's diary: fog, foghorns and the quarterly marmalade inventory.\n",
    );
    writeFileSync(
      join(bobDir, "boats.txt"),
      "Boats pass the lighthouse at night; the keeper waves a lantern.\n",
    );
    for (const [user, dir] of [
      ["alice", aliceDir],
      ["bob", bobDir],
    ] as const) {
      const r = await runCli(["sync", dir, "--user", user, "--json"], { cwd: tmp.path, env });
      expect(r.code, show(r)).toBe(0);
    }
    const { docs } = await readTables(env.LANCEDB_URI);
    for (const d of docs) (d.user_id === "alice" ? aliceDocs : bobDocs).add(d.doc_id);
    expect(aliceDocs.size).toBe(3);
    expect(bobDocs.size).toBe(2);
  });
  afterAll(() => tmp.cleanup());

  for (const mode of ["vector", "fts", "hybrid"]) {
    it(`${mode}: alice's hits come only from alice's documents, bob's only from bob's`, async () => {
      for (const [user, own, dir] of [
        ["alice", aliceDocs, aliceDir],
        ["bob", bobDocs, bobDir],
      ] as const) {
        const r = await search("lighthouse keeper", user, "--mode", mode, "--limit", "20");
        expect(r.code, show(r)).toBe(0);
        expect(r.json.mode).toBe(mode);
        const hits = r.json.hits as Hit[];
        expect(hits.length).toBeGreaterThan(0);
        for (const h of hits) {
          expect(own.has(h.doc_id), `${user} got ${h.item_key}`).toBe(true);
          expect(h.item_key.startsWith(`${keyOf(dir)}/`)).toBe(true);
          expect(typeof h.text).toBe("string");
          expect(h.text.length).toBeGreaterThan(0);
          expect(Number.isFinite(h.score)).toBe(true);
        }
        // Scores are ordered best first.
        for (let i = 1; i < hits.length; i++) {
          expect((hits[i] as Hit).score).toBeLessThanOrEqual((hits[i - 1] as Hit).score);
        }
      }
    });
  }

  it("fts: a word only alice has finds her document, and nothing for bob", async () => {
    const a = await search("marmalade", "alice", "--mode", "fts");
    expect(a.code, show(a)).toBe(0);
    expect(a.json.hits).toEqual([]);
    const b = await search("marmalade", "bob", "--mode", "fts");
    expect(b.json.hits.map((h: Hit) => h.item_key)).toEqual([keyOf(join(bobDir, "keeper.md"))]);
    const z = await search("zephyrine", "alice", "--mode", "fts");
    expect(z.json.hits.map((h: Hit) => h.item_key).sort()).toEqual(
      [keyOf(join(aliceDir, "lighthouse.md")), keyOf(join(aliceDir, "recipes.txt"))].sort(),
    );
    const zb = await search("zephyrine", "bob", "--mode", "hybrid");
    for (const h of zb.json.hits as Hit[]) expect(bobDocs.has(h.doc_id)).toBe(true);
  });

  it("vector: the exact text of a chunk ranks that chunk first", async () => {
    const text = "Zephyrine soup: onions, pears, and a pinch of salt.";
    const r = await search(text, "alice", "--mode", "vector");
    expect(r.json.hits[0].item_key).toBe(keyOf(join(aliceDir, "recipes.txt")));
    expect(r.json.hits[0].score).toBeCloseTo(1, 4);
    const b = await search(text, "bob", "--mode", "vector");
    for (const h of b.json.hits as Hit[]) expect(bobDocs.has(h.doc_id)).toBe(true);
  });

  for (const user of INJECTIONS.slice(0, 2)) {
    it(`a filter-injection user id (${user}) is one literal: no hits, nobody's rows`, async () => {
      for (const mode of ["vector", "fts", "hybrid"]) {
        const r = await search("lighthouse", user, "--mode", mode);
        expect(r.code, show(r)).toBe(0);
        expect(r.stdout).not.toContain("lighthouse keeper");
      }
    });
  }

  it("a user id that cannot be one (a path, a control character) exits 1 with SYNC_E_INVALID_ID", async () => {
    for (const user of ["a/b", "alice\nbob"]) {
      const r = await search("lighthouse", user, "--mode", "vector");
      expect(r.code, show(r)).toBe(1);
      expect(r.json).toEqual({ error: expect.objectContaining({ code: "SYNC_E_INVALID_ID" }) });
    }
  });

  it("status --user counts only that user's rows", async () => {
    const { chunks } = await readTables(env.LANCEDB_URI);
    for (const [user, own] of [
      ["alice", aliceDocs],
      ["bob", bobDocs],
    ] as const) {
      const r = await runCli(["status", "--user", user, "--json"], { cwd: tmp.path, env });
      expect(r.code, show(r)).toBe(0);
      expect(r.json.documents).toBe(own.size);
      expect(r.json.chunks).toBe(chunks.filter((c) => c.user_id === user).length);
      expect(r.json.sources.map((s: { user_id: string }) => s.user_id)).toEqual([user]);
    }
  });

  it("status and cleanup-failed take an injection user id as one literal, and reject an invalid one", async () => {
    const status = await runCli(["status", "--user", INJECTIONS[0] as string, "--json"], {
      cwd: tmp.path,
      env,
    });
    expect(status.code, show(status)).toBe(0);
    expect(status.json.documents).toBe(0);
    expect(status.json.chunks).toBe(0);
    for (const args of [["status"], ["cleanup-failed"], ["cleanup-failed", "--source", "x"]]) {
      const r = await runCli([...args, "--user", "a/b", "--json"], { cwd: tmp.path, env });
      expect(r.code, show(r)).toBe(1);
      expect(r.json.error.code).toBe("SYNC_E_INVALID_ID");
    }
    const bad = await runCli(["sync", aliceDir, "--user", "alice", "--source", "s' OR '1'='1", "--json"], {
      cwd: tmp.path,
      env,
    });
    expect(bad.code, show(bad)).toBe(1);
    expect(bad.json.error.code).toBe("SYNC_E_INVALID_ID");
  });

  it("searchChunks itself takes an injection user id as one literal (no hits), and rejects an invalid one before querying", async () => {
    const store = new LanceDbStore({
      uri: env.LANCEDB_URI,
      documentsTable: "processed_documents",
      chunksTable: "document_chunks",
    });
    const embedder = new HashingEmbedder();
    await store.open(embedder);
    try {
      const ok = await searchChunks(store, embedder, { query: "lighthouse", userId: "alice", mode: "fts" });
      expect(ok.length).toBeGreaterThan(0);
      for (const h of ok) expect(aliceDocs.has(h.doc_id)).toBe(true);
      for (const userId of INJECTIONS) {
        for (const mode of ["vector", "fts", "hybrid"] as const) {
          expect(
            await searchChunks(store, embedder, { query: "lighthouse", userId, mode }),
            `${mode} ${userId}`,
          ).toEqual([]);
        }
      }
      for (const userId of ["a/b", " alice", "alice\n"]) {
        for (const mode of ["vector", "fts", "hybrid"] as const) {
          let caught: unknown;
          try {
            await searchChunks(store, embedder, { query: "lighthouse", userId, mode });
          } catch (err) {
            caught = err;
          }
          expect(isSyncError(caught, "SYNC_E_INVALID_ID"), `${mode} ${userId}: ${String(caught)}`).toBe(true);
        }
      }
    } finally {
      await store.close();
    }
  });

  it("hits carry their document's metadata and url; --source, --doc and --meta narrow them exactly", async () => {
    const all = await search("lighthouse keeper pears", "alice", "--mode", "vector", "--limit", "50");
    expect(all.code, show(all)).toBe(0);
    const hits = all.json.hits as Hit[];
    expect(new Set(hits.map((h) => h.doc_id))).toEqual(aliceDocs);
    for (const h of hits) {
      expect(h.metadata.file_name).toBe(h.item_key.split("/").pop());
      expect(typeof h.metadata.text_length).toBe("number");
      expect(h.url).toBeNull();
    }
    const garden = hits.find((h) => h.item_key.endsWith("/garden.txt")) as Hit;
    const lighthouse = hits.find((h) => h.item_key.endsWith("/lighthouse.md")) as Hit;
    const docsOf = async (...extra: string[]) => {
      const r = await search(
        "lighthouse keeper pears",
        "alice",
        "--mode",
        "vector",
        "--limit",
        "50",
        ...extra,
      );
      expect(r.code, show(r)).toBe(0);
      return [...new Set((r.json.hits as Hit[]).map((h) => h.doc_id))].sort();
    };
    expect(await docsOf("--meta", "file_name=garden.txt")).toEqual([garden.doc_id]);
    const length = String(garden.metadata.text_length);
    expect(await docsOf("--meta", "file_name=garden.txt", "--meta", `text_length=${length}`)).toEqual([
      garden.doc_id,
    ]);
    expect(await docsOf("--meta", "file_name=garden.txt", `text_length=${length}0`)).toEqual([]);
    expect(await docsOf("--meta", "file_name=garden")).toEqual([]);
    expect(await docsOf("--meta", "file_name=garden.txt' OR '1'='1")).toEqual([]);
    expect(await docsOf("--doc", lighthouse.doc_id, garden.doc_id)).toEqual(
      [lighthouse.doc_id, garden.doc_id].sort(),
    );
    expect(await docsOf("--doc", lighthouse.doc_id, "--meta", "file_name=garden.txt")).toEqual([]);
    expect(await docsOf("--source", garden.source_id)).toEqual([...aliceDocs].sort());
    expect(await docsOf("--source", "no-such-source")).toEqual([]);
    // Another user's document id finds nothing.
    expect(await docsOf("--doc", [...bobDocs][0] as string)).toEqual([]);
    const fts = await search("zephyrine", "alice", "--mode", "fts", "--meta", "file_name=recipes.txt");
    expect((fts.json.hits as Hit[]).map((h) => h.item_key)).toEqual([keyOf(join(aliceDir, "recipes.txt"))]);

    for (const bad of ["file_name", "=x", "a=1 --meta a=2"]) {
      const r = await search("lighthouse", "alice", "--meta", ...bad.split(" "));
      expect(r.code, `${bad}: ${show(r)}`).toBe(1);
      expect(r.json.error.code).toBe("SYNC_E_INVALID_ARGUMENT");
    }
  });

  it("a user without documents gets no hits", async () => {
    for (const mode of ["vector", "fts", "hybrid"]) {
      const r = await search("lighthouse keeper", "carol", "--mode", mode);
      expect(r.code, show(r)).toBe(0);
      expect(r.json.hits).toEqual([]);
    }
  });
});

describe("full-text search after the index was built", () => {
  it("finds documents added later, and forgets deleted and rewritten text", async () => {
    const tmp = makeTempDir("lancedb-sync-search-");
    try {
      const env = envFor(tmp.path);
      const dir = join(tmp.path, "docs");
      mkdirSync(dir);
      writeFileSync(join(dir, "a.txt"), "The albatross glides over the harbour.\n");
      writeFileSync(join(dir, "b.txt"), "The cormorant dives for sardines.\n");
      writeFileSync(join(dir, "c.txt"), "The puffin nests on the cliff.\n");
      const sync = () => runCli(["sync", dir, "--user", "alice", "--json"], { cwd: tmp.path, env });
      const fts = async (q: string) => {
        const r = await runCli(["search", q, "--user", "alice", "--mode", "fts", "--json"], {
          cwd: tmp.path,
          env,
        });
        expect(r.code, show(r)).toBe(0);
        return (r.json.hits as Hit[]).map((h) => h.item_key).sort();
      };
      expect((await sync()).code).toBe(0);
      expect(await fts("albatross")).toEqual([keyOf(join(dir, "a.txt"))]); // builds the index

      writeFileSync(join(dir, "d.txt"), "The kittiwake screams at dawn.\n");
      writeFileSync(join(dir, "a.txt"), "The gannet plunges into the sea.\n");
      rmSync(join(dir, "b.txt"));
      const r = await sync();
      expect(r.code, show(r)).toBe(0);
      expect(r.json).toMatchObject({ added: 1, updated: 1, deleted: 1 });

      expect(await fts("kittiwake")).toEqual([keyOf(join(dir, "d.txt"))]);
      expect(await fts("gannet")).toEqual([keyOf(join(dir, "a.txt"))]);
      expect(await fts("albatross")).toEqual([]);
      expect(await fts("cormorant")).toEqual([]);
      const hybrid = await runCli(["search", "cormorant sardines", "--user", "alice", "--json"], {
        cwd: tmp.path,
        env,
      });
      for (const h of hybrid.json.hits as Hit[]) expect(h.item_key).not.toBe(keyOf(join(dir, "b.txt")));
    } finally {
      tmp.cleanup();
    }
  });
});

describe("search on an empty database", () => {
  it("returns no hits in every mode", async () => {
    const tmp = makeTempDir("lancedb-sync-search-");
    try {
      const env = envFor(tmp.path);
      for (const mode of ["vector", "fts", "hybrid"]) {
        const r = await runCli(["search", "anything at all", "--user", "alice", "--mode", mode, "--json"], {
          cwd: tmp.path,
          env,
        });
        expect(r.code, show(r)).toBe(0);
        expect(r.json.hits).toEqual([]);
      }
    } finally {
      tmp.cleanup();
    }
  });
});

describe("a store without a full-text index yet", () => {
  it("fts and hybrid answer by vector search, say so, and write nothing", async () => {
    const tmp = makeTempDir("lancedb-sync-search-");
    try {
      // A store written by the library without index upkeep: what a large store looks like before `compact`.
      const store = new LanceDbStore({
        uri: join(tmp.path, "db"),
        documentsTable: "processed_documents",
        chunksTable: "document_chunks",
      });
      const embedder = new HashingEmbedder();
      await store.open(embedder);
      try {
        const text = "the lighthouse keeper logs every passing ship";
        const [vector] = await embedder.embed([text]);
        await store.applyBatch({
          upserts: [
            {
              doc: {
                doc_id: "d1",
                user_id: "alice",
                source_type: "fs",
                source_id: "s",
                item_key: "/k/a.txt",
                title: "a",
                mime_type: "text/plain",
                size_bytes: text.length,
                content_hash: "h",
                chunk_count: 1,
                modified_at: "2025-01-01T00:00:00.000Z",
                ingested_at: "2025-01-01T00:00:00.000Z",
                metadata: "{}",
                url: "",
              },
              chunks: [
                {
                  chunk_id: "d1:0",
                  doc_id: "d1",
                  user_id: "alice",
                  ordinal: 0,
                  text,
                  text_hash: "t",
                  start: 0,
                  end: text.length,
                  vector: vector as Float32Array,
                  title: "a",
                  source_id: "s",
                  item_key: "/k/a.txt",
                  url: "",
                  metadata: "{}",
                },
              ],
            },
          ],
          replaceDocIds: [],
          deleteDocIds: [],
        });
        const versions = async () => (await store.health()).map((h) => h.version);
        const version = await versions();
        for (const mode of ["fts", "hybrid"] as const) {
          const notes: string[] = [];
          const hits = await searchChunks(store, embedder, {
            query: "lighthouse keeper",
            userId: "alice",
            mode,
            onFallback: (n) => notes.push(n),
          });
          expect(hits.map((h) => h.doc_id)).toEqual(["d1"]);
          expect(notes).toHaveLength(1);
          expect(notes[0]).toContain("compact");
        }
        expect(await store.fullTextReady()).toBe(false);
        expect(await versions()).toEqual(version);
      } finally {
        await store.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});

describe("fts search with a remote embedder", () => {
  it("neither creates nor asks the embedder: it works with the embeddings server down", async () => {
    const tmp = makeTempDir("lancedb-sync-search-");
    const server = await startEmbeddingsServer({ dimensions: 16 });
    let closed = false;
    try {
      // EMBEDDING_DIMENSIONS unset: creating the embedder asks the server for its width.
      const env = {
        ...envFor(tmp.path),
        EMBEDDING_PROVIDER: "openai",
        EMBEDDING_BASE_URL: server.url,
        EMBEDDING_API_KEY: "sk-local-test",
      };
      const dir = join(tmp.path, "docs");
      mkdirSync(dir);
      writeFileSync(join(dir, "a.txt"), "The albatross glides over the harbour.\n");
      const sync = await runCli(["sync", dir, "--user", "alice", "--json"], { cwd: tmp.path, env });
      expect(sync.code, show(sync)).toBe(0);
      expect(server.requests.length).toBeGreaterThan(0);
      server.reset();
      const args = (mode: string) => ["search", "albatross", "--user", "alice", "--mode", mode, "--json"];
      const fts = await runCli(args("fts"), { cwd: tmp.path, env });
      expect(fts.code, show(fts)).toBe(0);
      expect((fts.json.hits as Hit[]).map((h) => h.item_key)).toEqual([keyOf(join(dir, "a.txt"))]);
      expect(server.requests).toEqual([]);

      await server.close();
      closed = true;
      const down = await runCli(args("fts"), { cwd: tmp.path, env });
      expect(down.code, show(down)).toBe(0);
      expect(down.json.hits).toHaveLength(1);
      const vector = await runCli(args("vector"), { cwd: tmp.path, env });
      expect(vector.code, show(vector)).not.toBe(0);
    } finally {
      if (!closed) await server.close();
      tmp.cleanup();
    }
  });
});
