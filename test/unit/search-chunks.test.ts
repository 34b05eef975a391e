import { describe, expect, it } from "vitest";
import { parseMetaFilters, searchFilters } from "../../src/cli/commands/search-command.js";
import type { Embedder } from "../../src/core/embedder.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import { searchChunks } from "../../src/search/search-chunks.js";
import { MemoryStore } from "../fakes/memory-store.js";
import { rejection, thrown } from "../helpers/caught.js";

const DIMS = 4;

/** An embedder that counts its calls; `created` counts calls of the lazy form. */
function lazyEmbedder() {
  const state = { created: 0, embedded: 0 };
  const embedder: Embedder = {
    id: "unit:4",
    dimensions: DIMS,
    async embed(texts) {
      state.embedded += texts.length;
      return texts.map(() => Float32Array.from([1, 0, 0, 0]));
    },
  } as Embedder;
  const lazy = async () => {
    state.created++;
    return embedder;
  };
  return { state, embedder, lazy };
}

async function storeWithOneChunk(): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.open({ id: "unit:4", dimensions: DIMS });
  const row = {
    user_id: "alice",
    source_id: "s",
    item_key: "k",
    title: "t",
    url: "https://x",
    metadata: '{"a":1}',
  };
  await store.applyBatch({
    upserts: [
      {
        doc: {
          ...row,
          doc_id: "d",
          source_type: "upload",
          mime_type: "text/plain",
          size_bytes: 1,
          content_hash: "h",
          chunk_count: 1,
          modified_at: "",
          ingested_at: "",
        },
        chunks: [
          {
            ...row,
            chunk_id: "d:0",
            doc_id: "d",
            ordinal: 0,
            text: "the lighthouse keeper",
            text_hash: "th",
            start: 0,
            end: 21,
            vector: Float32Array.from([1, 0, 0, 0]),
          },
        ],
      },
    ],
    replaceDocIds: [],
    deleteDocIds: [],
  });
  return store;
}

describe("searchChunks", () => {
  it("fts with a full-text index never creates nor calls the embedder", async () => {
    const store = await storeWithOneChunk();
    const { state, lazy } = lazyEmbedder();
    const hits = await searchChunks(store, lazy, { query: "lighthouse", userId: "alice", mode: "fts" });
    expect(hits.map((h) => h.chunk_id)).toEqual(["d:0"]);
    expect(hits[0]).toMatchObject({ url: "https://x", metadata: { a: 1 } });
    expect(state).toEqual({ created: 0, embedded: 0 });
  });

  it("vector and hybrid embed the query once, through the lazy form, and pass the embedder id", async () => {
    const store = await storeWithOneChunk();
    for (const mode of ["vector", "hybrid"] as const) {
      const { state, lazy } = lazyEmbedder();
      const hits = await searchChunks(store, lazy, { query: "lighthouse", userId: "alice", mode });
      expect(
        hits.map((h) => h.chunk_id),
        mode,
      ).toEqual(["d:0"]);
      expect(state, mode).toEqual({ created: 1, embedded: 1 });
    }
    const { embedder } = lazyEmbedder();
    const other = { ...embedder, id: "other:4", embed: embedder.embed } as Embedder;
    const err = await rejection(searchChunks(store, other, { query: "x", userId: "alice", mode: "vector" }));
    expect(isSyncError(err, "SYNC_E_EMBEDDER_MISMATCH"), String(err)).toBe(true);
  });

  it("fts and hybrid without a full-text index answer by vector search and say so", async () => {
    const store = await storeWithOneChunk();
    store.ftsIndex = false;
    for (const mode of ["fts", "hybrid"] as const) {
      const notes: string[] = [];
      const { state, lazy } = lazyEmbedder();
      const hits = await searchChunks(store, lazy, {
        query: "lighthouse",
        userId: "alice",
        mode,
        onFallback: (n) => notes.push(n),
      });
      expect(hits.map((h) => h.chunk_id)).toEqual(["d:0"]);
      expect(notes).toHaveLength(1);
      expect(notes[0]).toContain("compact");
      expect(state.embedded).toBe(1);
    }
  });

  it("validates mode, limit, query and user id before touching the store or the embedder", async () => {
    const store = await storeWithOneChunk();
    const { state, lazy } = lazyEmbedder();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ mode: "semantic" }, "SYNC_E_INVALID_ARGUMENT"],
      [{ limit: 0 }, "SYNC_E_INVALID_ARGUMENT"],
      [{ limit: 1001 }, "SYNC_E_INVALID_ARGUMENT"],
      [{ limit: 2.5 }, "SYNC_E_INVALID_ARGUMENT"],
      [{ query: "   " }, "SYNC_E_INVALID_ARGUMENT"],
      [{ userId: "a/b" }, "SYNC_E_INVALID_ID"],
    ];
    for (const [override, code] of cases) {
      const options = { query: "lighthouse", userId: "alice", mode: "vector", ...override } as Parameters<
        typeof searchChunks
      >[2];
      const err = await rejection(searchChunks(store, lazy, options));
      expect(isSyncError(err, code as never), `${JSON.stringify(override)}: ${String(err)}`).toBe(true);
    }
    expect(state).toEqual({ created: 0, embedded: 0 });
    expect(store.searchCalls).toBe(0);
  });

  it("passes filters through to the store", async () => {
    const store = await storeWithOneChunk();
    const { embedder } = lazyEmbedder();
    const search = (filters: object) =>
      searchChunks(store, embedder, { query: "lighthouse", userId: "alice", mode: "fts", filters });
    expect(await search({ metadata: { a: "1" } })).toHaveLength(1);
    expect(await search({ metadata: { a: "2" } })).toEqual([]);
    expect(await search({ sourceIds: ["t"] })).toEqual([]);
  });
});

describe("search command arguments", () => {
  it("parses --meta key=value pairs at the first '=', as strings, keys taken literally", () => {
    expect(parseMetaFilters(["a=1", "b=x=y", "c=", "__proto__=p"])).toEqual(
      JSON.parse('{"a":"1","b":"x=y","c":"","__proto__":"p"}'),
    );
    expect(Object.getPrototypeOf(parseMetaFilters(["__proto__=p"]))).toBe(Object.prototype);
    for (const bad of [["a"], ["=1"], ["a=1", "a=2"]]) {
      expect(
        isSyncError(
          thrown(() => parseMetaFilters(bad)),
          "SYNC_E_INVALID_ARGUMENT",
        ),
        bad.join(" "),
      ).toBe(true);
    }
  });

  it("builds filters only from the options given", () => {
    expect(searchFilters({})).toBeUndefined();
    expect(searchFilters({ source: ["s"], doc: ["d1", "d2"], meta: ["k=v"] })).toEqual({
      sourceIds: ["s"],
      docIds: ["d1", "d2"],
      metadata: { k: "v" },
    });
  });
});
