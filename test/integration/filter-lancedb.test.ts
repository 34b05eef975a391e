import * as lancedb from "@lancedb/lancedb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChunkRow, DocumentRow } from "../../src/core/document-store.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import { and, chunkFilter, documentFilter, eq, inList, userFilter } from "../../src/storage/filter.js";
import { LanceDbStore } from "../../src/storage/lancedb-store.js";
import { thrown } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/**
 * The filter helpers' output parsed and evaluated by LanceDB itself (DataFusion SQL): every awkward value
 * must select exactly its own rows. In LanceDB a string literal is `'…'` with `''` for a quote; a backslash
 * is an ordinary character (no C-style escapes), so `sqlString` only doubles single quotes.
 */
const VALUES: readonly string[] = [
  "plain",
  "it's",
  "its",
  "it''s",
  "'",
  "''",
  "'leading",
  "trailing'",
  'double"quote',
  '"',
  '""',
  "back\\slash",
  "trailing\\",
  "\\",
  "\\\\",
  "x\\'y",
  "\\'",
  "\\' OR '1'='1",
  "\\n",
  "a%",
  "abc",
  "a_c",
  "%",
  "_",
  "100%_done",
  "café é",
  "中文",
  "emoji 😀🚀",
  "line\nbreak",
  "cr\r\nlf",
  "tab\tsep",
  "x' OR '1'='1",
  "') OR ('1'='1",
  "'; DELETE FROM t; --",
  "a' OR item_key LIKE '%",
  "  spaced  ",
  "",
  "dir/sub dir/o'brien's notes.md",
];

type Row = {
  id: string;
  user_id: string;
  source_id: string;
  item_key: string;
  doc_id: string;
};

/**
 * Two rows per value: `A<i>` (alice's, value as item_key and doc_id) and `B<i>` (bob's, value as source_id,
 * `b:<value>` as doc_id, a plain item_key).
 */
function rowsFor(values: readonly string[]): Row[] {
  return values.flatMap((v, i) => [
    { id: `A${i}`, user_id: "alice", source_id: "docs", item_key: v, doc_id: v },
    { id: `B${i}`, user_id: "bob", source_id: v, item_key: `k-${i}`, doc_id: `b:${v}` },
  ]);
}

describe("filter helpers evaluated by LanceDB", () => {
  const tmp = makeTempDir("lancedb-sync-filter-");
  let db: lancedb.Connection;
  let table: lancedb.Table;
  const all = rowsFor(VALUES);

  /** Ids of the rows `filter` selects, sorted; cross-checked with countRows. */
  async function ids(filter: string, t: lancedb.Table = table): Promise<string[]> {
    const rows = await t
      .query()
      .where(filter)
      .select(["id"])
      .limit(all.length * 2)
      .toArray();
    const out = rows.map((r) => String(r.id)).sort();
    expect(await t.countRows(filter), `countRows(${filter})`).toBe(out.length);
    return out;
  }

  beforeAll(async () => {
    db = await lancedb.connect(tmp.path);
    table = await db.createTable("items", all);
    expect(await table.countRows()).toBe(all.length);
    // The values round-trip unchanged (so a mismatch below is the filter's, not the write's).
    const stored = await table
      .query()
      .limit(all.length * 2)
      .toArray();
    expect(
      stored
        .map((r) => String(r.item_key))
        .filter((_, i) => stored[i]?.user_id === "alice")
        .sort(),
    ).toEqual([...VALUES].sort());
  });

  afterAll(() => {
    table?.close();
    db?.close();
    tmp.cleanup();
  });

  it("the values are distinct (so 'exactly its rows' means one row per column)", () => {
    expect(new Set(VALUES).size).toBe(VALUES.length);
  });

  it.each(VALUES.map((v, i) => [JSON.stringify(v), v, i] as const))(
    "eq on item_key, doc_id and source_id selects exactly the rows of %s",
    async (_label, value, i) => {
      expect(await ids(eq("item_key", value))).toEqual([`A${i}`]);
      expect(await ids(eq("doc_id", value))).toEqual([`A${i}`]);
      expect(await ids(eq("source_id", value))).toEqual([`B${i}`]);
      expect(await ids(eq("doc_id", `b:${value}`))).toEqual([`B${i}`]);
      expect(await ids(and(userFilter("alice"), eq("item_key", value)))).toEqual([`A${i}`]);
      expect(await ids(and(userFilter("bob"), eq("item_key", value)))).toEqual([]);
      expect(await ids(and(eq("user_id", "bob"), eq("source_id", value), eq("item_key", `k-${i}`)))).toEqual([
        `B${i}`,
      ]);
      expect(await ids(inList("doc_id", [value, `b:${value}`]))).toEqual([`A${i}`, `B${i}`].sort());
      expect(await ids(inList("item_key", [value]))).toEqual([`A${i}`]);
    },
  );

  it("inList over every value selects exactly alice's rows; over pairs, exactly the pair", async () => {
    expect(await ids(inList("item_key", VALUES))).toEqual(VALUES.map((_, i) => `A${i}`).sort());
    expect(await ids(inList("source_id", VALUES))).toEqual(VALUES.map((_, i) => `B${i}`).sort());
    for (let i = 0; i < VALUES.length; i++) {
      const j = (i + 1) % VALUES.length;
      expect(
        await ids(inList("doc_id", [VALUES[i] as string, VALUES[j] as string])),
        `${i} and ${j}`,
      ).toEqual([`A${i}`, `A${j}`].sort());
    }
    expect(await ids(inList("doc_id", []))).toEqual([]);
  });

  it("near-duplicates never match each other: no LIKE wildcards, no quote or backslash folding", async () => {
    const pairs: Array<[string, string]> = [
      ["a%", "abc"],
      ["a_c", "abc"],
      ["%", "_"],
      ["it's", "its"],
      ["it's", "it''s"],
      ["'", "''"],
      ['"', '""'],
      ["\\", "\\\\"],
      ["x\\'y", "\\'"],
      ["\\n", "line\nbreak"],
      ["back\\slash", "plain"],
    ];
    for (const [x, y] of pairs) {
      const ix = VALUES.indexOf(x);
      const iy = VALUES.indexOf(y);
      expect(ix, x).toBeGreaterThanOrEqual(0);
      expect(iy, y).toBeGreaterThanOrEqual(0);
      expect(await ids(eq("item_key", x)), x).toEqual([`A${ix}`]);
      expect(await ids(eq("item_key", y)), y).toEqual([`A${iy}`]);
    }
    // Values that are not stored select nothing, however much they look like a pattern.
    for (const absent of ["a", "ab", "a\\%", "it", "its'", "\\\\\\", "中", "x' OR '1'='1 ", "%%", "__"]) {
      expect(VALUES).not.toContain(absent);
      expect(await ids(eq("item_key", absent)), JSON.stringify(absent)).toEqual([]);
    }
  });

  it("a quote-bearing item_key cannot widen a query", async () => {
    const attacks = [
      "x' OR '1'='1",
      "' OR '1'='1",
      "' OR true OR '",
      "') OR ('1'='1",
      "' OR user_id = 'bob",
      "\\' OR 1=1 OR '\\",
      "' OR item_key LIKE '%",
      "'; DELETE FROM items; --",
    ];
    for (const attack of attacks) {
      const i = VALUES.indexOf(attack);
      const own = i >= 0 ? [`A${i}`] : [];
      expect(await ids(eq("item_key", attack)), attack).toEqual(own);
      expect(await ids(and(userFilter("alice"), eq("item_key", attack))), attack).toEqual(own);
      expect(await ids(and(userFilter("bob"), eq("item_key", attack))), attack).toEqual([]);
      expect(await ids(inList("item_key", [attack, "no-such-key"])), attack).toEqual(own);
      expect(await ids(and(eq("source_id", "docs"), inList("doc_id", [attack]))), attack).toEqual(own);
    }
    expect(await table.countRows()).toBe(all.length);
  });

  it("userFilter takes identity-provider ids, quotes included, as one literal that selects only that user's rows", async () => {
    const users = [
      "x' OR '1'='1",
      "alice' OR '1'='1",
      "alice'--",
      "alice' OR user_id = 'bob",
      "') OR ('1'='1",
      "auth0|5f3c8e2b9a1d4c0012345678",
      "o'brien@example.com",
      '"quoted"@example.com',
      "550e8400-e29b-41d4-a716-446655440000",
      "it''s",
    ];
    const extra = await db.createTable(
      "users",
      [...users, "alice", "bob"].map((u, i) => ({
        id: `U${i}`,
        user_id: u,
        source_id: "s",
        item_key: "k",
        doc_id: "d",
      })),
    );
    try {
      for (const [i, u] of users.entries()) {
        expect(await ids(userFilter(u), extra), u).toEqual([`U${i}`]);
        expect(await ids(and(userFilter(u), eq("item_key", "k")), extra), u).toEqual([`U${i}`]);
      }
      expect(await ids(userFilter("alice"), extra)).toEqual([`U${users.length}`]);
    } finally {
      extra.close();
    }
    // Refused before LanceDB sees them: path separators, control characters, padding, a flag-like dash.
    for (const bad of ["alice\\", "a/b", "alice\n", " alice", "-alice", ""]) {
      expect(
        isSyncError(
          thrown(() => userFilter(bad)),
          "SYNC_E_INVALID_ID",
        ),
        bad,
      ).toBe(true);
    }
    expect(await ids(userFilter("alice"))).toEqual(VALUES.map((_, i) => `A${i}`).sort());
  });

  it("delete with inList removes exactly the named rows", async () => {
    const copy = await db.createTable("items_copy", rowsFor(VALUES));
    try {
      const victims = ["it's", "\\", "a%", "x\\'y", "中文", "line\nbreak", "x' OR '1'='1", ""];
      await copy.delete(inList("doc_id", victims));
      const left = await ids("true", copy);
      const gone = new Set(victims.map((v) => `A${VALUES.indexOf(v)}`));
      expect(gone.size).toBe(victims.length);
      expect(left).toEqual(
        all
          .map((r) => r.id)
          .filter((id) => !gone.has(id))
          .sort(),
      );
      await copy.delete(and(eq("user_id", "bob"), eq("source_id", "its")));
      expect((await ids("true", copy)).length).toBe(left.length - 1);
      expect(await ids(eq("source_id", "its"), copy)).toEqual([]);
      expect(await ids(eq("source_id", "it's"), copy)).toEqual([`B${VALUES.indexOf("it's")}`]);
    } finally {
      copy.close();
    }
  });

  it("documentFilter and chunkFilter select exactly the user's rows of the listed sources and documents", async () => {
    for (const [i, v] of VALUES.entries()) {
      expect(await ids(chunkFilter("bob", { sourceIds: [v] })), v).toEqual([`B${i}`]);
      expect(await ids(documentFilter("bob", { sourceIds: [v, "no-such-source"] })), v).toEqual([`B${i}`]);
      expect(await ids(chunkFilter("alice", { sourceIds: [v] })), v).toEqual([]); // alice has no source named like a value
      expect(await ids(documentFilter("alice", { docIds: [v] })), v).toEqual([`A${i}`]);
      expect(await ids(chunkFilter("bob", { docIds: [v] })), v).toEqual([]);
      expect(await ids(chunkFilter("alice", { sourceIds: ["docs"] }, [v])), v).toEqual([`A${i}`]);
      expect(await ids(chunkFilter("alice", { sourceIds: ["docs"], docIds: [v] }, ["other"])), v).toEqual([]);
      expect(await ids(chunkFilter("bob", { sourceIds: [v], docIds: [`b:${v}`] })), v).toEqual([`B${i}`]);
    }
    expect(await ids(chunkFilter("alice", {}))).toEqual(VALUES.map((_, i) => `A${i}`).sort());
    expect(await ids(chunkFilter("alice", { sourceIds: [] }))).toEqual([]);
    expect(await ids(chunkFilter("alice", undefined, []))).toEqual([]);
  });
});

describe("metadata filters through LanceDbStore.search", () => {
  it("a hostile key or value selects exactly its own document: no widening, no breaking", async () => {
    const tmp = makeTempDir("lancedb-sync-filter-meta-");
    const store = new LanceDbStore({ uri: tmp.path, documentsTable: "docs", chunksTable: "chunks" });
    const dims = 4;
    await store.open({ id: "meta-test:4", dimensions: dims });
    try {
      const vector = Float32Array.from([1, 0, 0, 0]);
      const upserts = VALUES.map((v, i) => {
        const metadata = JSON.stringify({ k: v, [v]: "key", n: i });
        const doc: DocumentRow = {
          doc_id: `d${i}`,
          user_id: "alice",
          source_type: "upload",
          source_id: "up",
          item_key: `k${i}`,
          title: `t${i}`,
          mime_type: "text/plain",
          size_bytes: 1,
          content_hash: `h${i}`,
          chunk_count: 1,
          modified_at: "2025-01-01T00:00:00.000Z",
          ingested_at: "2025-01-01T00:00:00.000Z",
          metadata,
          url: "",
        };
        const chunk: ChunkRow = {
          chunk_id: `d${i}:0`,
          doc_id: `d${i}`,
          user_id: "alice",
          ordinal: 0,
          text: `text ${i}`,
          text_hash: `th${i}`,
          start: 0,
          end: 6,
          vector,
          title: `t${i}`,
          source_id: "up",
          item_key: `k${i}`,
          url: "",
          metadata,
        };
        return { doc, chunks: [chunk] };
      });
      await store.applyBatch({ upserts, replaceDocIds: [], deleteDocIds: [] });
      const find = async (metadata: Record<string, string | number>) =>
        (
          await store.search({
            userId: "alice",
            mode: "vector",
            text: "x",
            vector,
            limit: 1000,
            filters: { metadata },
          })
        )
          .map((h) => h.doc_id)
          .sort();
      expect(VALUES).not.toContain("k");
      expect(VALUES).not.toContain("n");
      for (const [i, v] of VALUES.entries()) {
        expect(await find({ k: v }), JSON.stringify(v)).toEqual([`d${i}`]);
        // The value as a key ("k" and "n" are not among VALUES, so it is never another key of the document).
        expect(await find({ [v]: "key" }), JSON.stringify(v)).toEqual(
          v === "k" || v === "n" ? [] : [`d${i}`],
        );
        expect(await find({ k: v, n: i }), JSON.stringify(v)).toEqual([`d${i}`]);
        expect(await find({ k: v, n: i + 1 }), JSON.stringify(v)).toEqual([]);
        expect(await find({ k: `${v}%` }), JSON.stringify(v)).toEqual(
          VALUES.includes(`${v}%`) ? [`d${VALUES.indexOf(`${v}%`)}`] : [],
        );
      }
      for (const attack of ["' OR '1'='1", "%", "_", "\\", "x' OR user_id = 'bob"]) {
        expect((await find({ [attack]: attack })).length, attack).toBeLessThanOrEqual(1);
      }
      expect(await store.countRows()).toEqual({ documents: VALUES.length, chunks: VALUES.length });
    } finally {
      await store.close();
      tmp.cleanup();
    }
  });
});
