import { join } from "node:path";
import * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isSyncError } from "../../src/errors/sync-error.js";
import { HashingEmbedder } from "../../src/pipeline/embed/hashing-embedder.js";
import { searchChunks } from "../../src/search/search-chunks.js";
import { LanceDbStore } from "../../src/storage/lancedb-store.js";
import { LAYOUT_KEY } from "../../src/storage/table-schemas.js";
import { rejection } from "../helpers/caught.js";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, show } from "./support.js";

/**
 * Tables written by the release before layout 2 (the field lists below are that release's, copied, not
 * imported) are upgraded in place when opened: rows intact, the new columns `''`, searches working.
 */

const DOCS = "processed_documents";
const CHUNKS = "document_chunks";
const utf8 = (name: string) => new arrow.Field(name, new arrow.Utf8(), false);

function layout1Documents(layout: string | undefined): arrow.Schema {
  return new arrow.Schema(
    [
      utf8("doc_id"),
      utf8("user_id"),
      utf8("source_type"),
      utf8("source_id"),
      utf8("item_key"),
      utf8("title"),
      utf8("mime_type"),
      new arrow.Field("size_bytes", new arrow.Float64(), false),
      utf8("content_hash"),
      new arrow.Field("chunk_count", new arrow.Int32(), false),
      utf8("modified_at"),
      utf8("ingested_at"),
      utf8("metadata"),
    ],
    new Map(layout === undefined ? [] : [[LAYOUT_KEY, layout]]),
  );
}

function layout1Chunks(embedderId: string, dims: number, layout: string | undefined): arrow.Schema {
  return new arrow.Schema(
    [
      utf8("chunk_id"),
      utf8("doc_id"),
      utf8("user_id"),
      new arrow.Field("ordinal", new arrow.Int32(), false),
      utf8("text"),
      utf8("text_hash"),
      new arrow.Field("start", new arrow.Int32(), false),
      new arrow.Field("end", new arrow.Int32(), false),
      new arrow.Field(
        "vector",
        new arrow.FixedSizeList(dims, new arrow.Field("item", new arrow.Float32(), true)),
        false,
      ),
      utf8("title"),
      utf8("source_id"),
      utf8("item_key"),
    ],
    new Map([
      ["lancedb_sync.embedder_id", embedderId],
      ["lancedb_sync.dimensions", String(dims)],
      ...(layout === undefined ? [] : ([[LAYOUT_KEY, layout]] as Array<[string, string]>)),
    ]),
  );
}

const TEXTS = ["the lighthouse keeper logs every passing ship", "pears and onions make a fine soup"];

/** Writes two documents (one chunk each) of user alice into layout-1 tables at `uri`. */
async function writeLayout1(
  uri: string,
  embedder: HashingEmbedder,
  layout: string | undefined,
): Promise<void> {
  const db = await lancedb.connect(uri);
  try {
    const docs = await db.createEmptyTable(DOCS, layout1Documents(layout));
    const chunks = await db.createEmptyTable(CHUNKS, layout1Chunks(embedder.id, embedder.dimensions, layout));
    const vectors = await embedder.embed(TEXTS);
    await docs.add(
      TEXTS.map((text, i) => ({
        doc_id: `d${i}`,
        user_id: "alice",
        source_type: "local_filesystem",
        source_id: "notes",
        item_key: `/notes/${i}.txt`,
        title: `doc ${i}`,
        mime_type: "text/plain",
        size_bytes: text.length,
        content_hash: `h${i}`,
        chunk_count: 1,
        modified_at: "2025-01-01T00:00:00.000Z",
        ingested_at: "2025-01-01T00:00:00.000Z",
        metadata: JSON.stringify({ n: i, lang: "en" }),
      })),
    );
    await chunks.add(
      TEXTS.map((text, i) => ({
        chunk_id: `d${i}:0`,
        doc_id: `d${i}`,
        user_id: "alice",
        ordinal: 0,
        text,
        text_hash: `t${i}`,
        start: 0,
        end: text.length,
        vector: Array.from(vectors[i] as Float32Array),
        title: `doc ${i}`,
        source_id: "notes",
        item_key: `/notes/${i}.txt`,
      })),
    );
    docs.close();
    chunks.close();
  } finally {
    db.close();
  }
}

async function rawRows(uri: string, name: string): Promise<Record<string, unknown>[]> {
  const db = await lancedb.connect(uri);
  try {
    const t = await db.openTable(name);
    try {
      return (await t.query().toArray()).map((r) => {
        const row: Record<string, unknown> = { ...r };
        if (r.vector) row.vector = Array.from(r.vector.toArray() as Float32Array);
        return row;
      });
    } finally {
      t.close();
    }
  } finally {
    db.close();
  }
}

describe("layout 1 tables are upgraded to layout 2 on open", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  const embedder = new HashingEmbedder();
  const uri = () => join(tmp.path, "db");
  const options = () => ({ uri: uri(), documentsTable: DOCS, chunksTable: CHUNKS });

  beforeEach(() => {
    tmp = makeTempDir("lancedb-sync-layout-");
  });
  afterEach(() => tmp.cleanup());

  for (const layout of ["1", undefined]) {
    it(`layout ${layout ?? "unrecorded"}: refused without upgrade, upgraded with it; rows intact, new columns ''`, async () => {
      await writeLayout1(uri(), embedder, layout);
      const before = { docs: await rawRows(uri(), DOCS), chunks: await rawRows(uri(), CHUNKS) };

      const plain = new LanceDbStore(options());
      const err = await rejection(plain.open(embedder));
      expect(isSyncError(err, "SYNC_E_STORE_UPGRADE_NEEDED"), String(err)).toBe(true);
      await plain.close();
      // Nothing was changed by the refused open.
      expect(await rawRows(uri(), CHUNKS)).toEqual(before.chunks);

      const store = new LanceDbStore(options());
      await store.open(embedder, { upgrade: true });
      try {
        const docs = await rawRows(uri(), DOCS);
        const chunks = await rawRows(uri(), CHUNKS);
        expect(docs).toEqual(before.docs.map((d) => ({ ...d, url: "" })));
        expect(chunks).toEqual(before.chunks.map((c) => ({ ...c, url: "", metadata: "" })));
        expect(await store.countRows()).toEqual({ documents: 2, chunks: 2 });

        // Search works on the old rows; their hits take metadata from the document rows.
        const hits = await searchChunks(store, embedder, {
          query: TEXTS[0] as string,
          userId: "alice",
          mode: "vector",
        });
        expect(hits[0]).toMatchObject({ doc_id: "d0", url: null, metadata: { n: 0, lang: "en" } });
        expect(hits[0]?.score).toBeCloseTo(1, 4);
        const filtered = await searchChunks(store, embedder, {
          query: "soup",
          userId: "alice",
          mode: "vector",
          filters: { metadata: { n: 1 } },
        });
        expect(filtered.map((h) => h.doc_id)).toEqual(["d1"]);

        // New rows are written with the new columns, next to the old ones.
        const text = "a new document written after the upgrade";
        const [vector] = await embedder.embed([text]);
        await store.applyBatch({
          upserts: [
            {
              doc: {
                doc_id: "d9",
                user_id: "alice",
                source_type: "notion",
                source_id: "notes",
                item_key: "page-9",
                title: "new",
                mime_type: "text/plain",
                size_bytes: text.length,
                content_hash: "h9",
                chunk_count: 1,
                modified_at: "2025-02-01T00:00:00.000Z",
                ingested_at: "2025-02-01T00:00:00.000Z",
                metadata: '{"page":9}',
                url: "https://notion.so/page-9",
              },
              chunks: [
                {
                  chunk_id: "d9:0",
                  doc_id: "d9",
                  user_id: "alice",
                  ordinal: 0,
                  text,
                  text_hash: "t9",
                  start: 0,
                  end: text.length,
                  vector: vector as Float32Array,
                  title: "new",
                  source_id: "notes",
                  item_key: "page-9",
                  url: "https://notion.so/page-9",
                  metadata: '{"page":9}',
                },
              ],
            },
          ],
          replaceDocIds: [],
          deleteDocIds: [],
        });
        const [fresh] = await searchChunks(store, embedder, { query: text, userId: "alice", mode: "vector" });
        expect(fresh).toMatchObject({ doc_id: "d9", url: "https://notion.so/page-9", metadata: { page: 9 } });
      } finally {
        await store.close();
      }

      // Upgraded once: a plain open (no lock needed) now succeeds, and the layout is recorded.
      const again = new LanceDbStore(options());
      await again.open(embedder);
      await again.close();
      const db = await lancedb.connect(uri());
      try {
        for (const name of [DOCS, CHUNKS]) {
          const t = await db.openTable(name);
          const docId = (await t.schema()).fields.find((f) => f.name === "doc_id");
          expect(docId?.metadata.get(LAYOUT_KEY), name).toBe("2");
          t.close();
        }
      } finally {
        db.close();
      }
    });
  }

  it("a layout newer than the code knows is refused with SYNC_E_LAYOUT_TOO_NEW, with or without upgrade", async () => {
    await writeLayout1(uri(), embedder, "3");
    for (const upgrade of [false, true]) {
      const store = new LanceDbStore(options());
      const err = await rejection(store.open(embedder, { upgrade }));
      expect(isSyncError(err, "SYNC_E_LAYOUT_TOO_NEW"), String(err)).toBe(true);
      expect((err as Error).message).toMatch(/upgrade lancedb-sync/);
      await store.close();
    }
    // A read-only open (status) still works; a search on it is refused the same way.
    const reader = new LanceDbStore(options());
    expect(await reader.openExisting()).toBe(true);
    try {
      expect(await reader.countRows()).toEqual({ documents: 2, chunks: 2 });
      const err = await rejection(
        reader.search({
          userId: "alice",
          mode: "vector",
          text: "x",
          vector: new Float32Array(256),
          limit: 1,
        }),
      );
      expect(isSyncError(err, "SYNC_E_LAYOUT_TOO_NEW"), String(err)).toBe(true);
    } finally {
      await reader.close();
    }
  });

  it("the CLI searches old tables read-only with fts, and upgrades them (under the writer lock) for vector search", async () => {
    const env = envFor(tmp.path);
    await writeLayout1(env.LANCEDB_URI, embedder, "1");
    // fts opens read-only and needs no upgrade: the hits of old chunks still carry their documents' metadata.
    const fts = await runCli(["search", "lighthouse", "--user", "alice", "--mode", "fts", "--json"], {
      cwd: tmp.path,
      env,
    });
    expect(fts.code, show(fts)).toBe(0);
    // No full-text index in those tables: answered by vector search, and said so.
    expect(fts.stderr).toContain("no full-text index yet");
    expect(fts.json.hits[0]).toMatchObject({ doc_id: "d0", url: null, metadata: { n: 0, lang: "en" } });
    expect((await rawRows(env.LANCEDB_URI, CHUNKS)).map((c) => "url" in c)).toEqual([false, false]);
    const vector = await runCli(
      ["search", TEXTS[1] as string, "--user", "alice", "--mode", "vector", "--json"],
      {
        cwd: tmp.path,
        env,
      },
    );
    expect(vector.code, show(vector)).toBe(0);
    expect(vector.json.hits[0]).toMatchObject({ doc_id: "d1", url: null, metadata: { n: 1, lang: "en" } });
    const chunks = await rawRows(env.LANCEDB_URI, CHUNKS);
    expect(chunks.map((c) => c.url)).toEqual(["", ""]);
  });
});
