import * as lancedb from "@lancedb/lancedb";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChunkRow, DocumentRow } from "../../src/core/document-store.js";
import { hashContent, makeChunkId, makeDocId } from "../../src/core/ids.js";
import { HashingEmbedder } from "../../src/pipeline/embed/hashing-embedder.js";
import { searchChunks } from "../../src/search/search-chunks.js";
import { LanceDbStore, type LanceDbStoreOptions } from "../../src/storage/lancedb-store.js";
import { prng } from "../helpers/prng.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const WORDS = (
  "amber basalt cedar delta ember fjord garnet harbor island juniper kelp lagoon meadow nickel " +
  "orchid pebble quartz river saffron tundra umber violet willow xenon yarrow zinc anchor beacon " +
  "canyon dune estuary falcon glacier heron iris jasper kestrel lantern marble nectar opal prairie"
).split(" ");

const embedder = new HashingEmbedder({ dimensions: 64 });

/** A document of `n` chunks of pseudo-random words (distinct per seed), with real hashing vectors. */
async function makeDoc(
  userId: string,
  key: string,
  n: number,
  seed: number,
  extra = "",
): Promise<{ doc: DocumentRow; chunks: ChunkRow[] }> {
  const rnd = prng(seed);
  const texts = Array.from({ length: n }, (_, i) => {
    const words = Array.from({ length: 12 }, () => WORDS[Math.floor(rnd() * WORDS.length)]);
    return `${words.join(" ")} ${userId} ${key} ${i}${extra}`;
  });
  const vectors = await embedder.embed(texts);
  const docId = makeDocId(userId, "docs", key);
  let offset = 0;
  const chunks = texts.map((text, ordinal): ChunkRow => {
    const start = offset;
    offset += text.length;
    return {
      chunk_id: makeChunkId(docId, ordinal),
      doc_id: docId,
      user_id: userId,
      ordinal,
      text,
      text_hash: hashContent(text),
      start,
      end: offset,
      vector: vectors[ordinal] as Float32Array,
      title: key,
      source_id: "docs",
      item_key: key,
      url: "",
      metadata: "{}",
    };
  });
  return {
    doc: {
      doc_id: docId,
      user_id: userId,
      source_type: "fs",
      source_id: "docs",
      item_key: key,
      title: key,
      mime_type: "text/plain",
      size_bytes: offset,
      content_hash: hashContent(texts.join("")),
      chunk_count: n,
      modified_at: "2024-05-01T12:00:00.000Z",
      ingested_at: "2024-05-01T12:00:00.000Z",
      metadata: "{}",
      url: "",
    },
    chunks,
  };
}

/** Writes `docs` documents of 50 chunks for `userId` (seeds from `seed0`). */
async function addDocs(store: LanceDbStore, userId: string, docs: number, seed0: number): Promise<void> {
  const upserts = [];
  for (let d = 0; d < docs; d++)
    upserts.push(await makeDoc(userId, `${userId}-${seed0 + d}.txt`, 50, seed0 + d));
  await store.applyBatch({ upserts, replaceDocIds: [], deleteDocIds: [] });
}

describe("vector index past VECTOR_INDEX_THRESHOLD", () => {
  const tmp = makeTempDir("lancedb-sync-vindex-");
  let store: LanceDbStore;
  let options: LanceDbStoreOptions;

  const rawTable = async () => {
    const conn = await lancedb.connect(options.uri);
    return { conn, table: await conn.openTable("chunks") };
  };
  const vectorIndex = async () => {
    const { conn, table } = await rawTable();
    try {
      const idx = (await table.listIndices()).find((i) => i.columns.includes("vector"));
      const stats = idx ? await table.indexStats(idx.name) : undefined;
      return idx && stats ? { type: idx.indexType, ...stats } : undefined;
    } finally {
      conn.close();
    }
  };

  beforeEach(async () => {
    options = {
      uri: `${tmp.path}/db-${Math.random().toString(36).slice(2)}`,
      documentsTable: "docs",
      chunksTable: "chunks",
      fullTextIndex: true,
      vectorIndexThreshold: 1000,
      nprobes: 4,
      refineFactor: 5,
    };
    store = new LanceDbStore(options);
    await store.open(embedder);
  });
  afterEach(async () => {
    await store.close();
    tmp.cleanup();
  });

  const needs = async () => (await store.health()).find((t) => t.name === "chunks")?.needsVectorIndex;

  it("is built by compact once the chunks table reaches the threshold (never by a sync's maintain), and search uses it", async () => {
    await addDocs(store, "alice", 12, 1); // 600 rows
    await store.maintain();
    expect(await needs()).toBe(false);
    await store.compact({ retentionHours: 0 });
    expect(await vectorIndex()).toBeUndefined();
    await addDocs(store, "bob", 12, 100); // 1,200 rows
    await store.maintain();
    expect(await vectorIndex()).toBeUndefined();
    // What the service's compaction scheduler reads to run a compaction for it.
    expect(await needs()).toBe(true);
    await store.compact({ retentionHours: 0 });
    expect(await needs()).toBe(false);
    const idx = await vectorIndex();
    expect(idx?.type).toBe("IvfPq");
    expect(idx?.distanceType).toBe("cosine");
    expect(idx?.numIndexedRows).toBe(1200);
    expect(idx?.numUnindexedRows).toBe(0);

    const [q] = await embedder.embed(["amber basalt cedar"]);
    const { conn, table } = await rawTable();
    try {
      const plan = await table
        .vectorSearch(q as Float32Array)
        .distanceType("cosine")
        .explainPlan();
      expect(plan).toMatch(/ANN/);
      const flat = await table
        .vectorSearch(q as Float32Array)
        .distanceType("cosine")
        .bypassVectorIndex()
        .explainPlan();
      expect(flat).not.toMatch(/ANN/);
    } finally {
      conn.close();
    }
    // A chunk's own text finds that chunk first (the refine step ranks by exact distance).
    const target = (await makeDoc("alice", "alice-5.txt", 50, 5)).chunks[17] as ChunkRow;
    const hits = await searchChunks(store, embedder, { query: target.text, userId: "alice", mode: "vector" });
    expect(hits[0]?.chunk_id).toBe(target.chunk_id);
    expect(hits[0]?.score).toBeCloseTo(1, 4);
  });

  it("keeps each user's hits to that user's rows with the index built (vector, hybrid and fts)", async () => {
    await addDocs(store, "alice", 12, 1);
    await addDocs(store, "bob", 12, 100);
    // carol has one small document: a narrow prefilter on an IVF index must still fill the limit.
    const carol = await makeDoc("carol", "carol.txt", 3, 999);
    await store.applyBatch({ upserts: [carol], replaceDocIds: [], deleteDocIds: [] });
    await store.compact({ retentionHours: 0 });
    expect((await vectorIndex())?.numIndexedRows).toBe(1203);
    const bobText = (await makeDoc("bob", "bob-100.txt", 50, 100)).chunks[3]?.text as string;
    for (const mode of ["vector", "hybrid", "fts"] as const) {
      for (const [user, prefix] of [
        ["alice", "alice"],
        ["bob", "bob"],
        ["carol", "carol"],
      ] as const) {
        const hits = await searchChunks(store, embedder, { query: bobText, userId: user, mode, limit: 50 });
        expect(hits.length, `${mode} ${user}`).toBeGreaterThan(0);
        for (const h of hits)
          expect(h.item_key.startsWith(prefix), `${mode} ${user}: ${h.item_key}`).toBe(true);
        if (user === "carol" && mode !== "fts") expect(hits.length).toBe(3);
      }
    }
  });

  it("finds rows added after the build at once, and compact folds them in and keeps the index", async () => {
    await addDocs(store, "alice", 24, 1);
    await store.compact({ retentionHours: 0 });
    expect((await vectorIndex())?.numIndexedRows).toBe(1200);
    const late = await makeDoc("alice", "late.txt", 5, 4242, " zircon");
    await store.applyBatch({ upserts: [late], replaceDocIds: [], deleteDocIds: [] });
    const stale = await vectorIndex();
    expect(stale?.numUnindexedRows).toBe(5);
    const target = late.chunks[2] as ChunkRow;
    let hits = await searchChunks(store, embedder, { query: target.text, userId: "alice", mode: "vector" });
    expect(hits[0]?.chunk_id).toBe(target.chunk_id);

    await store.compact({ retentionHours: 0 });
    const after = await vectorIndex();
    expect(after?.type).toBe("IvfPq");
    expect(after?.numUnindexedRows).toBe(0);
    expect(after?.numIndexedRows).toBe(1205);
    hits = await searchChunks(store, embedder, { query: target.text, userId: "alice", mode: "vector" });
    expect(hits[0]?.chunk_id).toBe(target.chunk_id);
  });

  it("takes SEARCH_NPROBES above LanceDB's default maximum of probes (20)", async () => {
    await addDocs(store, "alice", 24, 1);
    await store.compact({ retentionHours: 0 });
    await store.close();
    store = new LanceDbStore({ ...options, nprobes: 64, refineFactor: 0 });
    await store.open(embedder);
    const target = (await makeDoc("alice", "alice-3.txt", 50, 3)).chunks[8] as ChunkRow;
    const hits = await searchChunks(store, embedder, { query: target.text, userId: "alice", mode: "vector" });
    expect(hits[0]?.chunk_id).toBe(target.chunk_id);
    expect(hits).toHaveLength(10);
  });

  it("builds the kind VECTOR_INDEX_TYPE names, rebuilds it when that changes, and keeps users apart", async () => {
    await addDocs(store, "alice", 12, 1);
    await addDocs(store, "bob", 12, 100);
    await store.compact({ retentionHours: 0 });
    expect((await vectorIndex())?.type).toBe("IvfPq");
    const target = (await makeDoc("bob", "bob-104.txt", 50, 104)).chunks[9] as ChunkRow;
    for (const [type, shown] of [
      ["ivf_hnsw_sq", "IvfHnswSq"],
      ["ivf_flat", "IvfFlat"],
    ] as const) {
      await store.close();
      store = new LanceDbStore({ ...options, vectorIndexType: type, ef: 64 });
      await store.open(embedder);
      await store.compact({ retentionHours: 0 });
      const idx = await vectorIndex();
      expect(idx?.type).toBe(shown);
      expect(idx?.numIndexedRows).toBe(1200);
      // A second compact keeps it (no retraining when the kind matches).
      await store.compact({ retentionHours: 0 });
      expect((await vectorIndex())?.type).toBe(shown);
      const hits = await searchChunks(store, embedder, { query: target.text, userId: "bob", mode: "vector" });
      expect(hits[0]?.chunk_id, type).toBe(target.chunk_id);
      const alice = await searchChunks(store, embedder, {
        query: target.text,
        userId: "alice",
        mode: "vector",
      });
      expect(alice.length).toBe(10);
      for (const h of alice) expect(h.item_key.startsWith("alice"), `${type}: ${h.item_key}`).toBe(true);
    }
  });

  it("a threshold of 0 never builds one", async () => {
    await store.close();
    options = { ...options, uri: `${options.uri}-off`, vectorIndexThreshold: 0 };
    store = new LanceDbStore(options);
    await store.open(embedder);
    await addDocs(store, "alice", 24, 1);
    await store.maintain();
    await store.compact({ retentionHours: 0 });
    expect(await vectorIndex()).toBeUndefined();
    expect(await needs()).toBe(false);
  });
});

describe("full-text index inside long runs (indexRefreshRows)", () => {
  const tmp = makeTempDir("lancedb-sync-ftsrefresh-");
  afterEach(() => tmp.cleanup());

  const unindexedText = async (uri: string) => {
    const conn = await lancedb.connect(uri);
    try {
      const table = await conn.openTable("chunks");
      const fts = (await table.listIndices()).find((i) => i.indexType === "FTS");
      return fts ? (await table.indexStats(fts.name))?.numUnindexedRows : undefined;
    } finally {
      conn.close();
    }
  };

  for (const every of [0, 500]) {
    it(`every ${every} rows: ${every ? "a write batch past it refreshes the index" : "only maintain does"}`, async () => {
      const uri = `${tmp.path}/db-${every}`;
      const store = new LanceDbStore({
        uri,
        documentsTable: "docs",
        chunksTable: "chunks",
        fullTextIndex: true,
        indexRefreshRows: every,
      });
      await store.open(embedder);
      try {
        await addDocs(store, "alice", 4, 1);
        await store.maintain();
        expect(await unindexedText(uri)).toBe(0);
        await addDocs(store, "alice", 12, 50); // 600 rows in one batch
        expect(await unindexedText(uri)).toBe(every ? 0 : 600);
        const late = (await makeDoc("alice", "alice-55.txt", 50, 55)).chunks[9] as ChunkRow;
        const hits = await searchChunks(store, embedder, { query: late.text, userId: "alice", mode: "fts" });
        expect(hits.map((h) => h.chunk_id)).toContain(late.chunk_id);
      } finally {
        await store.close();
      }
    });
  }
});
