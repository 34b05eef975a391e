/**
 * Consistency check of a lancedb-sync store, run as its own process by the benchmark after each step:
 *
 * - `processed_documents`: one row per doc_id and per item_key; item keys are exactly the expected files;
 *   content_hash is the SHA-256 of each file on disk;
 * - `document_chunks`: one row per chunk_id; every chunk's doc_id exists; each document has exactly
 *   `chunk_count` chunks with ordinals 0..n-1, chunk_id `<doc_id>:<ordinal>`; rows == sum(chunk_count);
 * - the set of chunk text hashes, compared with a snapshot of the previous step: the number of new distinct
 *   text hashes is exactly what an incremental run had to embed;
 * - for the touched documents (and a sample of others), text_hash == SHA-256(text), and — with the offline
 *   hashing embedder — the stored vector equals a fresh embedding of the text (reused vectors are right).
 *
 * Usage: `node dist-bench/bench/check-store.js --uri <lancedb dir> --expect-keys <file> [--touched <json>]
 * [--prev-hashes <file>] [--save-hashes <file>] [--sample-docs <n>] [--dist <dir of the built CLI>]`.
 * Prints one JSON object ({@link StoreCheck}); exit 0 even when problems are found (they are listed).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

/** Result of one store check. */
export interface StoreCheck {
  documents: {
    rows: number;
    read: number;
    distinctDocIds: number;
    distinctItemKeys: number;
    sumChunkCount: number;
  };
  chunks: { rows: number; read: number; distinctChunkIds: number; distinctTextHashes: number };
  /** Chunks whose doc_id has no document row. */
  orphanChunks: number;
  /** Documents whose chunk rows differ from chunk_count or whose ordinals are not 0..n-1. */
  badChunkSets: number;
  /** Expected files without a document row / document rows of no expected file. */
  missingKeys: number;
  unexpectedKeys: number;
  /** Documents whose content_hash differs from the file on disk. */
  contentHashMismatches: number;
  /** SHA-256 over the sorted `chunk_id text_hash` pairs (equal digests: identical chunk sets). */
  chunkDigest: string;
  /** Distinct text hashes not in the previous snapshot (null without `--prev-hashes`). */
  newTextHashes: number | null;
  /** Chunk counts of the touched documents (null without `--touched`). */
  touched: { modifiedDocs: number; modifiedChunks: number; addedDocs: number; addedChunks: number } | null;
  vectors: { embedder: string; checkedChunks: number; vectorMismatches: number; textHashMismatches: number };
  /** Human-readable descriptions of every failed check; empty when the store is consistent. */
  problems: string[];
}

const IN_SLICE = 500;

function sqlList(col: string, values: readonly string[]): string {
  return `${col} IN (${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(", ")})`;
}

function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Minimal shape of an Arrow column as returned by LanceDB. */
interface Column {
  length: number;
  get(i: number): unknown;
}

interface ArrowLike {
  numRows: number;
  getChild(name: string): Column | null;
}

function col(t: ArrowLike, name: string): Column {
  const c = t.getChild(name);
  if (!c) throw new Error(`column ${name} missing`);
  return c;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      uri: { type: "string" },
      "docs-table": { type: "string", default: "processed_documents" },
      "chunks-table": { type: "string", default: "document_chunks" },
      "expect-keys": { type: "string" },
      touched: { type: "string" },
      "prev-hashes": { type: "string" },
      "save-hashes": { type: "string" },
      "sample-docs": { type: "string", default: "0" },
      dist: { type: "string" },
    },
  });
  if (!values.uri || !values["expect-keys"]) throw new Error("--uri and --expect-keys are required");
  const problems: string[] = [];
  const lancedb = await import("@lancedb/lancedb");
  const conn = await lancedb.connect(values.uri);
  const docsTable = await conn.openTable(values["docs-table"]);
  const chunksTable = await conn.openTable(values["chunks-table"]);

  // Documents.
  const docRows = await docsTable.countRows();
  const docs = (await docsTable
    .query()
    .select(["doc_id", "item_key", "content_hash", "chunk_count"])
    .toArrow()) as unknown as ArrowLike;
  const dId = col(docs, "doc_id");
  const dKey = col(docs, "item_key");
  const dHash = col(docs, "content_hash");
  const dCount = col(docs, "chunk_count");
  const chunkCountOf = new Map<string, number>();
  const docIdOfKey = new Map<string, string>();
  const hashOfKey = new Map<string, string>();
  let sumChunkCount = 0;
  for (let i = 0; i < docs.numRows; i++) {
    const id = dId.get(i) as string;
    const key = dKey.get(i) as string;
    const n = Number(dCount.get(i));
    chunkCountOf.set(id, n);
    docIdOfKey.set(key, id);
    hashOfKey.set(key, dHash.get(i) as string);
    sumChunkCount += n;
  }
  if (docs.numRows !== docRows)
    problems.push(`documents: query read ${docs.numRows} rows, countRows ${docRows}`);
  if (chunkCountOf.size !== docs.numRows)
    problems.push(`documents: ${docs.numRows - chunkCountOf.size} duplicate doc_id rows`);
  if (docIdOfKey.size !== docs.numRows)
    problems.push(`documents: ${docs.numRows - docIdOfKey.size} duplicate item_key rows`);

  // Expected files and their content hashes.
  const expected = readFileSync(values["expect-keys"], "utf8").split("\n").filter(Boolean);
  const expectedSet = new Set(expected);
  let missingKeys = 0;
  let contentHashMismatches = 0;
  const examples: string[] = [];
  for (const key of expected) {
    const h = hashOfKey.get(key);
    if (h === undefined) {
      missingKeys++;
      if (examples.length < 3) examples.push(`missing ${key}`);
    } else if (h !== sha256(readFileSync(key))) {
      contentHashMismatches++;
      if (examples.length < 3) examples.push(`stale content_hash ${key}`);
    }
  }
  let unexpectedKeys = 0;
  for (const key of docIdOfKey.keys()) {
    if (!expectedSet.has(key)) {
      unexpectedKeys++;
      if (examples.length < 6) examples.push(`unexpected ${key}`);
    }
  }
  if (missingKeys > 0) problems.push(`documents: ${missingKeys} expected files have no row`);
  if (unexpectedKeys > 0) problems.push(`documents: ${unexpectedKeys} rows for files that do not exist`);
  if (contentHashMismatches > 0)
    problems.push(`documents: ${contentHashMismatches} rows whose content_hash differs from the file`);
  if (examples.length > 0) problems.push(`e.g. ${examples.join("; ")}`);

  // Chunks.
  const chunkRows = await chunksTable.countRows();
  const chunks = (await chunksTable
    .query()
    .select(["chunk_id", "doc_id", "ordinal", "text_hash"])
    .toArrow()) as unknown as ArrowLike;
  const cId = col(chunks, "chunk_id");
  const cDoc = col(chunks, "doc_id");
  const cOrd = col(chunks, "ordinal");
  const cHash = col(chunks, "text_hash");
  const chunkIds = new Set<string>();
  const textHashes = new Set<string>();
  const ordinalsOf = new Map<string, number[]>();
  const pairs: string[] = [];
  let orphanChunks = 0;
  let badChunkIds = 0;
  for (let i = 0; i < chunks.numRows; i++) {
    const id = cId.get(i) as string;
    const doc = cDoc.get(i) as string;
    const ord = Number(cOrd.get(i));
    const th = cHash.get(i) as string;
    chunkIds.add(id);
    textHashes.add(th);
    pairs.push(`${id} ${th}`);
    if (id !== `${doc}:${ord}`) badChunkIds++;
    if (!chunkCountOf.has(doc)) orphanChunks++;
    const list = ordinalsOf.get(doc);
    if (list) list.push(ord);
    else ordinalsOf.set(doc, [ord]);
  }
  pairs.sort();
  const chunkDigest = sha256(pairs.join("\n"));
  if (chunks.numRows !== chunkRows)
    problems.push(`chunks: query read ${chunks.numRows} rows, countRows ${chunkRows}`);
  if (chunkIds.size !== chunks.numRows)
    problems.push(`chunks: ${chunks.numRows - chunkIds.size} duplicate chunk_id rows`);
  if (badChunkIds > 0) problems.push(`chunks: ${badChunkIds} chunk_ids are not <doc_id>:<ordinal>`);
  if (orphanChunks > 0) problems.push(`chunks: ${orphanChunks} chunks whose doc_id has no document row`);
  if (chunkRows !== sumChunkCount)
    problems.push(`chunks: ${chunkRows} rows but the documents' chunk_count sums to ${sumChunkCount}`);
  let badChunkSets = 0;
  for (const [doc, n] of chunkCountOf) {
    const ords = (ordinalsOf.get(doc) ?? []).sort((a, b) => a - b);
    if (ords.length !== n || ords.some((o, i) => o !== i)) badChunkSets++;
  }
  if (badChunkSets > 0)
    problems.push(`chunks: ${badChunkSets} documents whose chunks are not exactly ordinals 0..chunk_count-1`);

  // Text-hash snapshot: what an incremental run had to embed.
  let newTextHashes: number | null = null;
  if (values["prev-hashes"] && existsSync(values["prev-hashes"])) {
    const prev = new Set(readFileSync(values["prev-hashes"], "utf8").split("\n").filter(Boolean));
    newTextHashes = 0;
    for (const h of textHashes) if (!prev.has(h)) newTextHashes++;
  } else if (values["prev-hashes"]) newTextHashes = textHashes.size;
  if (values["save-hashes"]) writeFileSync(values["save-hashes"], [...textHashes].sort().join("\n"));

  // Touched documents.
  let touched: StoreCheck["touched"] = null;
  const verifyDocs: string[] = [];
  if (values.touched) {
    const t = JSON.parse(readFileSync(values.touched, "utf8")) as { modified: string[]; added: string[] };
    const sum = (keys: string[]) => {
      let docsFound = 0;
      let n = 0;
      for (const k of keys) {
        const id = docIdOfKey.get(k);
        if (id === undefined) continue;
        docsFound++;
        n += chunkCountOf.get(id) ?? 0;
        verifyDocs.push(id);
      }
      return { docsFound, n };
    };
    const m = sum(t.modified);
    const a = sum(t.added);
    touched = { modifiedDocs: m.docsFound, modifiedChunks: m.n, addedDocs: a.docsFound, addedChunks: a.n };
  }
  const sample = Number(values["sample-docs"]);
  if (sample > 0) {
    const ids = [...chunkCountOf.keys()].sort();
    const step = Math.max(1, Math.floor(ids.length / sample));
    for (let i = 0, k = 0; i < ids.length && k < sample; i += step, k++) verifyDocs.push(ids[i] as string);
  }

  // Vectors and text hashes of the verified documents.
  const schema = await chunksTable.schema();
  const embedderId = schema.metadata.get("lancedb_sync.embedder_id") ?? "?";
  let embedOne: ((text: string) => Float32Array) | undefined;
  const hashing = /^hashing-ngram-v1:(\d+)$/.exec(embedderId);
  if (hashing && values.dist) {
    const mod = (await import(
      pathToFileURL(join(resolve(values.dist), "pipeline/embed/hashing-embedder.js")).href
    )) as { HashingEmbedder: new (o: { dimensions: number }) => { embedOne(t: string): Float32Array } };
    const e = new mod.HashingEmbedder({ dimensions: Number(hashing[1]) });
    embedOne = (t) => e.embedOne(t);
  }
  let checkedChunks = 0;
  let vectorMismatches = 0;
  let textHashMismatches = 0;
  const verify = [...new Set(verifyDocs)];
  for (let i = 0; i < verify.length; i += IN_SLICE) {
    const slice = verify.slice(i, i + IN_SLICE);
    const t = (await chunksTable
      .query()
      .where(sqlList("doc_id", slice))
      .select(["text", "text_hash", "vector"])
      .toArrow()) as unknown as ArrowLike;
    const text = col(t, "text");
    const th = col(t, "text_hash");
    const vec = col(t, "vector");
    for (let r = 0; r < t.numRows; r++) {
      checkedChunks++;
      const s = text.get(r) as string;
      if (sha256(s) !== th.get(r)) textHashMismatches++;
      if (embedOne) {
        const want = embedOne(s);
        const got = (vec.get(r) as { toArray(): Float32Array }).toArray();
        if (got.length !== want.length || want.some((x, k) => x !== got[k])) vectorMismatches++;
      }
    }
  }
  if (textHashMismatches > 0) problems.push(`chunks: ${textHashMismatches} text_hash != sha256(text)`);
  if (vectorMismatches > 0)
    problems.push(`chunks: ${vectorMismatches} stored vectors differ from a fresh embedding of their text`);
  conn.close();

  const out: StoreCheck = {
    documents: {
      rows: docRows,
      read: docs.numRows,
      distinctDocIds: chunkCountOf.size,
      distinctItemKeys: docIdOfKey.size,
      sumChunkCount,
    },
    chunks: {
      rows: chunkRows,
      read: chunks.numRows,
      distinctChunkIds: chunkIds.size,
      distinctTextHashes: textHashes.size,
    },
    orphanChunks,
    badChunkSets,
    missingKeys,
    unexpectedKeys,
    contentHashMismatches,
    chunkDigest,
    newTextHashes,
    touched,
    vectors: {
      embedder: embedOne ? embedderId : `${embedderId} (vectors not recomputed)`,
      checkedChunks,
      vectorMismatches,
      textHashMismatches,
    },
    problems,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
