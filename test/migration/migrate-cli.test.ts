import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSyncSystem } from "../../src/app/sync-system.js";
import { makeChunkId, makeDocId } from "../../src/core/ids.js";
import { type CliResult, runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { journalItems } from "../integration/support.js";
import {
  type ChunkTableRow,
  chunkTableRows,
  chunkTableSchema,
  DIMS,
  EMBEDDER_ID,
  embedTexts,
  readAll,
  structTableSchema,
  tableVersions,
  USERS,
  writeTable,
} from "./legacy-fixtures.js";

const temps: Array<{ cleanup: () => void }> = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.cleanup();
});

/** A fresh store (db, state) and a separate legacy database. */
function setup() {
  const tmp = makeTempDir("lancedb-sync-migrate-");
  temps.push(tmp);
  const legacy = join(tmp.path, "legacy");
  const env = {
    LANCEDB_URI: join(tmp.path, "db"),
    STATE_DB_PATH: join(tmp.path, "state", "state.db"),
    EMBEDDING_DIMENSIONS: String(DIMS),
  };
  const migrate = (args: string[], extra: Record<string, string> = {}) =>
    runCli(["migrate", "--from", legacy, "--json", ...args], { cwd: tmp.path, env: { ...env, ...extra } });
  return { dir: tmp.path, legacy, env, migrate };
}

function show(r: CliResult): string {
  return `exit ${r.code} ${r.signal ?? ""}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** The report's counts add up: every row in scope is migrated or skipped. */
function expectCountsAddUp(r: CliResult): void {
  const skipped = Object.values(r.json.skipped as Record<string, { count: number }>).reduce(
    (n, s) => n + s.count,
    0,
  );
  expect(r.json.rows_migrated + skipped, show(r)).toBe(r.json.source_rows);
}

async function legacyChunks(legacy: string, vectors: "same" | "odd"): Promise<ChunkTableRow[]> {
  const rows = await chunkTableRows(3, 4, vectors);
  await writeTable(legacy, "legacy_chunks", rows as never, chunkTableSchema());
  return rows;
}

describe("migrate: one row per chunk, with vectors", () => {
  it("keeps the legacy vectors under --legacy-embedder = the configured embedder, with stable ids; a second run changes nothing", async () => {
    const s = setup();
    const rows = await legacyChunks(s.legacy, "same");
    const r = await s.migrate(["--table", "legacy_chunks", "--all-users", "--legacy-embedder", EMBEDDER_ID]);
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({
      source_rows: 36,
      rows_migrated: 36,
      documents: 9,
      chunks: 36,
      skipped: {},
      vectors: "kept",
      vectors_kept: 36,
      reembedded: 0,
      users: 3,
      written_documents: 9,
      unchanged_documents: 0,
    });
    expect(r.json.mapping).toMatchObject({
      text: "text",
      vector: "vector",
      user: "user_id",
      doc: "doc_id",
      ordinal: "chunk_index",
      metadata: "metadata",
      timestamp: "created_at",
      id: "id",
    });
    expectCountsAddUp(r);

    const chunks = await readAll(s.env.LANCEDB_URI, "document_chunks");
    const docs = await readAll(s.env.LANCEDB_URI, "processed_documents");
    expect(chunks).toHaveLength(36);
    expect(docs).toHaveLength(9);
    for (const row of rows) {
      const user = row.user_id as string;
      const docId = makeDocId(user, "migrated-legacy_chunks", row.doc_id);
      const chunk = chunks.find((c) => c.chunk_id === makeChunkId(docId, row.chunk_index));
      expect(chunk, row.id).toBeDefined();
      expect(chunk?.text).toBe(row.text);
      expect(chunk?.user_id).toBe(user);
      // Kept: exactly the legacy vector (as float32).
      expect(chunk?.vector).toEqual(Array.from(Float32Array.from(row.vector as number[])));
    }
    for (const d of docs) {
      expect(d.source_type).toBe("migrated");
      expect(JSON.parse(d.metadata as string)).toMatchObject({ lang: "en" });
    }

    // Search scoped to the user with a quote in the id finds that user's document, and only theirs.
    const system = createSyncSystem({
      lancedbUri: s.env.LANCEDB_URI,
      stateDbPath: s.env.STATE_DB_PATH,
      uploadDir: join(s.dir, "uploads"),
      embeddingDimensions: DIMS,
      logLevel: "silent",
    });
    await system.start();
    try {
      const quoted = USERS[2];
      const target = rows.find((x) => x.user_id === quoted && x.chunk_index === 2) as ChunkTableRow;
      const hits = await system.search({ userId: quoted, query: target.text, mode: "vector", limit: 3 });
      expect(hits.length).toBeGreaterThan(0);
      expect(hits[0]?.text).toBe(target.text);
      for (const h of hits) expect(h.doc_id).toMatch(/^[0-9a-f]{32}$/);
      const ids = new Set(docs.filter((d) => d.user_id === quoted).map((d) => d.doc_id));
      for (const h of hits) expect(ids.has(h.doc_id)).toBe(true);
      const sources = await system.sources.list({ userId: USERS[0] });
      expect(sources.map((x) => [x.source_id, x.type])).toEqual([["migrated-legacy_chunks", "migrated"]]);
    } finally {
      await system.stop();
    }

    const before = await tableVersions(s.env.LANCEDB_URI);
    const again = await s.migrate([
      "--table",
      "legacy_chunks",
      "--all-users",
      "--legacy-embedder",
      EMBEDDER_ID,
    ]);
    expect(again.code, show(again)).toBe(0);
    expect(again.json).toMatchObject({
      documents: 9,
      chunks: 36,
      written_documents: 0,
      unchanged_documents: 9,
      vectors_kept: 0,
      reembedded: 0,
    });
    expect(await tableVersions(s.env.LANCEDB_URI)).toEqual(before);
    expect(await readAll(s.env.LANCEDB_URI, "document_chunks")).toHaveLength(36);
  });

  it("re-embeds without --legacy-embedder, with another model's id, and with --reembed: width alone never decides", async () => {
    for (const flags of [
      [],
      ["--legacy-embedder", "text-embedding-3-small"],
      ["--legacy-embedder", EMBEDDER_ID, "--reembed"],
    ]) {
      const s = setup();
      // Legacy vectors of the configured width but of "another model".
      const rows = await legacyChunks(s.legacy, "odd");
      const r = await s.migrate(["--table", "legacy_chunks", "--all-users", ...flags]);
      expect(r.code, show(r)).toBe(0);
      expect(r.json).toMatchObject({ chunks: 36, vectors: "reembedded", vectors_kept: 0, reembedded: 36 });
      expect(r.json.vectors_reason, flags.join(" ")).toMatch(/embedded/);
      const chunks = await readAll(s.env.LANCEDB_URI, "document_chunks");
      const own = await embedTexts(rows.map((x) => x.text));
      for (const [i, row] of rows.entries()) {
        const docId = makeDocId(row.user_id as string, "migrated-legacy_chunks", row.doc_id);
        const chunk = chunks.find((c) => c.chunk_id === makeChunkId(docId, row.chunk_index));
        const vector = chunk?.vector as number[];
        expect(vector).not.toEqual(Array.from(Float32Array.from(row.vector as number[])));
        expect(vector).toEqual(Array.from(Float32Array.from(own[i] as number[])));
      }
    }
  });
});

describe("migrate: other shapes", () => {
  it("one row per document without vectors: owner/path/content detected, long texts chunked, every chunk embedded", async () => {
    const s = setup();
    const long = (n: number) =>
      Array.from(
        { length: 60 },
        (_, i) => `Paragraph ${i} of file ${n} talks about lanterns and rivers.`,
      ).join("\n\n");
    const rows = [0, 1, 2, 3].map((n) => ({
      owner: n % 2 === 0 ? "google-oauth2|1234" : "bob@example.com",
      path: `/old/server/docs/file-${n}.txt`,
      content: long(n),
    }));
    await writeTable(s.legacy, "docs_v1", rows);
    const r = await s.migrate(["--table", "docs_v1", "--all-users"]);
    expect(r.code, show(r)).toBe(0);
    expect(r.json.mapping).toEqual({ text: "content", user: "owner", doc: "path" });
    expect(r.json).toMatchObject({
      source_rows: 4,
      rows_migrated: 4,
      documents: 4,
      users: 2,
      vectors_kept: 0,
    });
    expect(r.json.chunks).toBeGreaterThan(8);
    expect(r.json.reembedded).toBe(r.json.chunks);
    const docs = await readAll(s.env.LANCEDB_URI, "processed_documents");
    const chunks = await readAll(s.env.LANCEDB_URI, "document_chunks");
    expect(docs.map((d) => d.item_key).sort()).toEqual(rows.map((x) => x.path).sort());
    for (const d of docs) {
      const own = chunks.filter((c) => c.doc_id === d.doc_id);
      expect(own).toHaveLength(d.chunk_count as number);
      expect(own.map((c) => c.ordinal).sort((a, b) => Number(a) - Number(b))).toEqual(own.map((_, i) => i));
      const text = rows.find((x) => x.path === d.item_key)?.content as string;
      for (const c of own) expect(text.slice(c.start as number, c.end as number)).toBe(c.text);
    }
  });

  it("odd, mixed-case column names: refused without --map (naming the columns), migrated with it", async () => {
    const s = setup();
    const rows = [0, 1, 2].flatMap((d) =>
      [0, 1].map((c) => ({
        "Body Text": `Body ${d}.${c} mentions marmalade`,
        Who: "auth0|abc",
        "Doc Ref": `ref-${d}`,
        Seq: c,
        "Extra Info": "x",
      })),
    );
    await writeTable(s.legacy, "weird_table", rows);
    const refused = await s.migrate(["--table", "weird_table", "--assign-user", "carol"]);
    expect(refused.code, show(refused)).toBe(1);
    expect(refused.json.error.code).toBe("SYNC_E_MIGRATION_MAPPING");
    expect(refused.json.error.message).toContain("Body Text");
    const r = await s.migrate([
      "--table",
      "weird_table",
      "--all-users",
      "--map",
      "body text=text",
      "--map",
      "Who=user",
      "--map",
      "Doc Ref=doc",
      "--map",
      "SEQ=ordinal",
    ]);
    expect(r.code, show(r)).toBe(0);
    expect(r.json.mapping).toEqual({ text: "Body Text", user: "Who", doc: "Doc Ref", ordinal: "Seq" });
    expect(r.json).toMatchObject({ source_rows: 6, documents: 3, chunks: 6, users: 1 });
    expect(r.json.per_user).toEqual([
      {
        user_id: "auth0|abc",
        source_id: "migrated-weird_table",
        source_type: "migrated",
        documents: 3,
        chunks: 6,
        written: 3,
        unchanged: 0,
      },
    ]);
    const bad = await s.migrate(["--table", "weird_table", "--all-users", "--map", "Nope=text"]);
    expect(bad.code).toBe(1);
    expect(bad.json.error.code).toBe("SYNC_E_MIGRATION_MAPPING");
    const badField = await s.migrate(["--table", "weird_table", "--all-users", "--map", "Who=owner_of"]);
    expect(badField.json.error.code).toBe("SYNC_E_INVALID_ARGUMENT");
  });

  it("upper-case standard names are detected; a metadata struct column becomes the document's metadata", async () => {
    const s = setup();
    const rows = [0, 1].flatMap((d) =>
      [1, 0].map((c) => ({
        id: BigInt(d * 10 + c),
        owner: "dave@example.com",
        filename: `paper-${d}.pdf`,
        ordinal: c,
        content: `Paper ${d} section ${c} on tide pools`,
        metadata: { author: `Author ${d}`, year: 2000 + d },
      })),
    );
    await writeTable(s.legacy, "papers", rows, structTableSchema());
    const r = await s.migrate(["--table", "papers", "--all-users"]);
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ documents: 2, chunks: 4 });
    const docs = await readAll(s.env.LANCEDB_URI, "processed_documents");
    const chunks = await readAll(s.env.LANCEDB_URI, "document_chunks");
    for (const d of [0, 1]) {
      const doc = docs.find((x) => x.item_key === `paper-${d}.pdf`);
      expect(JSON.parse(doc?.metadata as string)).toEqual({ author: `Author ${d}`, year: 2000 + d });
      expect(doc?.mime_type).toBe("application/pdf");
      const own = chunks
        .filter((c) => c.doc_id === doc?.doc_id)
        .sort((a, b) => Number(a.ordinal) - Number(b.ordinal));
      expect(own.map((c) => c.text)).toEqual([
        `Paper ${d} section 0 on tide pools`,
        `Paper ${d} section 1 on tide pools`,
      ]);
    }
  });
});

describe("migrate: bad rows, scopes, dry run, safety", () => {
  async function badTable(legacy: string) {
    const rows = await chunkTableRows(1, 3, "same");
    const base = rows[0] as ChunkTableRow;
    const extra: ChunkTableRow[] = [
      { ...base, id: "bad-no-user", user_id: null, doc_id: "x.md", chunk_index: 0 },
      { ...base, id: "bad-empty", doc_id: "y.md", text: "   ", chunk_index: 0 },
      { ...base, id: "bad-dup", text: "a duplicate of chunk 0" },
      { ...base, id: "bad-meta", doc_id: "z.md", chunk_index: 5, metadata: "{not json" },
      // The same row id again, in another document: a duplicated row.
      { ...(rows[1] as ChunkTableRow), doc_id: "copy.md" },
    ];
    await writeTable(legacy, "legacy_chunks", [...rows, ...extra] as never, chunkTableSchema());
    // A vector of another width needs a variable-length list column (`embedding`, detected as the vector).
    const listRows = [
      ...rows,
      ...extra,
      { ...base, id: "bad-width", doc_id: "w.md", vector: [0.1, 0.2, 0.3] },
    ].map(({ vector, ...r }) => ({ ...r, embedding: vector }));
    await writeTable(legacy, "legacy_list", listRows, chunkTableSchema(null));
    return rows.length;
  }

  it("counts each kind of bad row with example ids, migrates the rest, exits 2; counts add up", async () => {
    const s = setup();
    const good = await badTable(s.legacy);
    const r = await s.migrate(["--table", "legacy_list", "--all-users", "--legacy-embedder", EMBEDDER_ID]);
    expect(r.code, show(r)).toBe(2);
    expect(r.json.exit_code).toBe(2);
    expect(r.json.skipped).toEqual({
      no_user_id: { count: 1, examples: ["bad-no-user"] },
      empty_text: { count: 1, examples: ["bad-empty"] },
      duplicate_chunk_id: {
        count: 2,
        examples: expect.arrayContaining([(await chunkTableRows(1, 3, "same"))[1]?.id]),
      },
      unparseable_metadata: { count: 1, examples: ["bad-meta"] },
      wrong_vector_width: { count: 1, examples: ["bad-width"] },
    });
    expect(r.json.skipped.duplicate_chunk_id.examples).toHaveLength(2);
    expect(r.json.source_rows).toBe(good + 6);
    expect(r.json.rows_migrated).toBe(good);
    expectCountsAddUp(r);
    const chunks = await readAll(s.env.LANCEDB_URI, "document_chunks");
    expect(chunks).toHaveLength(good);
    expect(new Set(chunks.map((c) => c.chunk_id)).size).toBe(good);
  });

  it("--user takes only that user's rows; --assign-user gives every row to one user", async () => {
    const s = setup();
    await legacyChunks(s.legacy, "same");
    const one = await s.migrate(["--table", "legacy_chunks", "--user", USERS[1]]);
    expect(one.code, show(one)).toBe(0);
    expect(one.json).toMatchObject({ source_rows: 12, documents: 3, chunks: 12, users: 1 });
    expect(one.json.per_user[0].user_id).toBe(USERS[1]);
    const all = await s.migrate([
      "--table",
      "legacy_chunks",
      "--assign-user",
      "x' OR '1'='1",
      "--source",
      "everything",
    ]);
    expect(all.code, show(all)).toBe(0);
    expect(all.json).toMatchObject({ source_rows: 36, documents: 9, chunks: 36, users: 1 });
    const chunks = await readAll(s.env.LANCEDB_URI, "document_chunks");
    expect(chunks.filter((c) => c.user_id === "x' OR '1'='1")).toHaveLength(36);
    expect(chunks.filter((c) => c.user_id === USERS[1])).toHaveLength(12);
    const none = await s.migrate(["--table", "legacy_chunks"]);
    expect(none.code).toBe(1);
    expect(none.json.error.code).toBe("SYNC_E_INVALID_ARGUMENT");
  });

  it("--dry-run prints the mapping, the plan per user and every problem, and creates no file", async () => {
    const s = setup();
    const good = await badTable(s.legacy);
    const r = await s.migrate([
      "--table",
      "legacy_list",
      "--all-users",
      "--legacy-embedder",
      EMBEDDER_ID,
      "--dry-run",
    ]);
    expect(r.code, show(r)).toBe(2);
    expect(r.json).toMatchObject({ dry_run: true, rows_migrated: good, vectors: "kept" });
    expect(r.json.per_user.map((u: { user_id: string }) => u.user_id)).toEqual([
      USERS[0],
      USERS[1],
      USERS[2],
    ]);
    expect(Object.keys(r.json.skipped).sort()).toEqual([
      "duplicate_chunk_id",
      "empty_text",
      "no_user_id",
      "unparseable_metadata",
      "wrong_vector_width",
    ]);
    expect(existsSync(s.env.STATE_DB_PATH)).toBe(false);
    expect(existsSync(join(s.dir, "state"))).toBe(false);
    expect(existsSync(s.env.LANCEDB_URI)).toBe(false);
    expect(readdirSync(s.dir).sort()).toEqual(["legacy"]);
    const text = await runCli(
      ["migrate", "--from", s.legacy, "--table", "legacy_list", "--all-users", "--dry-run"],
      { cwd: s.dir, env: s.env },
    );
    expect(text.code).toBe(2);
    expect(text.stdout).toContain("dry run");
    expect(text.stdout).toContain('text <- "text"');
    expect(text.stdout).toContain(`user ${USERS[2]}`);
    expect(text.stdout).toContain("skipped 1 rows: no user id (e.g. bad-no-user)");
    expect(readdirSync(s.dir).sort()).toEqual(["legacy"]);
  });

  it("refuses to migrate the store's own tables into themselves", async () => {
    const s = setup();
    await legacyChunks(s.legacy, "same");
    await s.migrate(["--table", "legacy_chunks", "--all-users"]);
    for (const table of ["document_chunks", "processed_documents"]) {
      const r = await runCli(["migrate", "--table", table, "--all-users", "--json"], {
        cwd: s.dir,
        env: s.env,
      });
      expect(r.code, show(r)).toBe(1);
      expect(r.json.error.code).toBe("SYNC_E_MIGRATION_SELF");
    }
    const missing = await s.migrate(["--table", "no_such", "--all-users"]);
    expect(missing.json.error.code).toBe("SYNC_E_NOT_FOUND");
    expect(missing.json.error.message).toContain("legacy_chunks");
    const typo = join(s.dir, "no-such-db");
    const nowhere = await runCli(
      ["migrate", "--from", typo, "--table", "t", "--all-users", "--dry-run", "--json"],
      {
        cwd: s.dir,
        env: s.env,
      },
    );
    expect(nowhere.code, show(nowhere)).toBe(1);
    expect(nowhere.json.error.code).toBe("SYNC_E_NOT_FOUND");
    expect(existsSync(typo)).toBe(false);
  });

  it("a migrated source lists what the journal holds: its sync changes and deletes nothing; a delete removes one document", async () => {
    const s = setup();
    await legacyChunks(s.legacy, "same");
    await s.migrate(["--table", "legacy_chunks", "--all-users"]);
    const user = USERS[0];
    const sync = await runCli(["sync", "--user", user, "--source", "migrated-legacy_chunks", "--json"], {
      cwd: s.dir,
      env: s.env,
    });
    expect(sync.code, show(sync)).toBe(0);
    expect(sync.json).toMatchObject({ unchanged: 3, deleted: 0, added: 0, updated: 0, embedded_chunks: 0 });
    const docId = makeDocId(user, "migrated-legacy_chunks", "notes/doc-0-0.md");
    const del = await runCli(["documents", "delete", docId, "--user", user, "--json"], {
      cwd: s.dir,
      env: s.env,
    });
    expect(del.code, show(del)).toBe(0);
    const docs = await readAll(s.env.LANCEDB_URI, "processed_documents");
    expect(docs.some((d) => d.doc_id === docId)).toBe(false);
    expect(docs).toHaveLength(8);
    expect(
      journalItems(s.env.STATE_DB_PATH).filter((i) => i.source_name === "migrated-legacy_chunks"),
    ).toHaveLength(8);
  });
});
