import { mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, keyOf, show } from "./support.js";

/** The error object the CLI prints with --json on a fatal error (exit 1). */
interface CliError {
  code: string;
  message: string;
}

describe("CLI: sources, ingest and documents as a user would type them", () => {
  const temps: Array<{ cleanup: () => void }> = [];
  afterEach(() => {
    for (const t of temps.splice(0)) t.cleanup();
  });

  /** A fresh temp dir: a `notes` folder with two Markdown files, a `files` folder for ingest, a CLI bound to both. */
  function world() {
    const tmp = makeTempDir("lancedb-sync-cli-sources-");
    temps.push(tmp);
    const dir = tmp.path;
    const env = envFor(dir, { UPLOAD_DIR: join(dir, "uploads") });
    const notes = join(dir, "notes");
    const files = join(dir, "files");
    mkdirSync(join(notes, "sub"), { recursive: true });
    mkdirSync(files);
    writeFileSync(join(notes, "harbour.md"), "# Harbour\n\nThe harbour opens at dawn for the ferries.\n");
    writeFileSync(join(notes, "sub", "orchard.md"), "# Orchard\n\nThe orchard needs new fences.\n");
    writeFileSync(join(notes, "ignored.txt"), "Not matched by the pattern.\n");
    const file = (name: string, text: string) => {
      const p = join(files, name);
      writeFileSync(p, text);
      return p;
    };
    const cli = (...args: string[]) => runCli(args, { cwd: dir, env });
    /** Runs the CLI and expects exit 1 with a --json error object; returns it. */
    const fails = async (...args: string[]): Promise<CliError> => {
      const r = await cli(...args, "--json");
      expect(r.code, show(r)).toBe(1);
      expect(r.json?.error, show(r)).toBeDefined();
      expect(r.stderr).toContain(r.json.error.code);
      return r.json.error;
    };
    const docs = async (user = "alice", ...extra: string[]) => {
      const r = await cli("documents", "list", "--user", user, "--json", ...extra);
      expect(r.code, show(r)).toBe(0);
      return r.json.documents as Array<{ doc_id: string; source_id: string; item_key: string }>;
    };
    const search = async (query: string, ...extra: string[]) => {
      const r = await cli("search", query, "--user", "alice", "--mode", "fts", "--json", ...extra);
      expect(r.code, show(r)).toBe(0);
      return r.json.hits as Array<{ doc_id: string; text: string; metadata: Record<string, unknown> }>;
    };
    const addNotes = async () => {
      const r = await cli(
        "sources",
        "add",
        "fs",
        "--user",
        "alice",
        "--name",
        "notes",
        "--path",
        notes,
        "--pattern",
        "**/*.md",
        "--json",
      );
      expect(r.code, show(r)).toBe(0);
      return r.json;
    };
    return { dir, env, notes, files, file, cli, fails, docs, search, addNotes };
  }

  it("sources add fs resolves the alias and canonical roots; list and show print the record", async () => {
    const w = world();
    const link = join(w.dir, "notes-link");
    symlinkSync(w.notes, link);
    const r = await w.cli(
      "sources",
      "add",
      "fs",
      "--user",
      "alice",
      "--name",
      "notes",
      "--path",
      link,
      "--pattern",
      "**/*.md",
      "--json",
    );
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({
      user_id: "alice",
      source_id: "notes",
      type: "local_filesystem",
      enabled: true,
      config: { watch_paths: [realpathSync(w.notes)], file_patterns: ["**/*.md"] },
    });

    const list = await w.cli("sources", "list", "--json");
    expect(list.code, show(list)).toBe(0);
    expect(list.json.sources).toHaveLength(1);
    expect(list.json.sources[0]).toMatchObject({ source_id: "notes", type: "local_filesystem" });

    const shown = await w.cli("sources", "show", "--user", "alice", "--name", "notes", "--json");
    expect(shown.code, show(shown)).toBe(0);
    expect(shown.json).toEqual(r.json);

    const plain = await w.cli("sources", "list", "--user", "alice");
    expect(plain.code, show(plain)).toBe(0);
    expect(plain.stdout).toContain("alice/notes (local_filesystem");
  });

  it("sources add refuses a second source of that name, an unknown type, a missing --path and overlapping roots", async () => {
    const w = world();
    await w.addNotes();

    const again = await w.fails(
      "sources",
      "add",
      "fs",
      "--user",
      "alice",
      "--name",
      "notes",
      "--path",
      w.files,
    );
    expect(again.code).toBe("SYNC_E_ALREADY_EXISTS");

    const unknown = await w.fails("sources", "add", "dropbox", "--user", "alice", "--name", "d");
    expect(unknown.code).toBe("SYNC_E_INVALID_ARGUMENT");
    expect(unknown.message).toContain("dropbox");
    expect(unknown.message).toContain("local_filesystem");
    expect(unknown.message).toContain("upload");

    const noPath = await w.fails("sources", "add", "fs", "--user", "alice", "--name", "nopath");
    expect(noPath.code).toBe("SYNC_E_INVALID_ARGUMENT");
    expect(noPath.message).toContain("watch_paths");

    const inner = await w.fails(
      "sources",
      "add",
      "fs",
      "--user",
      "alice",
      "--name",
      "inner",
      "--path",
      join(w.notes, "sub"),
    );
    expect(inner.code).toBe("SYNC_E_INVALID_ARGUMENT");
    expect(inner.message).toContain('"notes"');
    expect(inner.message).toContain(realpathSync(join(w.notes, "sub")));

    // Another user may index the same folder.
    const bob = await w.cli("sources", "add", "fs", "--user", "bob", "--name", "notes", "--path", w.notes);
    expect(bob.code, show(bob)).toBe(0);

    const list = await w.cli("sources", "list", "--user", "alice", "--json");
    expect(list.json.sources.map((s: { source_id: string }) => s.source_id)).toEqual(["notes"]);
  });

  it("sources add makes a relative --path absolute (against the working directory)", async () => {
    const w = world();
    const r = await w.cli(
      "sources",
      "add",
      "fs",
      "--user",
      "alice",
      "--name",
      "rel",
      "--path",
      "notes",
      "--json",
    );
    expect(r.code, show(r)).toBe(0);
    expect(r.json.config.watch_paths).toEqual([realpathSync(w.notes)]);
    const dotted = await w.cli(
      "sources",
      "add",
      "fs",
      "--user",
      "alice",
      "--name",
      "files",
      "--path",
      "./files/",
      "--json",
    );
    expect(dotted.code, show(dotted)).toBe(0);
    expect(dotted.json.config.watch_paths).toEqual([realpathSync(w.files)]);
  });

  it("sync --source syncs a registered source; other paths or an upload source are refused", async () => {
    const w = world();
    await w.addNotes();
    const r = await w.cli("sync", "--user", "alice", "--source", "notes", "--json");
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ added: 2, failed: 0, source: "notes" });
    expect((await w.docs()).map((d) => d.item_key).sort()).toEqual(
      [keyOf(join(w.notes, "harbour.md")), keyOf(join(w.notes, "sub", "orchard.md"))].sort(),
    );

    const other = await w.fails("sync", w.files, "--user", "alice", "--source", "notes");
    expect(other.code).toBe("SYNC_E_INVALID_ARGUMENT");
    expect(other.message).toContain(realpathSync(w.notes));
    expect(other.message).toContain(realpathSync(w.files));

    const up = await w.cli(
      "ingest",
      w.file("a.md", "# A\n\nalpha text\n"),
      "--user",
      "alice",
      "--source",
      "up",
    );
    expect(up.code, show(up)).toBe(0);
    const retyped = await w.fails("sync", w.files, "--user", "alice", "--source", "up");
    expect(retyped.code).toBe("SYNC_E_SOURCE_TYPE");
    expect(retyped.message).toContain('"up"');
    const upDocs = await w.docs("alice", "--source", "up");
    expect(upDocs.map((d) => d.item_key)).toEqual(["a.md"]);

    // An upload source synced by name (no paths) is a plain run of it: nothing changes.
    const byName = await w.cli("sync", "--user", "alice", "--source", "up", "--json");
    expect(byName.code, show(byName)).toBe(0);
    expect(byName.json).toMatchObject({ unchanged: 1, added: 0, deleted: 0 });
  });

  it("ingest adds, then finds the same files unchanged; metadata is searchable; --key takes one file", async () => {
    const w = world();
    const a = w.file("a.md", "# Alpha\n\nThe zanzibarquokka eats bread.\n");
    const b = w.file("b.txt", "Beta notes about the lighthouse.\n");
    const first = await w.cli("ingest", a, b, "--user", "alice", "--json");
    expect(first.code, show(first)).toBe(0);
    expect(first.json.failed).toEqual([]);
    expect(first.json.documents.map((d: { status: string; key: string }) => [d.key, d.status])).toEqual([
      ["a.md", "added"],
      ["b.txt", "added"],
    ]);
    for (const d of first.json.documents) expect(d.chunks).toBeGreaterThan(0);

    const again = await w.cli("ingest", a, b, "--user", "alice", "--json");
    expect(again.code, show(again)).toBe(0);
    expect(again.json.documents.map((d: { status: string }) => d.status)).toEqual(["unchanged", "unchanged"]);
    expect(again.json.documents.map((d: { doc_id: string }) => d.doc_id)).toEqual(
      first.json.documents.map((d: { doc_id: string }) => d.doc_id),
    );

    const c = w.file("c.md", "# Gamma\n\nThe orchard needs new fences.\n");
    const meta = await w.cli("ingest", c, "--user", "alice", "--metadata", '{"team":"x"}', "--json");
    expect(meta.code, show(meta)).toBe(0);
    const hits = await w.search("orchard", "--meta", "team=x");
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((h) => h.doc_id === meta.json.documents[0].doc_id)).toBe(true);
    expect(hits[0]?.metadata).toMatchObject({ team: "x" });
    expect(await w.search("orchard", "--meta", "team=y")).toEqual([]);

    const twoWithKey = await w.fails("ingest", "--key", "k1", a, c, "--user", "alice");
    expect(twoWithKey.code).toBe("SYNC_E_INVALID_ARGUMENT");
    expect(twoWithKey.message).toContain("--key");

    const badMeta = await w.fails("ingest", a, "--user", "alice", "--metadata", "{team");
    expect(badMeta.code).toBe("SYNC_E_INVALID_ARGUMENT");
    expect(badMeta.message).toContain("--metadata");
    for (const notObject of ["[1,2]", "null", '"text"']) {
      const err = await w.fails("ingest", a, c, "--user", "alice", "--metadata", notObject);
      expect(err.code, notObject).toBe("SYNC_E_INVALID_ARGUMENT");
      expect(err.message).toContain("JSON object");
    }

    expect((await w.docs()).length).toBe(3);
  });

  it("ingest refuses an unsupported type (nothing stored) and reports a corrupt PDF by name", async () => {
    const w = world();
    const exe = w.file("tool.exe", "MZ\u0090\u0000 not a document");
    const r = await w.cli("ingest", exe, "--user", "alice", "--json");
    expect(r.code, show(r)).toBe(1);
    expect(r.json.documents).toEqual([]);
    expect(r.json.failed).toHaveLength(1);
    expect(r.json.failed[0]).toMatchObject({ file: exe, code: "SYNC_E_UNSUPPORTED_TYPE" });
    expect(r.json.failed[0].message).toContain("tool.exe");
    expect(await w.docs()).toEqual([]);

    const pdf = w.file("broken.pdf", "%PDF-1.4 garbage");
    const alone = await w.cli("ingest", pdf, "--user", "alice", "--json");
    expect(alone.code, show(alone)).toBe(1);
    expect(alone.json.failed[0]).toMatchObject({ file: pdf, code: "SYNC_E_CORRUPT_FILE" });
    expect(alone.json.failed[0].message).toContain("broken.pdf");
    expect(await w.docs()).toEqual([]);

    const good = w.file("good.md", "# Good\n\nA good document.\n");
    const mixed = await w.cli("ingest", good, pdf, "--user", "alice");
    expect(mixed.code, show(mixed)).toBe(2);
    expect(mixed.stdout).toContain("added");
    expect(mixed.stderr).toContain("SYNC_E_CORRUPT_FILE");
    expect(mixed.stderr).toContain("broken.pdf");
    expect((await w.docs()).map((d) => d.item_key)).toEqual(["good.md"]);

    const missing = await w.cli("ingest", join(w.files, "nope.md"), "--user", "alice", "--json");
    expect(missing.code, show(missing)).toBe(1);
    expect(missing.json.failed[0].code).toBe("SYNC_E_READ_FAILED");
    expect(missing.json.failed[0].message).toContain("nope.md");
  });

  it("documents list, show and delete an upload; another user's document is not found", async () => {
    const w = world();
    const a = w.file("a.md", "# Alpha\n\nThe zanzibarquokka eats bread.\n");
    const up = await w.cli("ingest", a, "--user", "alice", "--metadata", '{"team":"x"}', "--json");
    expect(up.code, show(up)).toBe(0);
    const docId = up.json.documents[0].doc_id as string;

    const list = await w.docs();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ doc_id: docId, source_id: "uploads", item_key: "a.md" });

    const shown = await w.cli("documents", "show", docId, "--user", "alice", "--json");
    expect(shown.code, show(shown)).toBe(0);
    expect(shown.json).toMatchObject({
      doc_id: docId,
      user_id: "alice",
      item_key: "a.md",
      title: "Alpha",
      url: null,
    });
    // Metadata as an object, as in search hits: the file name the library records and the caller's keys.
    expect(shown.json.metadata).toMatchObject({ file_name: "a.md", team: "x" });
    expect(list[0]).toMatchObject({ metadata: { team: "x" } });

    const bob = await w.fails("documents", "show", docId, "--user", "bob");
    expect(bob.code).toBe("SYNC_E_NOT_FOUND");
    const bobDelete = await w.fails("documents", "delete", docId, "--user", "bob");
    expect(bobDelete.code).toBe("SYNC_E_NOT_FOUND");
    expect(await w.docs()).toHaveLength(1);

    expect((await w.search("zanzibarquokka")).length).toBeGreaterThan(0);
    const del = await w.cli("documents", "delete", docId, "--user", "alice", "--json");
    expect(del.code, show(del)).toBe(0);
    expect(del.json).toMatchObject({ doc_id: docId, source_id: "uploads", key: "a.md", deleted: true });
    expect(await w.docs()).toEqual([]);
    expect(await w.search("zanzibarquokka")).toEqual([]);

    const gone = await w.fails("documents", "show", docId, "--user", "alice");
    expect(gone.code).toBe("SYNC_E_NOT_FOUND");

    // Pushed again after its deletion: added afresh.
    const again = await w.cli("ingest", a, "--user", "alice", "--json");
    expect(again.code, show(again)).toBe(0);
    expect(again.json.documents[0]).toMatchObject({ doc_id: docId, status: "added" });
    expect(await w.docs()).toHaveLength(1);
  });

  it("documents delete of a file that still exists is refused; once deleted, the sync removes it", async () => {
    const w = world();
    await w.addNotes();
    const s = await w.cli("sync", "--user", "alice", "--source", "notes", "--json");
    expect(s.code, show(s)).toBe(0);
    const harbour = join(w.notes, "harbour.md");
    const doc = (await w.docs()).find((d) => d.item_key === keyOf(harbour));
    expect(doc).toBeDefined();
    const docId = doc?.doc_id as string;

    const refused = await w.fails("documents", "delete", docId, "--user", "alice");
    expect(refused.code).toBe("SYNC_E_INVALID_ARGUMENT");
    expect(refused.message).toContain(keyOf(harbour));
    expect(refused.message).toContain("delete it");
    expect(refused.message).toContain("ignore pattern");
    expect((await w.docs()).map((d) => d.doc_id)).toContain(docId);
    expect((await w.search("harbour")).length).toBeGreaterThan(0);

    // `documents delete` after deleting the file does not work yet (the fs source cannot confirm a file gone:
    // FsSource has no confirmGone); the next sync removes it.
    rmSync(harbour);
    const next = await w.cli("sync", "--user", "alice", "--source", "notes", "--json");
    expect(next.code, show(next)).toBe(0);
    expect(next.json).toMatchObject({ added: 0, deleted: 1, unchanged: 1 });
    expect((await w.docs()).map((d) => d.item_key)).toEqual([keyOf(join(w.notes, "sub", "orchard.md"))]);
    expect(await w.search("harbour")).toEqual([]);
    const gone = await w.fails("documents", "delete", docId, "--user", "alice");
    expect(gone.code).toBe("SYNC_E_NOT_FOUND");
  });

  it("sources remove deletes exactly that source's rows; --keep-documents leaves orphans to delete one by one", async () => {
    const w = world();
    await w.addNotes();
    expect((await w.cli("sync", "--user", "alice", "--source", "notes")).code).toBe(0);
    const up = await w.cli("ingest", w.file("a.md", "# Alpha\n\nalpha text\n"), "--user", "alice", "--json");
    expect(up.code, show(up)).toBe(0);
    const before = await w.cli("status", "--json");
    expect(before.code, show(before)).toBe(0);
    expect(before.json.documents).toBe(3);

    const removed = await w.cli("sources", "remove", "--user", "alice", "--name", "notes", "--json");
    expect(removed.code, show(removed)).toBe(0);
    expect(removed.json).toMatchObject({
      user_id: "alice",
      source_id: "notes",
      documents: 2,
      kept_documents: false,
    });
    expect(removed.json.chunks).toBeGreaterThan(0);
    expect((await w.docs()).map((d) => d.source_id)).toEqual(["uploads"]);
    const after = await w.cli("status", "--json");
    expect(after.json.documents).toBe(1);
    expect(after.json.chunks).toBe(before.json.chunks - removed.json.chunks);
    const gone = await w.fails("sources", "show", "--user", "alice", "--name", "notes");
    expect(gone.code).toBe("SYNC_E_NOT_FOUND");

    // Again, keeping the documents: they stay listed and searchable, and can be deleted one by one.
    await w.addNotes();
    expect((await w.cli("sync", "--user", "alice", "--source", "notes")).code).toBe(0);
    const kept = await w.cli(
      "sources",
      "remove",
      "--user",
      "alice",
      "--name",
      "notes",
      "--keep-documents",
      "--json",
    );
    expect(kept.code, show(kept)).toBe(0);
    expect(kept.json).toMatchObject({ documents: 0, chunks: 0, kept_documents: true });
    const orphans = (await w.docs()).filter((d) => d.source_id === "notes");
    expect(orphans).toHaveLength(2);
    expect((await w.search("harbour")).length).toBeGreaterThan(0);
    for (const o of orphans) {
      const del = await w.cli("documents", "delete", o.doc_id, "--user", "alice", "--json");
      expect(del.code, show(del)).toBe(0);
    }
    expect((await w.docs()).map((d) => d.source_id)).toEqual(["uploads"]);
    expect(await w.search("harbour")).toEqual([]);
    const last = await w.cli("status", "--json");
    expect(last.json.documents).toBe(1);
  });

  it("documents list refuses a --limit or --offset that is not a whole number in range", async () => {
    const w = world();
    for (const args of [
      ["--limit", "abc"],
      ["--limit", "0"],
      ["--offset", "-1"],
      ["--offset=-1"],
      ["--limit", "2.5"],
    ]) {
      const err = await w.fails("documents", "list", "--user", "alice", ...args);
      expect(err.code, args.join(" ")).toBe("SYNC_E_INVALID_ARGUMENT");
      expect(err.message).toMatch(/--limit|--offset/);
    }
    const ok = await w.cli("documents", "list", "--user", "alice", "--limit", "5", "--offset", "0", "--json");
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.json.documents).toEqual([]);
  });
});
