import { appendFileSync, mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeDocId } from "../../src/core/ids.js";
import { type CliResult, runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { journalItems } from "../integration/support.js";
import {
  appendRows,
  chunkTableRows,
  chunkTableSchema,
  cleanupOldVersions,
  DIMS,
  EMBEDDER_ID,
  readAll,
  writeTable,
} from "./legacy-fixtures.js";

const temps: Array<{ cleanup: () => void }> = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.cleanup();
});

function setup(extra: Record<string, string> = {}) {
  const tmp = makeTempDir("lancedb-sync-migrate-");
  temps.push(tmp);
  const legacy = join(tmp.path, "legacy");
  const env = {
    LANCEDB_URI: join(tmp.path, "db"),
    STATE_DB_PATH: join(tmp.path, "state", "state.db"),
    EMBEDDING_DIMENSIONS: String(DIMS),
    ...extra,
  };
  const cli = (args: string[], more: Record<string, string> = {}) =>
    runCli([...args, "--json"], { cwd: tmp.path, env: { ...env, ...more } });
  return { dir: tmp.path, legacy, env, cli };
}

/** `migrate` of every user of the `legacy_chunks` table under `legacy`, its vectors kept. */
function migrateAllUsers(legacy: string): string[] {
  return [
    "migrate",
    "--from",
    legacy,
    "--table",
    "legacy_chunks",
    "--all-users",
    "--legacy-embedder",
    EMBEDDER_ID,
  ];
}

function show(r: CliResult): string {
  return `exit ${r.code} ${r.signal ?? ""}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

describe("migrate: resume after SIGKILL", () => {
  it("a run killed mid-way resumes at its pinned version with no duplicates; the next run sees the new version", async () => {
    const rows = await chunkTableRows(3, 4, "same");
    for (const step of ["batch-applied:1", "pending-marked:3"]) {
      const s = setup({ WRITE_BATCH_DOCS: "2" });
      await writeTable(s.legacy, "legacy_chunks", rows as never, chunkTableSchema());
      const args = migrateAllUsers(s.legacy);
      const killed = await s.cli(args, { LANCEDB_SYNC_CRASH_AT: step });
      expect(killed.signal, show(killed)).toBe("SIGKILL");
      // Rows written by the killed batch are there, not yet committed in the journal.
      const committed = journalItems(s.env.STATE_DB_PATH).filter((i) => i.status === "synced").length;
      expect(committed).toBeLessThan(9);
      // The legacy application keeps writing meanwhile: the resumed run must not see it.
      await appendRows(s.legacy, "legacy_chunks", [
        { ...rows[0], id: `late-${step}`, doc_id: `late-${step}.md`, text: `late row ${step}` },
      ]);
      const resumed = await s.cli(args);
      expect(resumed.code, show(resumed)).toBe(0);
      expect(resumed.json).toMatchObject({
        resumed: true,
        version: 1,
        source_rows: 36,
        documents: 9,
        chunks: 36,
      });
      expect(resumed.json.written_documents + resumed.json.unchanged_documents).toBe(9);
      expect(resumed.json.unchanged_documents).toBeGreaterThan(0);
      const chunks = await readAll(s.env.LANCEDB_URI, "document_chunks");
      expect(chunks).toHaveLength(36);
      expect(new Set(chunks.map((c) => c.chunk_id)).size).toBe(36);
      expect(await readAll(s.env.LANCEDB_URI, "processed_documents")).toHaveLength(9);
      const items = journalItems(s.env.STATE_DB_PATH);
      expect(items).toHaveLength(9);
      expect(items.every((i) => i.status === "synced")).toBe(true);
      const after = await s.cli(args);
      expect(after.json).toMatchObject({ resumed: false, version: 2, source_rows: 37, documents: 10 });
      expect(after.json.written_documents).toBe(1);
    }
  });
});

describe("migrate: a resumed run whose pinned version is gone", () => {
  it("starts over at the newest version, says so, and duplicates nothing", async () => {
    const s = setup({ WRITE_BATCH_DOCS: "2" });
    const rows = await chunkTableRows(3, 4, "same");
    await writeTable(s.legacy, "legacy_chunks", rows as never, chunkTableSchema());
    const args = migrateAllUsers(s.legacy);
    const killed = await s.cli(args, { LANCEDB_SYNC_CRASH_AT: "batch-applied:1" });
    expect(killed.signal, show(killed)).toBe("SIGKILL");
    await appendRows(s.legacy, "legacy_chunks", [
      { ...rows[0], id: "late", doc_id: "late.md", text: "late row" },
    ]);
    await cleanupOldVersions(s.legacy, "legacy_chunks");
    const r = await s.cli(args);
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ resumed: false, source_rows: 37, documents: 10, chunks: 37 });
    expect(r.json.problems.join(" ")).toContain("no version 1");
    const chunks = await readAll(s.env.LANCEDB_URI, "document_chunks");
    expect(chunks).toHaveLength(37);
    expect(new Set(chunks.map((c) => c.chunk_id)).size).toBe(37);
  });
});

describe("migrate --root: documents join a local_filesystem source over their files", () => {
  function files(root: string): Record<string, string> {
    const out: Record<string, string> = {
      "notes/a.md": "Alpha notes.\n\nThe heron waits by the reeds.\n\nEnd of alpha.",
      "notes/b.md": "Bravo notes.\n\nCopper kettles hum at dawn.",
      "c.txt": "Charlie text about granite quarries.",
    };
    mkdirSync(join(root, "notes"), { recursive: true });
    for (const [name, text] of Object.entries(out)) writeFileSync(join(root, name), text);
    return out;
  }

  /** The legacy application's rows of those files: one per paragraph, keyed as it knew them. */
  function legacyRows(texts: Record<string, string>, at: string) {
    const keyOf: Record<string, string> = {
      "notes/a.md": "notes/a.md",
      "notes/b.md": "notes/b.md",
      "c.txt": "/srv/old-app/uploads/c.txt",
    };
    const rows = Object.entries(texts).flatMap(([name, text]) =>
      text.split("\n\n").map((part, i) => ({
        source: keyOf[name],
        chunk_index: i,
        content: part,
        updated_at: at,
      })),
    );
    rows.push({
      source: "gone.md",
      chunk_index: 0,
      content: "A file that no longer exists.",
      updated_at: at,
    });
    return rows;
  }

  it("the next sync is a no-op with 0 chunks embedded; a missing file is a deletion candidate; an edited file is re-processed", async () => {
    const s = setup();
    const root = join(s.dir, "docs");
    const texts = files(root);
    await writeTable(s.legacy, "kb", legacyRows(texts, new Date(Date.now() + 2000).toISOString()));
    const r = await s.cli([
      "migrate",
      "--from",
      s.legacy,
      "--table",
      "kb",
      "--assign-user",
      "alice",
      "--root",
      root,
    ]);
    expect(r.code, show(r)).toBe(0);
    expect(r.json.root).toEqual({ path: root, found: 3, newer: 0, missing: 1 });
    expect(r.json).toMatchObject({ documents: 4, chunks: 7, source_rows: 7 });
    expect(r.json.per_user[0]).toMatchObject({ source_type: "local_filesystem", source_id: "migrated-kb" });
    const docs = await readAll(s.env.LANCEDB_URI, "processed_documents");
    expect(docs.map((d) => d.item_key).sort()).toEqual(
      [join(root, "c.txt"), join(root, "gone.md"), join(root, "notes/a.md"), join(root, "notes/b.md")].sort(),
    );
    for (const d of docs) expect(d.doc_id).toBe(makeDocId("alice", "migrated-kb", d.item_key as string));

    const sync = await s.cli(["sync", root, "--user", "alice"]);
    expect(sync.code === 0 || sync.code === 3, show(sync)).toBe(true);
    expect(sync.json).toMatchObject({
      source: "migrated-kb",
      added: 0,
      updated: 0,
      unchanged: 3,
      embedded_chunks: 0,
    });
    expect(sync.json.deleted + sync.json.held_deletions).toBe(1);
    const chunks = await readAll(s.env.LANCEDB_URI, "document_chunks");
    // The migrated chunks of the files stay as the legacy application cut them.
    expect(
      chunks
        .filter((c) => c.item_key === join(root, "notes/a.md"))
        .map((c) => c.text)
        .sort(),
    ).toEqual(["Alpha notes.", "End of alpha.", "The heron waits by the reeds."]);

    appendFileSync(join(root, "notes/b.md"), "\n\nA new paragraph about tin whistles.");
    const edited = await s.cli(["sync", root, "--user", "alice"]);
    expect(edited.json).toMatchObject({ added: 0, updated: 1, unchanged: 2 });
    expect(edited.json.embedded_chunks).toBeGreaterThan(0);
    const after = await readAll(s.env.LANCEDB_URI, "document_chunks");
    expect(after.some((c) => String(c.text).includes("tin whistles"))).toBe(true);
  });

  it("a file newer than its legacy rows is re-processed by the next sync; the others are not", async () => {
    const s = setup();
    const root = join(s.dir, "docs");
    const texts = files(root);
    const at = new Date(Date.now() + 2000);
    await writeTable(s.legacy, "kb", legacyRows(texts, at.toISOString()));
    // Edited after the legacy application indexed it.
    writeFileSync(join(root, "c.txt"), "Charlie text about granite quarries, revised with basalt columns.");
    const later = new Date(at.getTime() + 3600_000);
    utimesSync(join(root, "c.txt"), later, later);
    const migrateArgs = [
      "migrate",
      "--from",
      s.legacy,
      "--table",
      "kb",
      "--assign-user",
      "alice",
      "--root",
      root,
      "--source",
      "kb-files",
    ];
    const r = await s.cli(migrateArgs);
    expect(r.code, show(r)).toBe(0);
    expect(r.json.root).toMatchObject({ found: 2, newer: 1, missing: 1 });
    const sync = await s.cli(["sync", root, "--user", "alice"]);
    expect(sync.json).toMatchObject({ source: "kb-files", added: 0, updated: 1, unchanged: 2 });
    expect(sync.json.embedded_chunks).toBeGreaterThan(0);
    const chunks = await readAll(s.env.LANCEDB_URI, "document_chunks");
    expect(chunks.filter((c) => c.item_key === join(root, "c.txt")).map((c) => c.text)).toEqual([
      "Charlie text about granite quarries, revised with basalt columns.",
    ]);
    // Migrating again does not put the legacy text back over the re-processed file.
    const again = await s.cli(migrateArgs);
    // c.txt is unchanged (indexed as the file is now); only gone.md, which the sync deleted, is brought back.
    expect(again.json.unchanged_documents, show(again)).toBe(3);
    expect(again.json.written_documents).toBe(sync.json.deleted);
    const kept = await readAll(s.env.LANCEDB_URI, "document_chunks");
    expect(kept.filter((c) => c.item_key === join(root, "c.txt")).map((c) => c.text)).toEqual([
      "Charlie text about granite quarries, revised with basalt columns.",
    ]);
  });
});
