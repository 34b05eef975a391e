/**
 * `node dist-bench/bench/search-scale.js [--chunks 1000000 --users 10 --dims 384 --queries 200 --probes 20
 * --refines 10 --index-type ivf_pq|ivf_hnsw_sq|ivf_flat --ef 0 --index-cache-mb N --dir <dir> --keep --out <file.json>]` (run by
 * `npm run bench -- --scale`): search at scale. `--probes`, `--refines` and `--ef` take lists (every combination
 * is measured); an existing build whose vector index is of another type than `--index-type` gets it rebuilt.
 *
 * Builds a chunks table of `--chunks` rows directly through `LanceDbStore.applyBatch` (the sync pipeline would
 * take hours at this size on 2 cores): the first 10 chunks (TEXT_CHUNK_SIZE 1000) of the bench corpus's
 * documents, spread over `--users` users, vectors from the hashing embedder; then `maintain()` (BTree and bitmap
 * indices) and `compact` (full-text and vector index, fragments). With `--dir` of an existing build it only queries.
 *
 * Queries: the first 16 words of `--queries` stored chunks, each searched as that chunk's user (a user filter,
 * prefiltered) in vector, full-text and hybrid mode, limit 10, after 20 warm-up queries. Reports p50/p99 latency
 * per mode, exact (brute-force) vector search latency, and recall@10 of the indexed vector search against the
 * exact one for every `--probes` x `--refines` pair. Wall times are of a shared, noisy 2-core machine.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as lancedb from "@lancedb/lancedb";
import type { ChunkRow, DocumentRow } from "../src/core/document-store.js";
import { hashContent, makeChunkId, makeDocId } from "../src/core/ids.js";
import { chunkText } from "../src/pipeline/chunk-text.js";
import { HashingEmbedder } from "../src/pipeline/embed/hashing-embedder.js";
import { userFilter } from "../src/storage/filter.js";
import { LanceDbStore, type LanceDbStoreOptions } from "../src/storage/lancedb-store.js";
import {
  buildVectorIndex,
  isIndexType,
  VECTOR_INDEX_TYPES,
  type VectorIndexType,
  vectorIndexOf,
} from "../src/storage/vector-index.js";
import { Corpus } from "./corpus.js";

const CHUNKS_PER_DOC = 10;
const WARMUP = 20;

const { values } = parseArgs({
  options: {
    chunks: { type: "string", default: "1000000" },
    users: { type: "string", default: "10" },
    dims: { type: "string", default: "384" },
    queries: { type: "string", default: "200" },
    probes: { type: "string", default: "20" },
    refines: { type: "string", default: "10" },
    "index-type": { type: "string", default: "ivf_pq" },
    ef: { type: "string", default: "0" },
    "index-cache-mb": { type: "string" },
    seed: { type: "string", default: "20240601" },
    dir: { type: "string" },
    keep: { type: "boolean", default: false },
    out: { type: "string" },
  },
});
const target = Number(values.chunks);
const users = Number(values.users);
const dims = Number(values.dims);
const nQueries = Number(values.queries);
const probes = String(values.probes).split(",").map(Number);
const refines = String(values.refines).split(",").map(Number);
const indexType = values["index-type"] as VectorIndexType;
if (!VECTOR_INDEX_TYPES.includes(indexType))
  throw new Error(`--index-type: one of ${VECTOR_INDEX_TYPES.join(", ")}`);
const efs = String(values.ef).split(",").map(Number);
const log = (msg: string) => process.stderr.write(`[search-scale] ${msg}\n`);
const rssMb = () => Math.round(process.memoryUsage().rss / 1048576);
let peakRss = 0;
const peak = setInterval(() => {
  peakRss = Math.max(peakRss, rssMb());
}, 200);

const work = values.dir ? resolve(values.dir) : mkdtempSync(join(tmpdir(), "lancedb-sync-search-scale-"));
mkdirSync(work, { recursive: true });
const uri = join(work, "lancedb");
const embedder = new HashingEmbedder({ dimensions: dims });
const corpus = new Corpus({ root: join(work, "unused"), seed: Number(values.seed) });
const baseOptions: LanceDbStoreOptions = {
  uri,
  documentsTable: "processed_documents",
  chunksTable: "document_chunks",
  fullTextIndex: true,
  maxChunkRowsPerCommit: 50_000,
  vectorIndexType: indexType,
  ...(values["index-cache-mb"] ? { indexCacheMb: Number(values["index-cache-mb"]) } : {}),
};
const userOf = (doc: number) => `user${doc % users}`;
const chunksOf = (doc: number) =>
  chunkText(corpus.document(doc), { size: 1000, overlap: 150 }).slice(0, CHUNKS_PER_DOC);

const timings: Record<string, number> = {};
const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const r = await fn();
  timings[name] = Math.round(performance.now() - t0);
  log(`${name}: ${(timings[name] / 1000).toFixed(1)} s, RSS ${rssMb()} MB`);
  return r;
};

/** Writes documents until the table holds `target` chunks; returns how many documents that took. */
async function build(store: LanceDbStore): Promise<number> {
  let doc = 0;
  let rows = 0;
  const now = new Date().toISOString();
  while (rows < target) {
    const upserts: Array<{ doc: DocumentRow; chunks: ChunkRow[] }> = [];
    let batchRows = 0;
    while (batchRows < 50_000 && rows + batchRows < target) {
      const userId = userOf(doc);
      const key = `doc-${doc}.md`;
      const docId = makeDocId(userId, "corpus", key);
      const parts = chunksOf(doc).slice(0, target - rows - batchRows);
      const vectors = await embedder.embed(parts.map((p) => p.text));
      const chunks = parts.map(
        (p, i): ChunkRow => ({
          chunk_id: makeChunkId(docId, i),
          doc_id: docId,
          user_id: userId,
          ordinal: i,
          text: p.text,
          text_hash: hashContent(p.text),
          start: p.start,
          end: p.end,
          vector: vectors[i] as Float32Array,
          title: key,
          source_id: "corpus",
          item_key: key,
          url: "",
          metadata: "{}",
        }),
      );
      upserts.push({
        doc: {
          doc_id: docId,
          user_id: userId,
          source_type: "local_filesystem",
          source_id: "corpus",
          item_key: key,
          title: key,
          mime_type: "text/markdown",
          size_bytes: 0,
          content_hash: hashContent(key),
          chunk_count: chunks.length,
          modified_at: now,
          ingested_at: now,
          metadata: "{}",
          url: "",
        },
        chunks,
      });
      batchRows += chunks.length;
      doc++;
    }
    await store.applyBatch({ upserts, replaceDocIds: [], deleteDocIds: [] });
    rows += batchRows;
    if ((rows / 50_000) % 4 === 0 || rows >= target) log(`  ${rows} chunks written, RSS ${rssMb()} MB`);
  }
  return doc;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
}
const round = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const fresh = !existsSync(join(uri, "document_chunks.lance"));
  let docs = 0;
  if (fresh) {
    const store = new LanceDbStore(baseOptions);
    await store.open(embedder);
    docs = await timed("write", () => build(store));
    await timed("maintain (BTree and bitmap indices)", () => store.maintain());
    await timed("compact (full-text index, optimize)", () => store.compact({ retentionHours: 0 }));
    await store.close();
  }
  const conn = await lancedb.connect(uri);
  const table = await conn.openTable("document_chunks");
  const current = await vectorIndexOf(table);
  if (current && !isIndexType(current, indexType)) {
    log(`vector index ${current.indexType}: rebuilding it as ${indexType}`);
    await timed(`build ${indexType}`, () => buildVectorIndex(table, true, indexType));
  }
  const rows = await table.countRows();
  const indices = await table.listIndices();
  const indexStats = await Promise.all(
    indices.map(async (i) => ({ name: i.name, type: i.indexType, ...(await table.indexStats(i.name)) })),
  );
  log(`table: ${rows} chunks; indices ${indices.map((i) => `${i.name} (${i.indexType})`).join(", ")}`);
  // The queries are drawn from the built documents: an existing build's are counted (shorter documents have
  // fewer than CHUNKS_PER_DOC chunks, so rows / CHUNKS_PER_DOC would draw other queries than the build's run).
  if (!docs) docs = await (await conn.openTable("processed_documents")).countRows();

  // Queries: the opening words of stored chunks, searched as their user.
  const queries: Array<{ userId: string; text: string; vector: Float32Array }> = [];
  for (let q = 0; q < nQueries + WARMUP; q++) {
    const doc = Math.floor(((q * 7919 + 13) % 1_000_003) * (docs / 1_000_003));
    const parts = chunksOf(doc);
    const text = (parts[q % parts.length]?.text ?? "").split(/\s+/).slice(0, 16).join(" ");
    const [vector] = await embedder.embed([text]);
    queries.push({ userId: userOf(doc), text, vector: vector as Float32Array });
  }
  const measure = async (fn: (q: (typeof queries)[number]) => Promise<unknown>) => {
    const ms: number[] = [];
    for (const [i, q] of queries.entries()) {
      const t0 = performance.now();
      await fn(q);
      if (i >= WARMUP) ms.push(performance.now() - t0);
    }
    return { p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)), max: round(Math.max(...ms)) };
  };

  // The exact answers of an existing build are kept beside it (a brute-force pass costs seconds per query).
  const exactFile = join(work, `exact-${nQueries}.json`);
  const cached = !fresh && existsSync(exactFile);
  const exactIds: string[][] = cached ? (JSON.parse(readFileSync(exactFile, "utf8")) as string[][]) : [];
  const exact = await measure(async (q) => {
    if (cached) return;
    const hits = await table
      .vectorSearch(q.vector)
      .distanceType("cosine")
      .bypassVectorIndex()
      .where(userFilter(q.userId))
      .select(["chunk_id"])
      .limit(10)
      .toArray();
    exactIds.push(hits.map((h) => h.chunk_id as string));
  });
  if (!cached) writeFileSync(exactFile, JSON.stringify(exactIds));
  else Object.assign(exact, { reused: exactFile });
  log(`exact vector search: p50 ${exact.p50} ms, p99 ${exact.p99} ms`);

  const settings: Array<Record<string, unknown>> = [];
  for (const nprobes of probes) {
    for (const [refineFactor, ef] of refines.flatMap((r) => efs.map((e) => [r, e] as const))) {
      const store = new LanceDbStore({ ...baseOptions, nprobes, refineFactor, ef });
      await store.openExisting();
      const got: string[][] = [];
      const vector = await measure(async (q) => {
        const hits = await store.search({
          userId: q.userId,
          mode: "vector",
          text: q.text,
          vector: q.vector,
          limit: 10,
        });
        got.push(hits.map((h) => h.chunk_id));
      });
      let found = 0;
      for (let i = WARMUP; i < got.length; i++) {
        const truth = new Set(exactIds[i]);
        found += (got[i] ?? []).filter((id) => truth.has(id)).length;
      }
      const recall = found / (nQueries * 10);
      const entry: Record<string, unknown> = {
        indexType,
        nprobes,
        refineFactor,
        ef,
        vector,
        recallAt10: round(recall * 1000) / 1000,
      };
      if (nprobes === probes[0] && refineFactor === refines[0] && ef === efs[0]) {
        entry.fts = await measure((q) =>
          store.search({ userId: q.userId, mode: "fts", text: q.text, limit: 10 }),
        );
        entry.hybrid = await measure((q) =>
          store.search({ userId: q.userId, mode: "hybrid", text: q.text, vector: q.vector, limit: 10 }),
        );
      }
      settings.push(entry);
      log(`nprobes ${nprobes}, refine ${refineFactor}: ${JSON.stringify(entry)}`);
      await store.close();
    }
  }
  conn.close();
  clearInterval(peak);
  const result = {
    chunks: rows,
    documents: docs,
    users,
    dims,
    queries: nQueries,
    built: fresh,
    buildMs: timings,
    peakRssMb: Math.max(peakRss, rssMb()),
    indices: indexStats,
    exactVector: exact,
    settings,
  };
  const json = JSON.stringify(result);
  if (values.out) writeFileSync(values.out, `${json}\n`);
  process.stdout.write(`${json}\n`);
}

try {
  await main();
} finally {
  clearInterval(peak);
  if (!values.keep && !values.dir) rmSync(work, { recursive: true, force: true });
}
