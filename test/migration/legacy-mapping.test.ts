import { describe, expect, it } from "vitest";
import { buildDocument, parseLegacyMetadata, type SkippedRows } from "../../src/app/migrate-rows.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import { type LegacyRow, quoteIdentifier, resolveMapping } from "../../src/storage/legacy-table.js";
import { thrown } from "../helpers/caught.js";

const utf8 = (name: string) => ({ name, type: "Utf8" });

describe("resolveMapping", () => {
  it("detects every field by name, in any case and spelling", () => {
    const columns = [
      utf8("Chunk_Text"),
      { name: "EMBEDDING", type: "FixedSizeList[384]<Float32>" },
      utf8("Owner"),
      utf8("File Name"),
      { name: "Chunk Index", type: "Int32" },
      utf8("meta"),
      utf8("Updated_At"),
      utf8("Title"),
      utf8("UUID"),
      utf8("unrelated"),
    ];
    expect(resolveMapping(columns)).toEqual({
      text: "Chunk_Text",
      vector: "EMBEDDING",
      user: "Owner",
      doc: "File Name",
      ordinal: "Chunk Index",
      metadata: "meta",
      timestamp: "Updated_At",
      title: "Title",
      id: "UUID",
    });
  });

  it("prefers the earlier candidate, and --map overrides (case-insensitive column names)", () => {
    const columns = [utf8("content"), utf8("text"), utf8("path"), utf8("doc_id")];
    expect(resolveMapping(columns)).toEqual({ text: "text", doc: "doc_id" });
    expect(resolveMapping(columns, { CONTENT: "text", path: "DOC" })).toEqual({
      text: "content",
      doc: "path",
    });
  });

  it("refuses ambiguity, a missing text column, unknown fields and columns, and wrong types", () => {
    const cases: Array<[Parameters<typeof resolveMapping>, string, string]> = [
      [[[utf8("Text"), utf8("TEXT")]], "SYNC_E_MIGRATION_MAPPING", "--map"],
      [[[utf8("words")]], "SYNC_E_MIGRATION_MAPPING", "no text column"],
      [[[utf8("text")], { text: "body" }], "SYNC_E_INVALID_ARGUMENT", 'unknown field "body"'],
      [[[utf8("text")], { nope: "text" }], "SYNC_E_MIGRATION_MAPPING", 'no column "nope"'],
      [[[{ name: "text", type: "Int64" }]], "SYNC_E_MIGRATION_MAPPING", "not strings"],
      [[[utf8("text"), utf8("vector")]], "SYNC_E_MIGRATION_MAPPING", "not a list"],
    ];
    for (const [args, code, text] of cases) {
      const err = thrown(() => resolveMapping(...args));
      expect(isSyncError(err, code as never), String(err)).toBe(true);
      expect((err as Error).message).toContain(text);
    }
  });

  it("quotes identifiers with backticks", () => {
    expect(quoteIdentifier("Body Text")).toBe("`Body Text`");
    expect(quoteIdentifier("a`b")).toBe("`a``b`");
  });
});

describe("parseLegacyMetadata", () => {
  it("takes JSON object strings, structs and nothing; refuses other JSON and garbage", () => {
    expect(parseLegacyMetadata('{"a":1}')).toEqual({ a: 1 });
    expect(parseLegacyMetadata({ author: "x" })).toEqual({ author: "x" });
    for (const empty of [null, undefined, "", "  ", "null"]) expect(parseLegacyMetadata(empty)).toEqual({});
    for (const bad of ["{oops", "[1,2]", "42", '"s"', [1]]) expect(parseLegacyMetadata(bad)).toBeUndefined();
  });
});

describe("buildDocument", () => {
  const row = (over: Partial<LegacyRow>): LegacyRow => ({
    rowId: 0n,
    user: "u",
    doc: "d.md",
    ordinal: 0,
    id: null,
    text: "t",
    vector: null,
    metadata: null,
    timestamp: null,
    title: null,
    ...over,
  });
  const settings = {
    sourceName: "s",
    sourceType: "migrated",
    keepWidth: 2,
    chunkSize: 50,
    chunkOverlap: 5,
    ingestedAt: "2025-01-01T00:00:00.000Z",
  };

  it("orders rows by chunk index, numbers chunks 0…n-1, keeps vectors of the right width, skips bad rows", () => {
    const skipped: SkippedRows = {};
    const rows = [
      row({ rowId: 1n, ordinal: 2, text: "third", vector: Float32Array.from([1, 2]) }),
      row({ rowId: 2n, ordinal: 0, text: "first", vector: Float32Array.from([3, 4]) }),
      row({ rowId: 3n, ordinal: 0, id: "dup", text: "again" }),
      row({ rowId: 4n, ordinal: 1, text: "  " }),
      row({ rowId: 5n, ordinal: 5, id: "w", text: "wide", vector: Float32Array.from([1, 2, 3]) }),
      row({ rowId: 6n, ordinal: 6, text: "nan", vector: Float32Array.from([Number.NaN, 1]) }),
      row({ rowId: 7n, ordinal: 7, text: "meta", metadata: "{bad" }),
      row({ rowId: 8n, ordinal: 8, text: "embed me" }),
    ];
    const built = buildDocument({ userId: "u", key: "d.md", rows }, rows, settings, skipped);
    expect(built?.chunks.map((c) => [c.ordinal, c.text])).toEqual([
      [0, "first"],
      [1, "third"],
      [2, "embed me"],
    ]);
    expect([...(built?.legacyVectors.entries() ?? [])].map(([o, v]) => [o, Array.from(v)])).toEqual([
      [0, [3, 4]],
      [1, [1, 2]],
    ]);
    expect(built?.rowsUsed).toBe(3);
    expect(skipped).toEqual({
      duplicate_chunk_id: { count: 1, examples: ["dup"] },
      empty_text: { count: 1, examples: ["_rowid:4"] },
      wrong_vector_width: { count: 2, examples: ["w", "_rowid:6"] },
      unparseable_metadata: { count: 1, examples: ["_rowid:7"] },
    });
  });

  it("splits a long single-row document without a kept vector; the same input gives the same ids and hash", () => {
    const text = Array.from({ length: 20 }, (_, i) => `Sentence ${i} here.`).join(" ");
    const one = [row({ ordinal: null, text })];
    const a = buildDocument(
      { userId: "u", key: "d.md", rows: one },
      one,
      { ...settings, keepWidth: undefined },
      {},
    );
    const b = buildDocument(
      { userId: "u", key: "d.md", rows: one },
      one,
      { ...settings, keepWidth: undefined },
      {},
    );
    expect(a?.chunks.length).toBeGreaterThan(3);
    for (const c of a?.chunks ?? []) expect(text.slice(c.start, c.end)).toBe(c.text);
    expect(a?.doc.doc_id).toBe(b?.doc.doc_id);
    expect(a?.legacyHash).toBe(b?.legacyHash);
    expect(
      buildDocument({ userId: "u", key: "x", rows: [] }, [row({ text: "" })], settings, {}),
    ).toBeUndefined();
  });
});
