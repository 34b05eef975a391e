import { join } from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  ApplyBatch,
  ChunkFilters,
  ChunkRow,
  DocumentRow,
  DocumentStore,
} from "../../src/core/document-store.js";
import { hashContent, makeChunkId, makeDocId } from "../../src/core/ids.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import { LanceDbStore, type LanceDbStoreOptions } from "../../src/storage/lancedb-store.js";
import { MemoryStore } from "../fakes/memory-store.js";
import { rejection } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/**
 * The {@link DocumentStore} contract, run against LanceDB (production) and the MemoryStore fake the core tests
 * use. Each implementation comes with a reader of its raw rows, so duplicates and leftovers are visible.
 */

const DIMS = 8;
const EMBEDDER = { id: "test-embedder:8", dimensions: DIMS };

type PlainChunk = Omit<ChunkRow, "vector"> & { vector: number[] };

interface Subject {
  store: DocumentStore;
  /** Every document row in the store, sorted by doc id. */
  docRows(): Promise<DocumentRow[]>;
  /** Every chunk row in the store (vectors as plain numbers), sorted by chunk id. */
  chunkRows(): Promise<PlainChunk[]>;
}

type MakeSubject = (dir: string) => Promise<Subject>;

const byId =
  <T>(key: (t: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
const sortDocs = (rows: DocumentRow[]) => rows.sort(byId((d) => d.doc_id));
const sortChunks = (rows: PlainChunk[]) => rows.sort(byId((c) => c.chunk_id));

function lanceOptions(dir: string, extra: Partial<LanceDbStoreOptions> = {}): LanceDbStoreOptions {
  return {
    uri: join(dir, "lancedb"),
    documentsTable: "processed_documents",
    chunksTable: "document_chunks",
    ...extra,
  };
}

/** Runs `fn` on a table of the LanceDB store at `uri`, opened directly (not through the store under test). */
async function withRawTable<T>(uri: string, name: string, fn: (t: lancedb.Table) => Promise<T>): Promise<T> {
  const db = await lancedb.connect(uri);
  try {
    const table = await db.openTable(name);
    try {
      return await fn(table);
    } finally {
      table.close();
    }
  } finally {
    db.close();
  }
}

/** All rows of a LanceDB store's tables, read directly (not through the interface under test). */
function lanceSubject(store: LanceDbStore, uri: string): Subject {
  return {
    store,
    docRows: async () =>
      sortDocs(
        (await withRawTable(uri, "processed_documents", (t) => t.query().toArray())).map(
          (r) => ({ ...r }) as DocumentRow,
        ),
      ),
    chunkRows: async () =>
      sortChunks(
        (await withRawTable(uri, "document_chunks", (t) => t.query().toArray())).map(
          (r) => ({ ...r, vector: Array.from(r.vector.toArray() as Float32Array) }) as PlainChunk,
        ),
      ),
  };
}

const IMPLEMENTATIONS: Array<[string, MakeSubject]> = [
  [
    "lancedb",
    async (dir) => {
      const store = new LanceDbStore(lanceOptions(dir));
      await store.open(EMBEDDER);
      return lanceSubject(store, lanceOptions(dir).uri);
    },
  ],
  [
    "memory",
    async () => {
      const store = new MemoryStore();
      await store.open(EMBEDDER);
      return {
        store,
        docRows: async () => sortDocs(store.docs.map((d) => ({ ...d }))),
        chunkRows: async () => sortChunks(store.chunks.map((c) => ({ ...c, vector: Array.from(c.vector) }))),
      };
    },
  ],
];

/** A deterministic vector whose floats are exact in float32 (so round-trips compare with toEqual). */
function vectorFor(seed: number): Float32Array {
  return Float32Array.from({ length: DIMS }, (_, i) => ((seed * 7 + i * 3) % 64) / 16 - 2);
}

interface DocSpec {
  userId?: string;
  sourceId?: string;
  itemKey: string;
  /** Texts of the chunks; each chunk's vector is derived from its text. */
  texts: string[];
  /** Overrides the derived doc id (to put odd characters into filters). */
  docId?: string;
  /** Overrides the text hash of every chunk (to put odd characters into filters). */
  textHash?: (text: string) => string;
  version?: number;
  /** The document's metadata (default `{ v: version }`). */
  metadata?: Record<string, unknown>;
  /** The document's URL (default none: `''`). */
  url?: string;
}

const seedOf = (text: string) => Number.parseInt(hashContent(text).slice(0, 6), 16);

function makeDoc(spec: DocSpec): { doc: DocumentRow; chunks: ChunkRow[] } {
  const userId = spec.userId ?? "alice";
  const sourceId = spec.sourceId ?? "docs";
  const docId = spec.docId ?? makeDocId(userId, sourceId, spec.itemKey);
  let offset = 0;
  const metadata = JSON.stringify(spec.metadata ?? { v: spec.version ?? 1 });
  const url = spec.url ?? "";
  const chunks = spec.texts.map((text, ordinal): ChunkRow => {
    const start = offset;
    offset += text.length;
    return {
      chunk_id: makeChunkId(docId, ordinal),
      doc_id: docId,
      user_id: userId,
      ordinal,
      text,
      text_hash: spec.textHash ? spec.textHash(text) : hashContent(text),
      start,
      end: offset,
      vector: vectorFor(seedOf(text)),
      title: `Title of ${spec.itemKey}`,
      source_id: sourceId,
      item_key: spec.itemKey,
      url,
      metadata,
    };
  });
  const body = spec.texts.join("");
  return {
    doc: {
      doc_id: docId,
      user_id: userId,
      source_type: "fs",
      source_id: sourceId,
      item_key: spec.itemKey,
      title: `Title of ${spec.itemKey}`,
      mime_type: "text/plain",
      size_bytes: body.length,
      content_hash: hashContent(`${body}#${spec.version ?? 1}`),
      chunk_count: chunks.length,
      modified_at: "2024-05-01T12:00:00.000Z",
      ingested_at: `2024-05-02T12:00:0${spec.version ?? 1}.000Z`,
      metadata,
      url,
    },
    chunks,
  };
}

const texts = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag} chunk ${i}.`);

function batch(
  upserts: Array<{ doc: DocumentRow; chunks: ChunkRow[] }>,
  replaceDocIds: string[] = [],
  deleteDocIds: string[] = [],
): ApplyBatch {
  return { upserts, replaceDocIds, deleteDocIds };
}

const plain = (c: ChunkRow): PlainChunk => ({ ...c, vector: Array.from(c.vector) });

describe.each(IMPLEMENTATIONS)("DocumentStore conformance: %s", (_name, make) => {
  let tmp: ReturnType<typeof makeTempDir>;
  let subject: Subject;
  let store: DocumentStore;

  beforeEach(async () => {
    tmp = makeTempDir("lancedb-sync-conformance-");
    subject = await make(tmp.path);
    store = subject.store;
  });

  afterEach(async () => {
    await store.close();
    tmp.cleanup();
  });

  it("identity: a stable id recorded on first ask (read-only asks before report none); versions only grow", async () => {
    const before = await store.identity(true);
    const first = await store.identity();
    expect(first.storeId).not.toBe("");
    expect(before.storeId === "" || before.storeId === first.storeId).toBe(true);
    expect(await store.identity(true)).toMatchObject({ storeId: first.storeId });
    await store.applyBatch(batch([makeDoc({ itemKey: "a.txt", texts: texts("a", 2) })]));
    const after = await store.identity();
    expect(after.storeId).toBe(first.storeId);
    expect(after.docsVersion).toBeGreaterThan(first.docsVersion);
    expect(after.chunksVersion).toBeGreaterThan(first.chunksVersion);
  });

  it("openExisting is true for a store whose tables exist", async () => {
    await store.applyBatch(batch([makeDoc({ itemKey: "a.txt", texts: texts("a", 1) })]));
    expect(await store.openExisting()).toBe(true);
    expect(await store.countRows()).toEqual({ documents: 1, chunks: 1 });
  });

  it("a new store is empty; it is not after a write and is again once everything is deleted", async () => {
    expect(await store.isEmpty()).toBe(true);
    expect(await store.listDocuments("alice", "docs")).toEqual([]);
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 2) });
    await store.applyBatch(batch([a]));
    expect(await store.isEmpty()).toBe(false);
    await store.applyBatch(batch([], [], [a.doc.doc_id]));
    expect(await store.isEmpty()).toBe(true);
  });

  it("a document without chunks still makes the store non-empty", async () => {
    await store.applyBatch(batch([makeDoc({ itemKey: "empty.txt", texts: [] })]));
    expect(await store.isEmpty()).toBe(false);
    expect(await subject.chunkRows()).toEqual([]);
  });

  it("listDocuments returns the written rows of that user's source only, field for field", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 2) });
    const b = makeDoc({ itemKey: "dir/b.md", texts: texts("b", 1) });
    const otherSource = makeDoc({ sourceId: "mail", itemKey: "a.txt", texts: texts("m", 1) });
    const otherUser = makeDoc({ userId: "bob", itemKey: "a.txt", texts: texts("x", 1) });
    await store.applyBatch(batch([a, b, otherSource, otherUser]));

    expect(sortDocs(await store.listDocuments("alice", "docs"))).toEqual(sortDocs([a.doc, b.doc]));
    expect(await store.listDocuments("alice", "mail")).toEqual([otherSource.doc]);
    expect(await store.listDocuments("bob", "docs")).toEqual([otherUser.doc]);
    expect(await store.listDocuments("bob", "mail")).toEqual([]);
    expect(await store.listDocuments("carol", "docs")).toEqual([]);
  });

  it("chunks are stored field for field, vectors included", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 3) });
    const b = makeDoc({ userId: "bob", itemKey: "b.txt", texts: texts("b", 2) });
    await store.applyBatch(batch([a, b]));
    expect(await subject.chunkRows()).toEqual(sortChunks([...a.chunks, ...b.chunks].map(plain)));
  });

  it("lookupVectors returns exactly the stored vectors of known hashes and nothing for unknown ones", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 3) });
    const b = makeDoc({ userId: "bob", itemKey: "b.txt", texts: ["shared text", "b only"] });
    const c = makeDoc({ itemKey: "c.txt", texts: ["shared text"] });
    await store.applyBatch(batch([a, b, c]));

    expect((await store.lookupVectors([])).size).toBe(0);
    const unknown = hashContent("never stored");
    const wanted = [...a.chunks, ...b.chunks].map((ch) => ch.text_hash);
    const found = await store.lookupVectors([...wanted, unknown]);
    expect(found.has(unknown)).toBe(false);
    expect(new Set(found.keys())).toEqual(new Set(wanted));
    for (const ch of [...a.chunks, ...b.chunks]) {
      const v = found.get(ch.text_hash);
      expect(v).toBeInstanceOf(Float32Array);
      expect(Array.from(v ?? [])).toEqual(Array.from(ch.vector));
    }
    expect((await store.lookupVectors([unknown])).size).toBe(0);
  });

  it("lookupVectors with nearDocIds finds exactly what it finds without them, the user scope included", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: ["shared text", "a one", "a two"] });
    const c = makeDoc({ itemKey: "c.txt", texts: ["c only"] });
    const b = makeDoc({ userId: "bob", itemKey: "b.txt", texts: ["shared text", "bob only"] });
    await store.applyBatch(batch([a, b, c]));
    const asked = [...a.chunks, ...b.chunks, ...c.chunks]
      .map((ch) => ch.text_hash)
      .concat(hashContent("never stored"));
    const plainly = await store.lookupVectors(asked);
    const near = await store.lookupVectors(asked, undefined, [a.doc.doc_id, b.doc.doc_id, "no-such-doc"]);
    expect(new Set(near.keys())).toEqual(new Set(plainly.keys()));
    for (const [h, v] of plainly) expect(Array.from(near.get(h) ?? [])).toEqual(Array.from(v));
    // Bob's document named as near does not leak his chunks into Alice's cache.
    const alice = await store.lookupVectors(asked, "alice", [b.doc.doc_id, a.doc.doc_id]);
    expect(new Set(alice.keys())).toEqual(new Set([...a.chunks, ...c.chunks].map((ch) => ch.text_hash)));
    // storedTextHashes: the same keys, no vectors read.
    expect(await store.storedTextHashes(asked)).toEqual(new Set(plainly.keys()));
    expect(await store.storedTextHashes(asked, undefined, [a.doc.doc_id])).toEqual(new Set(plainly.keys()));
    expect(await store.storedTextHashes(asked, "alice", [b.doc.doc_id])).toEqual(new Set(alice.keys()));
    expect((await store.storedTextHashes([])).size).toBe(0);
  });

  it("lookupVectors with a user id consults only that user's chunks (a per-user embedding cache)", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: ["shared text", "alice only"] });
    const b = makeDoc({ userId: "bob", itemKey: "b.txt", texts: ["shared text", "bob only"] });
    await store.applyBatch(batch([a, b]));
    const [shared, aliceOnly, bobOnly] = [
      hashContent("shared text"),
      hashContent("alice only"),
      hashContent("bob only"),
    ];
    expect(new Set((await store.lookupVectors([shared, aliceOnly, bobOnly], "alice")).keys())).toEqual(
      new Set([shared, aliceOnly]),
    );
    expect(new Set((await store.lookupVectors([shared, aliceOnly, bobOnly], "bob")).keys())).toEqual(
      new Set([shared, bobOnly]),
    );
    expect((await store.lookupVectors([shared], "carol")).size).toBe(0);
    expect((await store.lookupVectors([shared, aliceOnly, bobOnly])).size).toBe(3);
  });

  it("chunkCounts counts the chunk rows of each document of one user's source, and nothing else", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 3) });
    const b = makeDoc({ itemKey: "b.txt", texts: texts("b", 1) });
    const empty = makeDoc({ itemKey: "empty.txt", texts: [] });
    const bob = makeDoc({ userId: "bob", itemKey: "a.txt", texts: texts("bob", 2) });
    const mail = makeDoc({ sourceId: "mail", itemKey: "m.txt", texts: texts("m", 2) });
    await store.applyBatch(batch([a, b, empty, bob, mail]));
    expect(await store.chunkCounts("alice", "docs")).toEqual(
      new Map([
        [a.doc.doc_id, 3],
        [b.doc.doc_id, 1],
      ]),
    );
    expect(await store.chunkCounts("bob", "docs")).toEqual(new Map([[bob.doc.doc_id, 2]]));
    expect(await store.chunkCounts("carol", "docs")).toEqual(new Map());
  });

  it("replacing a document with fewer chunks leaves exactly the new chunks and the new row", async () => {
    const a1 = makeDoc({ itemKey: "a.txt", texts: texts("a-v1", 4) });
    const b = makeDoc({ itemKey: "b.txt", texts: texts("b", 2) });
    await store.applyBatch(batch([a1, b]));
    const a2 = makeDoc({ itemKey: "a.txt", texts: texts("a-v2", 2), version: 2 });
    await store.applyBatch(batch([a2], [a2.doc.doc_id]));

    expect(await subject.docRows()).toEqual(sortDocs([a2.doc, b.doc]));
    expect(await subject.chunkRows()).toEqual(sortChunks([...a2.chunks, ...b.chunks].map(plain)));
    // The old chunks' vectors are gone from the cache, the new ones are there.
    const old = await store.lookupVectors(a1.chunks.map((c) => c.text_hash));
    expect(old.size).toBe(0);
    expect((await store.lookupVectors(a2.chunks.map((c) => c.text_hash))).size).toBe(2);
  });

  it("replaying the same batch (ids in replaceDocIds) leaves no duplicates", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 3) });
    const b = makeDoc({ itemKey: "b.txt", texts: texts("b", 2) });
    // As after a crash: the ids are listed although (the first time) nothing of them exists yet.
    const replay = batch([a, b], [a.doc.doc_id, b.doc.doc_id]);
    await store.applyBatch(replay);
    await store.applyBatch(replay);
    await store.applyBatch(replay);

    expect(await subject.docRows()).toEqual(sortDocs([a.doc, b.doc]));
    expect(await subject.chunkRows()).toEqual(sortChunks([...a.chunks, ...b.chunks].map(plain)));
    expect(sortDocs(await store.listDocuments("alice", "docs"))).toEqual(sortDocs([a.doc, b.doc]));
  });

  it("replaying a batch with only some ids already present leaves each row once", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 2) });
    const b = makeDoc({ itemKey: "b.txt", texts: texts("b", 2) });
    await store.applyBatch(batch([a]));
    await store.applyBatch(batch([a, b], [a.doc.doc_id, b.doc.doc_id]));
    expect((await subject.docRows()).map((d) => d.doc_id)).toEqual(
      sortDocs([a.doc, b.doc]).map((d) => d.doc_id),
    );
    expect(await subject.chunkRows()).toHaveLength(4);
  });

  it("deleteDocIds removes documents with their chunks and nothing else", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 3) });
    const b = makeDoc({ itemKey: "b.txt", texts: texts("b", 2) });
    const c = makeDoc({ userId: "bob", itemKey: "a.txt", texts: texts("c", 1) });
    await store.applyBatch(batch([a, b, c]));
    await store.applyBatch(batch([], [], [a.doc.doc_id, makeDocId("alice", "docs", "never.txt")]));

    expect(await subject.docRows()).toEqual(sortDocs([b.doc, c.doc]));
    expect(await subject.chunkRows()).toEqual(sortChunks([...b.chunks, ...c.chunks].map(plain)));
    expect((await store.lookupVectors(a.chunks.map((ch) => ch.text_hash))).size).toBe(0);
  });

  it("one batch can add, replace and delete documents together", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 2) });
    const b = makeDoc({ itemKey: "b.txt", texts: texts("b", 2) });
    await store.applyBatch(batch([a, b]));
    const a2 = makeDoc({ itemKey: "a.txt", texts: texts("a2", 3), version: 2 });
    const c = makeDoc({ itemKey: "c.txt", texts: texts("c", 1) });
    await store.applyBatch(batch([a2, c], [a2.doc.doc_id], [b.doc.doc_id]));

    expect(await subject.docRows()).toEqual(sortDocs([a2.doc, c.doc]));
    expect(await subject.chunkRows()).toEqual(sortChunks([...a2.chunks, ...c.chunks].map(plain)));
  });

  it("values with quotes, backslashes and non-ASCII round-trip and are deletable", async () => {
    const itemKey = `it's a "quoted" \\ path/naïve 日本.txt`;
    const a = makeDoc({ itemKey, texts: [`O'Brien said "hi" \\n`, "plain"] });
    const b = makeDoc({ itemKey: "b.txt", texts: texts("b", 1) });
    await store.applyBatch(batch([a, b]));

    const listed = await store.listDocuments("alice", "docs");
    expect(listed.find((d) => d.doc_id === a.doc.doc_id)).toEqual(a.doc);
    expect((await subject.chunkRows()).filter((c) => c.doc_id === a.doc.doc_id)).toEqual(a.chunks.map(plain));

    await store.applyBatch(batch([{ ...a, doc: { ...a.doc, title: "new" } }], [a.doc.doc_id]));
    expect((await store.listDocuments("alice", "docs")).find((d) => d.item_key === itemKey)?.title).toBe(
      "new",
    );
    await store.applyBatch(batch([], [], [a.doc.doc_id]));
    expect(await subject.docRows()).toEqual([b.doc]);
    expect(await subject.chunkRows()).toEqual(b.chunks.map(plain));
  });

  it("quotes in doc ids, source ids and text hashes are escaped in every filter", async () => {
    const hostile = `x' OR '1'='1`;
    const quoteHash = (t: string) => `h'"\\${hashContent(t).slice(0, 8)}`;
    const odd = makeDoc({
      sourceId: `src'"\\1`,
      itemKey: "odd.txt",
      docId: `doc'"\\1`,
      textHash: quoteHash,
      texts: ["odd one", "odd two"],
    });
    const normal = makeDoc({ itemKey: "n.txt", texts: texts("n", 2) });
    await store.applyBatch(batch([odd, normal]));

    expect(await store.listDocuments("alice", `src'"\\1`)).toEqual([odd.doc]);
    expect(await store.listDocuments("alice", hostile)).toEqual([]);
    expect(await store.listDocuments(hostile, "docs")).toEqual([]);
    const found = await store.lookupVectors([quoteHash("odd one"), hostile]);
    expect([...found.keys()]).toEqual([quoteHash("odd one")]);
    expect(Array.from(found.get(quoteHash("odd one")) ?? [])).toEqual(
      Array.from(odd.chunks[0]?.vector ?? []),
    );

    // Replace, then delete, by the quoted doc id; the other document is untouched throughout.
    const odd2 = makeDoc({
      sourceId: `src'"\\1`,
      itemKey: "odd.txt",
      docId: `doc'"\\1`,
      texts: ["only"],
    });
    await store.applyBatch(batch([odd2], [odd2.doc.doc_id]));
    expect((await subject.chunkRows()).filter((c) => c.doc_id === odd.doc.doc_id)).toEqual(
      odd2.chunks.map(plain),
    );
    await store.applyBatch(batch([], [], [hostile]));
    expect(await subject.docRows()).toHaveLength(2);
    await store.applyBatch(batch([], [], [odd.doc.doc_id]));
    expect(await subject.docRows()).toEqual([normal.doc]);
    expect(await subject.chunkRows()).toEqual(sortChunks(normal.chunks.map(plain)));
  });

  it("an upsert of a stored document not listed in replaceDocIds appends duplicate rows (the list is required)", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 2) });
    const b = makeDoc({ itemKey: "b.txt", texts: texts("b", 1) });
    const c = makeDoc({ itemKey: "c.txt", texts: texts("c", 3) });
    await store.applyBatch(batch([a, b, c]));
    // No replaceDocIds at all: the document row is appended, as are the chunks.
    await store.applyBatch(batch([a]));
    expect((await subject.docRows()).filter((d) => d.doc_id === a.doc.doc_id)).toHaveLength(2);
    expect((await subject.chunkRows()).filter((ch) => ch.doc_id === a.doc.doc_id)).toHaveLength(4);
    // Another id listed: only the listed document is replaced; the unlisted one piles up rows.
    await store.applyBatch(batch([b, c], [c.doc.doc_id]));
    expect((await subject.docRows()).filter((d) => d.doc_id === b.doc.doc_id)).toEqual([b.doc, b.doc]);
    expect((await subject.chunkRows()).filter((ch) => ch.doc_id === b.doc.doc_id)).toHaveLength(2);
    expect((await subject.chunkRows()).filter((ch) => ch.doc_id === c.doc.doc_id)).toHaveLength(3);
  });

  it("deleteDocIds removes every row of a document stored twice", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 2) });
    const b = makeDoc({ itemKey: "b.txt", texts: texts("b", 1) });
    await store.applyBatch(batch([a, b]));
    await store.applyBatch(batch([a]));
    await store.applyBatch(batch([], [], [a.doc.doc_id]));
    expect(await subject.docRows()).toEqual([b.doc]);
    expect(await subject.chunkRows()).toEqual(b.chunks.map(plain));
  });

  it("a listed replay over a document stored twice repairs it to one row", async () => {
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 2) });
    await store.applyBatch(batch([a]));
    await store.applyBatch(batch([a])); // two document rows of `a` now
    const a2 = makeDoc({ itemKey: "a.txt", texts: texts("a2", 1), version: 2 });
    await store.applyBatch(batch([a2], [a2.doc.doc_id]));
    expect((await subject.docRows()).filter((d) => d.doc_id === a.doc.doc_id)).toEqual([a2.doc]);
    expect((await subject.chunkRows()).filter((ch) => ch.doc_id === a.doc.doc_id)).toEqual(
      a2.chunks.map(plain),
    );
  });

  it("lookupVectors and deleteDocIds take more ids than one IN list holds (1000)", async () => {
    const many = Array.from({ length: 1005 }, (_, i) => makeDoc({ itemKey: `m/${i}.txt`, texts: [`m${i}`] }));
    await store.applyBatch(batch(many));
    const hashes = many.map((d) => d.chunks[0]?.text_hash ?? "");
    const found = await store.lookupVectors(hashes);
    expect(found.size).toBe(1005);
    expect(Array.from(found.get(hashes[1004] ?? "") ?? [])).toEqual(
      Array.from(many[1004]?.chunks[0]?.vector ?? []),
    );
    await store.applyBatch(
      batch(
        [],
        [],
        many.slice(0, 1003).map((d) => d.doc.doc_id),
      ),
    );
    expect((await subject.docRows()).map((d) => d.item_key).sort()).toEqual(["m/1003.txt", "m/1004.txt"]);
    expect(await subject.chunkRows()).toHaveLength(2);
  });

  it("health lists the documents table, then the chunks table, with their row counts", async () => {
    await store.applyBatch(batch([makeDoc({ itemKey: "a.txt", texts: texts("a", 3) })]));
    await store.applyBatch(batch([makeDoc({ itemKey: "b.txt", texts: texts("b", 2) })]));
    const h = await store.health();
    expect(h.map((t) => t.rows)).toEqual([2, 5]);
    for (const t of h) {
      expect(t.version).toBeGreaterThanOrEqual(1);
      expect(t.versions).toBeGreaterThanOrEqual(1);
      expect(t.fragments).toBeGreaterThanOrEqual(1);
      expect(t.fragments, `${t.name}: no empty fragments`).toBeLessThanOrEqual(t.rows);
      expect(Number.isInteger(t.smallFragments)).toBe(true);
      expect(t.smallFragments).toBeGreaterThanOrEqual(0);
      expect(t.smallFragments, `${t.name}: small fragments are fragments`).toBeLessThanOrEqual(t.fragments);
      if (store instanceof LanceDbStore) {
        // Each tiny applyBatch appends one fragment to each table, and a few rows make a small fragment.
        expect(t.fragments, t.name).toBeGreaterThanOrEqual(2);
        expect(t.smallFragments, t.name).toBe(t.fragments);
        expect(t.versions, t.name).toBeGreaterThanOrEqual(3);
      }
    }
  });

  it("re-opening with another embedder is refused with SYNC_E_EMBEDDER_MISMATCH", async () => {
    await store.applyBatch(batch([makeDoc({ itemKey: "a.txt", texts: texts("a", 1) })]));
    let caught: unknown;
    try {
      await store.open({ id: "other-embedder:8", dimensions: DIMS });
    } catch (err) {
      caught = err;
    }
    expect(isSyncError(caught, "SYNC_E_EMBEDDER_MISMATCH"), String(caught)).toBe(true);
  });

  describe("search, documents and maintenance", () => {
    const a = makeDoc({
      itemKey: "a.txt",
      texts: ["the lighthouse keeper logs ships", "pears and onions in the soup"],
      metadata: { lang: "en", year: 2024, draft: false, "it's": "o'brien" },
      url: "https://example.com/a?x='1'",
    });
    const b = makeDoc({
      itemKey: "b.txt",
      texts: ["zephyrine storms arrive in spring"],
      metadata: { lang: "fr", year: "2024", nested: { lang: "en" } },
    });
    const m = makeDoc({
      sourceId: "mail",
      itemKey: "m.txt",
      texts: ["the lighthouse is closed on monday"],
      metadata: { lang: "en", "%": "_" },
    });
    const x = makeDoc({ userId: "bob", itemKey: "x.txt", texts: ["the lighthouse keeper of bob"] });
    const vectorOf = (text: string) => vectorFor(seedOf(text));
    const idsOf = (hits: Array<{ chunk_id: string }>) => hits.map((h) => h.chunk_id).sort();
    const chunkIds = (...docs: Array<{ chunks: ChunkRow[] }>) =>
      docs.flatMap((d) => d.chunks.map((c) => c.chunk_id)).sort();

    beforeEach(async () => {
      await store.applyBatch(batch([a, b, m, x]));
      await store.compact({ retentionHours: 168 });
    });

    it("vector: the chunk whose vector is the query ranks first, with its document's metadata and url", async () => {
      const target = a.chunks[0] as ChunkRow;
      const hits = await store.search({
        userId: "alice",
        mode: "vector",
        text: target.text,
        vector: vectorOf(target.text),
        limit: 10,
      });
      expect(idsOf(hits)).toEqual(chunkIds(a, b, m));
      expect(hits[0]).toMatchObject({
        chunk_id: target.chunk_id,
        doc_id: a.doc.doc_id,
        item_key: "a.txt",
        source_id: "docs",
        title: "Title of a.txt",
        text: target.text,
        start: target.start,
        end: target.end,
        metadata: { lang: "en", year: 2024, draft: false, "it's": "o'brien" },
        url: "https://example.com/a?x='1'",
      });
      expect(hits[0]?.score).toBeCloseTo(1, 4);
      for (let i = 1; i < hits.length; i++)
        expect(hits[i]?.score).toBeLessThanOrEqual(hits[i - 1]?.score ?? 0);
      const bHit = hits.find((h) => h.doc_id === b.doc.doc_id);
      expect(bHit).toMatchObject({
        url: null,
        metadata: { lang: "fr", year: "2024", nested: { lang: "en" } },
      });
      const two = await store.search({
        userId: "alice",
        mode: "vector",
        text: "q",
        vector: vectorOf("q"),
        limit: 2,
      });
      expect(two).toHaveLength(2);
    });

    it("fts: a word finds exactly the user's chunks that contain it", async () => {
      const fts = (userId: string, text: string) => store.search({ userId, mode: "fts", text, limit: 10 });
      expect(idsOf(await fts("alice", "zephyrine"))).toEqual(chunkIds(b));
      expect(idsOf(await fts("alice", "lighthouse"))).toEqual(
        [a.chunks[0]?.chunk_id, m.chunks[0]?.chunk_id].map(String).sort(),
      );
      expect(idsOf(await fts("bob", "lighthouse"))).toEqual(chunkIds(x));
      expect(await fts("bob", "zephyrine")).toEqual([]);
      expect(await fts("carol", "lighthouse")).toEqual([]);
      const [hit] = await fts("alice", "zephyrine");
      expect(hit?.score).toBeGreaterThan(0);
      expect(hit?.metadata).toEqual({ lang: "fr", year: "2024", nested: { lang: "en" } });
    });

    it("hybrid: the user's chunks only, best first, at most limit", async () => {
      const text = "zephyrine storms arrive in spring";
      const hits = await store.search({
        userId: "alice",
        mode: "hybrid",
        text,
        vector: vectorOf(text),
        limit: 3,
      });
      expect(hits.length).toBeGreaterThan(0);
      expect(hits.length).toBeLessThanOrEqual(3);
      expect(hits[0]?.doc_id).toBe(b.doc.doc_id);
      for (const h of hits) expect(chunkIds(a, b, m)).toContain(h.chunk_id);
      for (let i = 1; i < hits.length; i++)
        expect(hits[i]?.score).toBeLessThanOrEqual(hits[i - 1]?.score ?? 0);
    });

    it("filters narrow by source, document and exact metadata, ANDed with each other and the user", async () => {
      const find = async (filters: ChunkFilters, userId = "alice") =>
        idsOf(
          await store.search({
            userId,
            mode: "vector",
            text: "q",
            vector: vectorOf("q"),
            limit: 50,
            filters,
          }),
        );
      expect(await find({ sourceIds: ["mail"] })).toEqual(chunkIds(m));
      expect(await find({ sourceIds: ["mail", "docs"] })).toEqual(chunkIds(a, b, m));
      expect(await find({ docIds: [a.doc.doc_id] })).toEqual(chunkIds(a));
      expect(await find({ docIds: [x.doc.doc_id] })).toEqual([]); // bob's document: not alice's to find
      expect(await find({ docIds: [x.doc.doc_id] }, "bob")).toEqual(chunkIds(x));
      expect(await find({ metadata: { lang: "en" } })).toEqual(chunkIds(a, m));
      expect(await find({ metadata: { year: "2024" } })).toEqual(chunkIds(a, b)); // 2024 and "2024"
      expect(await find({ metadata: { year: 2024 } })).toEqual(chunkIds(a)); // the number only
      expect(await find({ metadata: { draft: false } })).toEqual(chunkIds(a));
      expect(await find({ metadata: { draft: "false" } })).toEqual(chunkIds(a));
      expect(await find({ metadata: { draft: 0 } })).toEqual([]);
      expect(await find({ metadata: { lang: "en", year: 2024 } })).toEqual(chunkIds(a));
      expect(await find({ metadata: { lang: "EN" } })).toEqual([]);
      expect(await find({ metadata: { lang: "e" } })).toEqual([]);
      expect(await find({ metadata: { lang: "en%" } })).toEqual([]);
      expect(await find({ metadata: { nested: "en" } })).toEqual([]);
      expect(await find({ metadata: { "it's": "o'brien" } })).toEqual(chunkIds(a));
      expect(await find({ metadata: { "%": "_" } })).toEqual(chunkIds(m));
      expect(await find({ metadata: { "%": "%" } })).toEqual([]);
      expect(await find({ metadata: { _: "_" } })).toEqual([]);
      expect(await find({ metadata: { lang: "x' OR '1'='1" } })).toEqual([]);
      expect(await find({ metadata: { "lang' OR '1'='1": "en" } })).toEqual([]);
      expect(await find({ metadata: JSON.parse('{"__proto__":"x"}') })).toEqual([]);
      expect(await find({ metadata: { constructor: "x" } })).toEqual([]);
      expect(await find({ sourceIds: ["docs"], metadata: { lang: "en" } })).toEqual(chunkIds(a));
      expect(await find({ sourceIds: ["mail"], docIds: [a.doc.doc_id] })).toEqual([]);
      expect(await find({ sourceIds: [] })).toEqual([]);
      expect(await find({ sourceIds: ["docs' OR '1'='1"] })).toEqual([]);
      expect(await find({ docIds: ["x' OR '1'='1", "') OR ('1'='1"] })).toEqual([]);
      expect(await find({ metadata: {} })).toEqual(chunkIds(a, b, m));
      // The same filters in full-text mode.
      const fts = await store.search({
        userId: "alice",
        mode: "fts",
        text: "lighthouse",
        limit: 10,
        filters: { metadata: { lang: "en" }, sourceIds: ["mail"] },
      });
      expect(idsOf(fts)).toEqual(chunkIds(m));
    });

    it("search takes an injection-like user id as one literal; rejects an invalid one, a missing vector and a vector of another embedder", async () => {
      for (const userId of ["x' OR '1'='1", "alice' --"]) {
        for (const mode of ["vector", "fts", "hybrid"] as const) {
          const hits = await store.search({
            userId,
            mode,
            text: "lighthouse",
            vector: vectorOf("q"),
            limit: 5,
          });
          expect(hits, `${mode} ${userId}`).toEqual([]);
        }
      }
      for (const userId of ["a/b", ""]) {
        for (const mode of ["vector", "fts", "hybrid"] as const) {
          const err = await rejection(
            store.search({ userId, mode, text: "lighthouse", vector: vectorOf("q"), limit: 5 }),
          );
          expect(isSyncError(err, "SYNC_E_INVALID_ID"), `${mode} ${userId}: ${String(err)}`).toBe(true);
        }
      }
      const noVector = await rejection(
        store.search({ userId: "alice", mode: "vector", text: "q", limit: 5 }),
      );
      expect(isSyncError(noVector, "SYNC_E_INVALID_ARGUMENT"), String(noVector)).toBe(true);
      const other = await rejection(
        store.search({
          userId: "alice",
          mode: "vector",
          text: "q",
          vector: vectorOf("q"),
          embedderId: "other:8",
          limit: 5,
        }),
      );
      expect(isSyncError(other, "SYNC_E_EMBEDDER_MISMATCH"), String(other)).toBe(true);
      const same = await store.search({
        userId: "alice",
        mode: "vector",
        text: "q",
        vector: vectorOf("q"),
        embedderId: EMBEDDER.id,
        limit: 5,
      });
      expect(same.length).toBe(4);
    });

    it("countRows per user, embedderId and fullTextReady", async () => {
      expect(await store.countRows()).toEqual({ documents: 4, chunks: 5 });
      expect(await store.countRows("alice")).toEqual({ documents: 3, chunks: 4 });
      expect(await store.countRows("bob")).toEqual({ documents: 1, chunks: 1 });
      expect(await store.countRows("carol")).toEqual({ documents: 0, chunks: 0 });
      expect(await store.countRows("x' OR '1'='1")).toEqual({ documents: 0, chunks: 0 });
      expect(isSyncError(await rejection(store.countRows("a/b")), "SYNC_E_INVALID_ID")).toBe(true);
      expect(await store.embedderId()).toBe(EMBEDDER.id);
      expect(await store.fullTextReady()).toBe(true);
    });

    it("getDocument returns the user's row field for field, and nothing for another user's or an unknown id", async () => {
      expect(await store.getDocument("alice", a.doc.doc_id)).toEqual(a.doc);
      expect(await store.getDocument("bob", x.doc.doc_id)).toEqual(x.doc);
      expect(await store.getDocument("bob", a.doc.doc_id)).toBeUndefined();
      expect(await store.getDocument("alice", "no-such-doc")).toBeUndefined();
      expect(await store.getDocument("alice", "x' OR '1'='1")).toBeUndefined();
    });

    it("listUserDocuments orders by source then key, pages, and filters by source", async () => {
      const c = makeDoc({ itemKey: "0-first.txt", texts: ["c"] });
      await store.applyBatch(batch([c]));
      const keys = (rows: DocumentRow[]) => rows.map((r) => `${r.source_id}/${r.item_key}`);
      expect(keys(await store.listUserDocuments("alice"))).toEqual([
        "docs/0-first.txt",
        "docs/a.txt",
        "docs/b.txt",
        "mail/m.txt",
      ]);
      expect((await store.listUserDocuments("alice"))[1]).toEqual(a.doc);
      expect(keys(await store.listUserDocuments("alice", { limit: 2, offset: 1 }))).toEqual([
        "docs/a.txt",
        "docs/b.txt",
      ]);
      expect(keys(await store.listUserDocuments("alice", { offset: 3 }))).toEqual(["mail/m.txt"]);
      expect(keys(await store.listUserDocuments("alice", { offset: 9 }))).toEqual([]);
      expect(keys(await store.listUserDocuments("alice", { sourceId: "mail" }))).toEqual(["mail/m.txt"]);
      expect(keys(await store.listUserDocuments("bob"))).toEqual(["docs/x.txt"]);
      expect(await store.listUserDocuments("carol")).toEqual([]);
    });

    it("removeSource deletes every row of that source of that user, and nothing else", async () => {
      expect(await store.removeSource("alice", "docs")).toEqual({ documents: 2, chunks: 3 });
      expect(await subject.docRows()).toEqual(sortDocs([m.doc, x.doc]));
      expect(await subject.chunkRows()).toEqual(sortChunks([...m.chunks, ...x.chunks].map(plain)));
      expect(await store.removeSource("alice", "docs")).toEqual({ documents: 0, chunks: 0 });
      expect(await store.removeSource("alice", "docs' OR '1'='1")).toEqual({ documents: 0, chunks: 0 });
      expect(await store.countRows()).toEqual({ documents: 2, chunks: 2 });
    });

    it("compact keeps every row and reports health before and after", async () => {
      const rowsBefore = { docs: await subject.docRows(), chunks: await subject.chunkRows() };
      const { before, after } = await store.compact({ retentionHours: 0 });
      expect(before.map((h) => h.rows)).toEqual([4, 5]);
      expect(after.map((h) => h.rows)).toEqual([4, 5]);
      expect(await subject.docRows()).toEqual(rowsBefore.docs);
      expect(await subject.chunkRows()).toEqual(rowsBefore.chunks);
      expect(await store.fullTextReady()).toBe(true);
      const neg = await rejection(store.compact({ retentionHours: -1 }));
      expect(isSyncError(neg, "SYNC_E_INVALID_ARGUMENT"), String(neg)).toBe(true);
    });

    it("drop removes both tables; opening again gives an empty store", async () => {
      const dropped = await store.drop();
      expect(dropped).toHaveLength(2);
      await store.open(EMBEDDER);
      expect(await store.isEmpty()).toBe(true);
      expect(await store.listUserDocuments("alice")).toEqual([]);
    });
  });
});

describe("MemoryStore only", () => {
  it("openExisting is false before the tables were created", async () => {
    expect(await new MemoryStore().openExisting()).toBe(false);
  });
});

describe("LanceDbStore only", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  const opened: LanceDbStore[] = [];

  async function openStore(extra: Partial<LanceDbStoreOptions> = {}, embedder = EMBEDDER) {
    const store = new LanceDbStore(lanceOptions(tmp.path, extra));
    opened.push(store);
    await store.open(embedder);
    return store;
  }

  /** `n` documents of `chunksEach` chunks, item keys prefixed with `tag`. */
  const docs = (tag: string, n: number, chunksEach: number) =>
    Array.from({ length: n }, (_, i) =>
      makeDoc({ itemKey: `${tag}/${i}.txt`, texts: texts(`${tag}-${i}`, chunksEach) }),
    );

  const uri = () => lanceOptions(tmp.path).uri;
  const chunksTable = <T>(fn: (t: lancedb.Table) => Promise<T>) => withRawTable(uri(), "document_chunks", fn);

  const indexedColumns = async (_store: LanceDbStore) =>
    (await chunksTable((t) => t.listIndices())).map((i) => i.columns.join(",")).sort();

  async function unindexed(_store: LanceDbStore): Promise<Record<string, number | undefined>> {
    return chunksTable(async (table) => {
      const out: Record<string, number | undefined> = {};
      for (const idx of await table.listIndices()) {
        out[idx.columns.join(",")] = (await table.indexStats(idx.name))?.numUnindexedRows;
      }
      return out;
    });
  }

  beforeEach(() => {
    tmp = makeTempDir("lancedb-sync-conformance-");
  });

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    tmp.cleanup();
  });

  it("opening the tables with a different embedder throws SYNC_E_EMBEDDER_MISMATCH naming both ids", async () => {
    const first = await openStore();
    await first.applyBatch(batch([makeDoc({ itemKey: "a.txt", texts: texts("a", 1) })]));
    await first.close();

    for (const other of [
      { id: "other-embedder:8", dimensions: 8 },
      { id: "other-embedder:16", dimensions: 16 },
      { id: EMBEDDER.id, dimensions: 16 },
    ]) {
      let caught: unknown;
      try {
        await openStore({}, other);
      } catch (err) {
        caught = err;
      }
      expect(isSyncError(caught, "SYNC_E_EMBEDDER_MISMATCH"), String(caught)).toBe(true);
      const message = (caught as Error).message;
      expect(message).toContain(EMBEDDER.id);
      expect(message).toContain(other.id);
    }

    // The right embedder still opens them, with the data intact.
    const again = await openStore();
    expect(await again.embedderId()).toBe(EMBEDDER.id);
    expect(await again.countRows()).toEqual({ documents: 1, chunks: 1 });
  });

  it("maintain creates no index below indexMinRows", async () => {
    const store = await openStore({ indexMinRows: 50 });
    await store.applyBatch(batch(docs("d", 7, 7))); // 49 chunk rows
    await store.maintain();
    expect(await indexedColumns(store)).toEqual([]);
  });

  it("maintain indexes text_hash, doc_id (BTree) and user_id (bitmap) from indexMinRows on, and reads and writes stay correct", async () => {
    const store = await openStore({ indexMinRows: 50 });
    const first = docs("d", 10, 6); // 60 chunk rows
    await store.applyBatch(batch(first));
    await store.maintain();
    expect(await indexedColumns(store)).toEqual(["doc_id", "text_hash", "user_id"]);
    expect(await unindexed(store)).toEqual({ doc_id: 0, text_hash: 0, user_id: 0 });

    const subject = lanceSubject(store, uri());
    const all = first.flatMap((d) => d.chunks);
    const found = await store.lookupVectors([...all.map((c) => c.text_hash), hashContent("unknown")]);
    expect(found.size).toBe(all.length);
    for (const c of all) expect(Array.from(found.get(c.text_hash) ?? [])).toEqual(Array.from(c.vector));

    // Replace one document with fewer chunks and delete another while the indices exist.
    const [d0, d1] = first;
    if (!d0 || !d1) throw new Error("fixture");
    const d0v2 = makeDoc({ itemKey: d0.doc.item_key, texts: texts("d0-v2", 2), version: 2 });
    await store.applyBatch(batch([d0v2], [d0v2.doc.doc_id], [d1.doc.doc_id]));
    const expected = [d0v2, ...first.slice(2)];
    expect(await subject.docRows()).toEqual(sortDocs(expected.map((d) => d.doc)));
    expect(await subject.chunkRows()).toEqual(sortChunks(expected.flatMap((d) => d.chunks).map(plain)));
    expect((await store.lookupVectors([...d0.chunks, ...d1.chunks].map((c) => c.text_hash))).size).toBe(0);
    const v2 = await store.lookupVectors(d0v2.chunks.map((c) => c.text_hash));
    expect(v2.size).toBe(2);

    // A small growth is left to the scan of unindexed rows: no rebuild, and lookups still find the new rows.
    const small = docs("s", 2, 3); // 6 rows
    await store.applyBatch(batch(small));
    await store.maintain();
    // Unindexed: the 2 chunks of the replaced document and the 6 new ones, < max(indexMinRows, rows / 10).
    expect(await unindexed(store)).toEqual({ doc_id: 8, text_hash: 8, user_id: 8 });
    const smallHashes = small.flatMap((d) => d.chunks.map((c) => c.text_hash));
    expect((await store.lookupVectors(smallHashes)).size).toBe(6);
  });

  it("maintain indexes the documents table's doc_id from indexMinRows documents on", async () => {
    const store = await openStore({ indexMinRows: 50 });
    await store.applyBatch(batch(docs("d", 49, 1)));
    await store.maintain();
    const docIndices = () =>
      withRawTable(uri(), "processed_documents", async (t) =>
        (await t.listIndices()).map((i) => i.columns.join(",")),
      );
    expect(await docIndices()).toEqual([]);
    await store.applyBatch(batch(docs("e", 1, 1)));
    await store.maintain();
    expect(await docIndices()).toEqual(["doc_id"]);
    // Replace-deletes through the index keep exactly one row per document.
    const [first] = docs("d", 1, 1);
    if (!first) throw new Error("fixture");
    const again = makeDoc({ itemKey: first.doc.item_key, texts: texts("d-v2", 1), version: 2 });
    await store.applyBatch(batch([again], [again.doc.doc_id]));
    expect(await store.countRows()).toEqual({ documents: 50, chunks: 50 });
  });

  it("maintain compacts a table past compactSmallFragments small fragments and keeps its old versions", async () => {
    const store = await openStore({ compactSmallFragments: 4 });
    const written = [];
    for (let i = 0; i < 5; i++) {
      const d = docs(`c${i}`, 2, 2);
      written.push(...d);
      await store.applyBatch(batch(d)); // a commit, and a fragment, per table and batch
    }
    const fragments = async (name: string) =>
      withRawTable(uri(), name, async (t) => (await t.stats()).fragmentStats.numFragments);
    expect(await fragments("document_chunks")).toBe(5);
    const versionsBefore = await chunksTable(async (t) => (await t.listVersions()).length);
    await store.maintain();
    expect(await fragments("document_chunks")).toBe(1);
    expect(await fragments("processed_documents")).toBe(1);
    // Compaction only: every earlier version is still there (a backup may be reading one).
    expect(await chunksTable(async (t) => (await t.listVersions()).length)).toBeGreaterThan(versionsBefore);
    const subject = lanceSubject(store, uri());
    expect(await subject.chunkRows()).toEqual(sortChunks(written.flatMap((d) => d.chunks).map(plain)));
    expect(await subject.docRows()).toEqual(sortDocs(written.map((d) => d.doc)));

    const off = await openStore({ compactSmallFragments: 0 });
    await off.applyBatch(batch(docs("z", 1, 1)));
    await off.maintain();
    expect(await fragments("document_chunks")).toBe(2);
  });

  it("maintain rebuilds the indices once more than a tenth (and more than indexMinRows) rows are unindexed", async () => {
    const store = await openStore({ indexMinRows: 50 });
    await store.applyBatch(batch(docs("d", 10, 6))); // 60
    await store.maintain();
    const grown = docs("g", 11, 6); // +66: > 50 and > (60 + 66) / 10
    await store.applyBatch(batch(grown));
    expect(await unindexed(store)).toEqual({ doc_id: 66, text_hash: 66, user_id: 66 });
    await store.maintain();
    expect(await indexedColumns(store)).toEqual(["doc_id", "text_hash", "user_id"]);
    expect(await unindexed(store)).toEqual({ doc_id: 0, text_hash: 0, user_id: 0 });
    const hashes = grown.flatMap((d) => d.chunks.map((c) => c.text_hash));
    expect((await store.lookupVectors(hashes)).size).toBe(66);
    expect(await store.countRows()).toEqual({ documents: 21, chunks: 126 });
  });

  it("a batch with more chunks than maxChunkRowsPerCommit is written completely, in several commits", async () => {
    const store = await openStore({ maxChunkRowsPerCommit: 5 });
    const before = await chunksTable((t) => t.version());
    const big = makeDoc({ itemKey: "big.txt", texts: texts("big", 12) });
    const small = makeDoc({ itemKey: "small.txt", texts: texts("small", 1) });
    await store.applyBatch(batch([big, small]));

    const after = await chunksTable((t) => t.version());
    expect(after - before).toBeGreaterThan(1);
    expect(after - before).toBe(3); // ceil(13 / 5) adds
    expect(await lanceSubject(store, uri()).chunkRows()).toEqual(
      sortChunks([...big.chunks, ...small.chunks].map(plain)),
    );
    expect(await store.countRows()).toEqual({ documents: 2, chunks: 13 });

    // Replacing it is just as complete.
    const big2 = makeDoc({ itemKey: "big.txt", texts: texts("big2", 11), version: 2 });
    await store.applyBatch(batch([big2], [big2.doc.doc_id]));
    expect(await lanceSubject(store, uri()).chunkRows()).toEqual(
      sortChunks([...big2.chunks, ...small.chunks].map(plain)),
    );
  });

  it("a chunk vector of the wrong width is refused before anything is written", async () => {
    const store = await openStore();
    const a = makeDoc({ itemKey: "a.txt", texts: texts("a", 2) });
    const bad = {
      ...a,
      chunks: a.chunks.map((c, i) => (i === 1 ? { ...c, vector: new Float32Array(4) } : c)),
    };
    await expect(store.applyBatch(batch([bad]))).rejects.toThrow(/4 values, the table needs 8/);
    expect(await store.countRows()).toEqual({ documents: 0, chunks: 0 });
    expect(await store.isEmpty()).toBe(true);
  });

  it("openExisting is false on an empty dir and true once the tables exist", async () => {
    const empty = new LanceDbStore(lanceOptions(tmp.path));
    expect(await empty.openExisting()).toBe(false);
    await expect(empty.countRows()).rejects.toThrow(/before open/);

    const writer = await openStore();
    await writer.applyBatch(batch([makeDoc({ itemKey: "a.txt", texts: texts("a", 3) })]));

    const reader = new LanceDbStore(lanceOptions(tmp.path));
    opened.push(reader);
    expect(await reader.openExisting()).toBe(true);
    expect(await reader.embedderId()).toBe(EMBEDDER.id);
    expect(await reader.countRows()).toEqual({ documents: 1, chunks: 3 });
    expect(await reader.listDocuments("alice", "docs")).toHaveLength(1);
    expect(await reader.countRows("bob")).toEqual({ documents: 0, chunks: 0 });
  });

  it("health reports rows, versions and fragments of both tables", async () => {
    const store = await openStore();
    await store.applyBatch(batch(docs("a", 2, 3)));
    await store.applyBatch(batch(docs("b", 1, 4)));
    const health = await store.health();
    expect(health.map((h) => h.name)).toEqual(["processed_documents", "document_chunks"]);
    const [documents, chunks] = health;
    expect(documents).toMatchObject({ rows: 3 });
    expect(chunks).toMatchObject({ rows: 10 });
    for (const h of health) {
      // Creation plus two appends.
      expect(h.versions).toBeGreaterThanOrEqual(3);
      expect(h.version).toBeGreaterThanOrEqual(3);
      expect(h.fragments).toBe(2);
      // Both appends were a handful of rows: both fragments are small ones, candidates for compaction.
      expect(h.smallFragments).toBe(2);
    }
    // A third tiny append is a third (small) fragment.
    await store.applyBatch(batch(docs("c", 1, 2)));
    for (const h of await store.health()) {
      expect(h.fragments, h.name).toBe(3);
      expect(h.smallFragments, h.name).toBe(3);
      expect(h.versions, h.name).toBeGreaterThanOrEqual(4);
    }
  });
});
