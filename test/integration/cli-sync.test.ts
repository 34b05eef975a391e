import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { makeDocx } from "../fixtures/make-docx.js";
import { makePdf } from "../fixtures/make-pdf.js";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import {
  type CliEnv,
  envFor,
  expectStoreMatchesFiles,
  journalItems,
  keyOf,
  listFiles,
  makeText,
  prng,
  readTables,
  show,
  sleep,
  spawnCli,
} from "./support.js";

/** Long markdown: several chunks at the default TEXT_CHUNK_SIZE. */
function guideText(): string {
  return `# Field Guide\n\n${makeText(prng(3), 6000, "guide")}`;
}

describe("sync as a user would run it: mixed formats, failures, edits, moves, copies, deletes", () => {
  const good = ["guide.md", "notes.txt", "page.html", "report.pdf", "letter.docx"];
  const temps: Array<{ cleanup: () => void }> = [];
  afterEach(() => {
    for (const t of temps.splice(0)) t.cleanup();
  });

  /**
   * A fresh temp dir with the five good files (Markdown, text, HTML, PDF, DOCX) and, when `failing`, a corrupt
   * and an encrypted PDF. Every test builds its own and reaches its starting state with the stage helpers below.
   */
  async function corpus({ failing }: { failing: boolean }) {
    const tmp = makeTempDir("lancedb-sync-cli-");
    temps.push(tmp);
    const docs = join(tmp.path, "docs");
    const env = envFor(tmp.path);
    const p = (name: string) => join(docs, name);
    mkdirSync(docs);
    writeFileSync(p("guide.md"), guideText());
    writeFileSync(p("notes.txt"), "Shopping notes. Buy zanzibarquokka food and fresh bread.\n");
    writeFileSync(
      p("page.html"),
      "<html><head><title>Harbour Page</title></head><body><h1>Harbour</h1><p>The harbour opens at dawn.</p></body></html>",
    );
    writeFileSync(p("report.pdf"), await makePdf(["Quarterly report on lighthouse maintenance."]));
    writeFileSync(p("letter.docx"), await makeDocx(["Dear committee,", "the orchard needs new fences."]));
    if (failing) {
      writeFileSync(
        p("broken.pdf"),
        "%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref or trailer",
      );
      writeFileSync(p("secret.pdf"), await makePdf(["Top secret plans"], { userPassword: "hunter2" }));
    }
    const sync = (...extra: string[]) =>
      runCli(["sync", docs, "--user", "alice", "--json", ...extra], { cwd: tmp.path, env });
    const status = async () => {
      const r = await runCli(["status", "--json"], { cwd: tmp.path, env });
      expect(r.code, show(r)).toBe(0);
      return r.json;
    };
    return { dir: tmp.path, docs, env, p, sync, status };
  }
  type World = Awaited<ReturnType<typeof corpus>>;

  /** Stage 1: the mixed corpus after its first sync (five added, two failed). */
  async function afterFirstSync(): Promise<World> {
    const w = await corpus({ failing: true });
    const r = await w.sync();
    expect(r.code, show(r)).toBe(2);
    expect(r.json).toMatchObject({ added: good.length, failed: 2 });
    return w;
  }

  /** Stage 2: after a second sync (the two failures retried, attempts 2). */
  async function afterSecondSync(): Promise<World> {
    const w = await afterFirstSync();
    const r = await w.sync();
    expect(r.code, show(r)).toBe(2);
    expect(r.json).toMatchObject({ unchanged: good.length, failed: 2 });
    return w;
  }

  /** Stage 3: the corrupt PDF repaired and synced; only the encrypted one still fails (attempts 3). */
  async function afterRepair(): Promise<World> {
    const w = await afterSecondSync();
    writeFileSync(w.p("broken.pdf"), await makePdf(["Repaired document about tidal charts."]));
    const r = await w.sync();
    expect(r.code, show(r)).toBe(2);
    expect(r.json).toMatchObject({ added: 1, unchanged: good.length, failed: 1 });
    return w;
  }

  /** The five good files synced cleanly (exit 0), the store matching the folder. */
  async function cleanStore(): Promise<World> {
    const w = await corpus({ failing: false });
    const r = await w.sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ added: good.length, failed: 0 });
    await expectStoreMatchesFiles(w.env, listFiles(w.docs), { userId: "alice" });
    return w;
  }

  it("first sync: adds the good files, reports the corrupt and the encrypted PDF, exits 2", async () => {
    const { env, p, sync, status } = await corpus({ failing: true });
    const r = await sync();
    expect(r.code, show(r)).toBe(2);
    expect(r.json).toMatchObject({ added: good.length, failed: 2, updated: 0, deleted: 0, listed: 7 });
    const byKey = Object.fromEntries(r.json.failures.map((f: { key: string }) => [f.key, f]));
    expect(Object.keys(byKey).sort()).toEqual([keyOf(p("broken.pdf")), keyOf(p("secret.pdf"))]);
    expect(byKey[keyOf(p("broken.pdf"))]).toMatchObject({ code: "SYNC_E_CORRUPT_FILE" });
    expect(byKey[keyOf(p("broken.pdf"))].error).toContain("broken.pdf");
    expect(byKey[keyOf(p("secret.pdf"))]).toMatchObject({ code: "SYNC_E_ENCRYPTED_FILE" });
    expect(byKey[keyOf(p("secret.pdf"))].error).toContain("secret.pdf");

    const { docs: rows, chunks } = await readTables(env.LANCEDB_URI);
    expect(rows.map((d) => d.item_key).sort()).toEqual(good.map((g) => keyOf(p(g))).sort());
    expect(rows.find((d) => d.item_key === keyOf(p("page.html")))?.title).toBe("Harbour Page");
    expect(rows.find((d) => d.item_key === keyOf(p("guide.md")))?.title).toBe("Field Guide");
    expect(chunks.some((c) => c.text.includes("lighthouse maintenance"))).toBe(true);
    expect(chunks.some((c) => c.text.includes("orchard needs new fences"))).toBe(true);

    const s = await status();
    expect(s.documents).toBe(good.length);
    expect(s.chunks).toBe(chunks.length);
    expect(s.failed).toBe(2);
    expect(s.pending).toBe(0);
    expect(s.tables.map((t: { name: string }) => t.name).sort()).toEqual([
      "document_chunks",
      "processed_documents",
    ]);
    for (const t of s.tables) {
      expect(t.version).toBeGreaterThanOrEqual(1);
      expect(t.versions).toBeGreaterThanOrEqual(1);
      expect(t.versions).toBeLessThanOrEqual(t.version);
      expect(t.fragments).toBeGreaterThanOrEqual(1);
      expect(t.fragments, `${t.name}: no empty fragments`).toBeLessThanOrEqual(t.rows);
      expect(t.small_fragments).toBeGreaterThanOrEqual(1);
      expect(t.small_fragments).toBeLessThanOrEqual(t.fragments);
      expect(t.rows).toBe(t.name === "document_chunks" ? chunks.length : good.length);
    }
    expect(s.last_run).toMatchObject({ user_id: "alice", status: "partial" });
    expect(s.last_run.stats).toMatchObject({ added: good.length, failed: 2 });
    expect(s.failures.map((f: { attempts: number }) => f.attempts)).toEqual([1, 1]);
  });

  it("second sync: nothing re-embedded, the failed items are retried (attempts 2)", async () => {
    const { p, sync, status } = await afterFirstSync();
    const r = await sync();
    expect(r.code, show(r)).toBe(2);
    expect(r.json).toMatchObject({
      unchanged: good.length,
      added: 0,
      updated: 0,
      embedded_chunks: 0,
      failed: 2,
    });
    const s = await status();
    expect(s.failed).toBe(2);
    expect(s.failures.map((f: { attempts: number }) => f.attempts)).toEqual([2, 2]);
    expect(s.failures.map((f: { key: string }) => f.key).sort()).toEqual(
      [keyOf(p("broken.pdf")), keyOf(p("secret.pdf"))].sort(),
    );
  });

  it("fixing the corrupt file adds it on the next run and drops its failure", async () => {
    const { p, sync, status } = await afterSecondSync();
    writeFileSync(p("broken.pdf"), await makePdf(["Repaired document about tidal charts."]));
    const r = await sync();
    expect(r.code, show(r)).toBe(2);
    expect(r.json).toMatchObject({ added: 1, unchanged: good.length, failed: 1, embedded_chunks: 1 });
    expect(r.json.failures.map((f: { key: string }) => f.key)).toEqual([keyOf(p("secret.pdf"))]);
    const s = await status();
    expect(s.failed).toBe(1);
    expect(s.documents).toBe(good.length + 1);
    expect(s.failures[0]).toMatchObject({ key: keyOf(p("secret.pdf")), attempts: 3 });
  });

  it("cleanup-failed clears the rest; the item is then retried from scratch", async () => {
    const { dir, docs, env, p, sync, status } = await afterRepair();
    expect((await status()).failures).toEqual([
      expect.objectContaining({ key: keyOf(p("secret.pdf")), attempts: 3 }),
    ]);
    const c = await runCli(["cleanup-failed", "--json"], { cwd: dir, env });
    expect(c.code, show(c)).toBe(0);
    expect(c.json).toEqual({ cleared: 1 });
    expect((await status()).failed).toBe(0);

    const r = await sync();
    expect(r.code, show(r)).toBe(2);
    expect(r.json.failed).toBe(1);
    const s = await status();
    expect(s.failures).toHaveLength(1);
    expect(s.failures[0]).toMatchObject({ key: keyOf(p("secret.pdf")), attempts: 1 });

    rmSync(p("secret.pdf"));
    const clean = await sync();
    expect(clean.code, show(clean)).toBe(0);
    expect(clean.json).toMatchObject({ failed: 0, deleted: 0, unchanged: good.length + 1 });
    expect((await status()).failed).toBe(0);
    await expectStoreMatchesFiles(env, listFiles(docs), { userId: "alice" });
  });

  it("editing a file (appending a paragraph) updates it and re-embeds only the changed chunks", async () => {
    const { docs, env, p, sync } = await cleanStore();
    const before = (await readTables(env.LANCEDB_URI)).docs.find((d) => d.item_key === keyOf(p("guide.md")));
    expect(before?.chunk_count).toBeGreaterThan(3);
    appendFileSync(p("guide.md"), "\n\nA new closing paragraph about the quiet pelican migration.\n");
    const r = await sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ updated: 1, added: 0, deleted: 0, moved: 0 });
    const after = (await readTables(env.LANCEDB_URI)).docs.find((d) => d.item_key === keyOf(p("guide.md")));
    expect(r.json.embedded_chunks).toBeGreaterThanOrEqual(1);
    expect(r.json.embedded_chunks).toBeLessThan(after?.chunk_count as number);
    expect(r.json.reused_chunks).toBeGreaterThan(0);
    await expectStoreMatchesFiles(env, listFiles(docs), { userId: "alice" });
  });

  it("renaming a file is a move: nothing embedded, found under the new path only", async () => {
    const { dir, docs, env, p, sync } = await cleanStore();
    renameSync(p("notes.txt"), p("shopping-notes.txt"));
    const r = await sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ moved: 1, added: 0, deleted: 0, updated: 0, embedded_chunks: 0 });

    const q = await runCli(["search", "zanzibarquokka", "--user", "alice", "--mode", "fts", "--json"], {
      cwd: dir,
      env,
    });
    expect(q.code, show(q)).toBe(0);
    expect(q.json.hits.length).toBeGreaterThan(0);
    expect(q.json.hits[0].item_key).toBe(keyOf(p("shopping-notes.txt")));
    for (const h of q.json.hits) expect(h.item_key).not.toBe(keyOf(p("notes.txt")));

    const { docs: rows, chunks } = await readTables(env.LANCEDB_URI);
    expect(rows.filter((d) => d.item_key === keyOf(p("notes.txt")))).toEqual([]);
    expect(chunks.filter((c) => c.item_key === keyOf(p("notes.txt")))).toEqual([]);
    await expectStoreMatchesFiles(env, listFiles(docs), { userId: "alice" });
  });

  it("copying a file adds it without embedding anything", async () => {
    const { docs, env, p, sync } = await cleanStore();
    copyFileSync(p("guide.md"), p("guide-copy.md"));
    const r = await sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ added: 1, moved: 0, deleted: 0, updated: 0, embedded_chunks: 0 });
    const { docs: rows } = await readTables(env.LANCEDB_URI);
    const orig = rows.find((d) => d.item_key === keyOf(p("guide.md")));
    const copy = rows.find((d) => d.item_key === keyOf(p("guide-copy.md")));
    expect(copy?.content_hash).toBe(orig?.content_hash);
    expect(copy?.doc_id).not.toBe(orig?.doc_id);
    await expectStoreMatchesFiles(env, listFiles(docs), { userId: "alice" });
  });

  it("deleting a file removes its rows from both tables", async () => {
    const { docs, env, p, sync } = await cleanStore();
    const { docs: before } = await readTables(env.LANCEDB_URI);
    const gone = before.find((d) => d.item_key === keyOf(p("page.html")));
    expect(gone).toBeDefined();
    rmSync(p("page.html"));
    const r = await sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ deleted: 1, added: 0, moved: 0, updated: 0, held_deletions: 0 });
    const { docs: rows, chunks } = await readTables(env.LANCEDB_URI);
    expect(rows.filter((d) => d.doc_id === gone?.doc_id)).toEqual([]);
    expect(chunks.filter((c) => c.doc_id === gone?.doc_id)).toEqual([]);
    await expectStoreMatchesFiles(env, listFiles(docs), { userId: "alice" });
  });

  it("compact after several syncs: strictly fewer fragments and versions, every row kept", async () => {
    const { dir, docs, env, p, sync, status } = await cleanStore();
    for (let round = 0; round < 3; round++) {
      appendFileSync(p("notes.txt"), `Round ${round}: also buy pelicanberry jam.\n`);
      writeFileSync(p(`extra-${round}.txt`), `Extra note ${round} about the harbour ferries.\n`);
      const r = await sync();
      expect(r.code, show(r)).toBe(0);
      expect(r.json).toMatchObject({ added: 1, updated: 1, failed: 0 });
    }
    const before = await status();
    const tablesBefore = await readTables(env.LANCEDB_URI);

    const c = await runCli(["compact", "--retention-hours", "0", "--json"], { cwd: dir, env });
    expect(c.code, show(c)).toBe(0);
    const after = await status();
    for (const name of ["processed_documents", "document_chunks"]) {
      const b = before.tables.find((t: { name: string }) => t.name === name);
      const a = after.tables.find((t: { name: string }) => t.name === name);
      // Four syncs appended to each table: several small fragments, several versions.
      expect(b.fragments, name).toBeGreaterThanOrEqual(3);
      expect(b.versions, name).toBeGreaterThanOrEqual(4);
      expect(a.fragments, name).toBeLessThan(b.fragments);
      expect(a.fragments, name).toBe(1);
      expect(a.versions, name).toBeLessThan(b.versions);
      expect(a.versions, name).toBeLessThanOrEqual(a.version - b.version + 1);
      expect(a.rows, name).toBe(b.rows);
    }
    expect(after.documents).toBe(before.documents);
    expect(after.chunks).toBe(before.chunks);
    const tablesAfter = await readTables(env.LANCEDB_URI);
    expect(tablesAfter.chunks.map((ch) => ch.chunk_id).sort()).toEqual(
      tablesBefore.chunks.map((ch) => ch.chunk_id).sort(),
    );
    await expectStoreMatchesFiles(env, listFiles(docs), { userId: "alice" });
    const again = await sync();
    expect(again.code, show(again)).toBe(0);
    expect(again.json).toMatchObject({
      unchanged: good.length + 3,
      added: 0,
      updated: 0,
      embedded_chunks: 0,
    });
  });
});

describe("what a sync reads", () => {
  it("skips dot-files, node_modules and unsupported types; touching a file re-embeds nothing", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path);
      const dir = join(tmp.path, "docs");
      mkdirSync(join(dir, ".git"), { recursive: true });
      mkdirSync(join(dir, "node_modules", "pkg"), { recursive: true });
      writeFileSync(join(dir, "kept.md"), "# Kept\n\nvisible text\n");
      writeFileSync(join(dir, ".hidden.md"), "# Hidden\n");
      writeFileSync(join(dir, ".git", "HEAD.txt"), "ref: main\n");
      writeFileSync(join(dir, "node_modules", "pkg", "README.md"), "# pkg\n");
      writeFileSync(join(dir, "data.json"), "{}");
      writeFileSync(join(dir, "image.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
      const sync = () => runCli(["sync", dir, "--user", "alice", "--json"], { cwd: tmp.path, env });
      const r = await sync();
      expect(r.code, show(r)).toBe(0);
      expect(r.json).toMatchObject({ listed: 1, added: 1 });

      const later = new Date(Date.now() + 60_000);
      utimesSync(join(dir, "kept.md"), later, later);
      const t = await sync();
      expect(t.code, show(t)).toBe(0);
      expect(t.json).toMatchObject({ unchanged: 1, updated: 0, embedded_chunks: 0 });
      await expectStoreMatchesFiles(
        env,
        listFiles(dir).filter((f) => f.endsWith("kept.md")),
        {
          userId: "alice",
        },
      );
    } finally {
      tmp.cleanup();
    }
  });

  it("a file over MAX_FILE_SIZE_MB fails with SYNC_E_FILE_TOO_LARGE; the others are synced", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path, { MAX_FILE_SIZE_MB: "0.002" });
      const dir = join(tmp.path, "docs");
      mkdirSync(dir);
      writeFileSync(join(dir, "small.txt"), "small file\n");
      writeFileSync(join(dir, "big.txt"), "x ".repeat(5000));
      const r = await runCli(["sync", dir, "--user", "alice", "--json"], { cwd: tmp.path, env });
      expect(r.code, show(r)).toBe(2);
      expect(r.json).toMatchObject({ added: 1, failed: 1 });
      expect(r.json.failures[0]).toMatchObject({
        key: keyOf(join(dir, "big.txt")),
        code: "SYNC_E_FILE_TOO_LARGE",
      });
    } finally {
      tmp.cleanup();
    }
  });
});

describe("MAX_RETRY_ATTEMPTS", () => {
  it("stops retrying an unchanged failing file, and retries it once it changes", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path, { MAX_RETRY_ATTEMPTS: "2" });
      const dir = join(tmp.path, "docs");
      mkdirSync(dir);
      writeFileSync(join(dir, "ok.txt"), "fine\n");
      writeFileSync(join(dir, "bad.pdf"), "%PDF-1.4 not really a pdf");
      const sync = () => runCli(["sync", dir, "--user", "alice", "--json"], { cwd: tmp.path, env });
      expect((await sync()).json).toMatchObject({ failed: 1, given_up: 0 });
      expect((await sync()).json).toMatchObject({ failed: 1, given_up: 0 });
      const third = await sync();
      expect(third.json).toMatchObject({ failed: 0, given_up: 1, unchanged: 1 });
      const s = await runCli(["status", "--json"], { cwd: tmp.path, env });
      expect(s.json.failures).toEqual([
        expect.objectContaining({ attempts: 2, code: "SYNC_E_CORRUPT_FILE" }),
      ]);

      writeFileSync(join(dir, "bad.pdf"), await makePdf(["Now a real PDF."]));
      const fixed = await sync();
      expect(fixed.code, show(fixed)).toBe(0);
      expect(fixed.json).toMatchObject({ added: 1, failed: 0, given_up: 0 });
      await expectStoreMatchesFiles(env, listFiles(dir), { userId: "alice" });
    } finally {
      tmp.cleanup();
    }
  });
});

describe("cleanup-failed scoping", () => {
  it("--user/--source clear only that scope; --source without --user never clears everything", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path);
      const failures = async () => {
        const s = await runCli(["status", "--json"], { cwd: tmp.path, env });
        return (s.json.failures as Array<{ user_id: string; source: string }>)
          .map((f) => `${f.user_id}/${f.source}`)
          .sort();
      };
      for (const [user, source] of [
        ["alice", "s1"],
        ["alice", "s2"],
        ["bob", "s1"],
      ] as const) {
        const dir = join(tmp.path, `${user}-${source}`);
        mkdirSync(dir);
        writeFileSync(join(dir, "ok.txt"), "fine\n");
        writeFileSync(join(dir, "bad.pdf"), "%PDF-1.4 not really");
        const r = await runCli(["sync", dir, "--user", user, "--source", source, "--json"], {
          cwd: tmp.path,
          env,
        });
        expect(r.code, show(r)).toBe(2);
      }
      expect(await failures()).toEqual(["alice/s1", "alice/s2", "bob/s1"]);

      const scoped = await runCli(["cleanup-failed", "--user", "alice", "--source", "s1", "--json"], {
        cwd: tmp.path,
        env,
      });
      expect(scoped.json).toEqual({ cleared: 1 });
      expect(await failures()).toEqual(["alice/s2", "bob/s1"]);

      // --source alone: either refused, or limited to that source name; never every failure.
      const loose = await runCli(["cleanup-failed", "--source", "s2", "--json"], { cwd: tmp.path, env });
      if (loose.code === 0) {
        expect(await failures()).toEqual(["bob/s1"]);
      } else {
        expect(loose.json.error.code).toBe("SYNC_E_INVALID_ARGUMENT");
        expect(await failures()).toEqual(["alice/s2", "bob/s1"]);
      }

      const user = await runCli(["cleanup-failed", "--user", "bob", "--json"], { cwd: tmp.path, env });
      expect(user.json).toEqual({ cleared: 1 });
    } finally {
      tmp.cleanup();
    }
  });
});

describe("a source whose root disappeared", () => {
  it("fails with SYNC_E_SOURCE_UNAVAILABLE and deletes nothing; recovers when the root is back", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path);
      const dir = join(tmp.path, "share");
      mkdirSync(dir);
      for (let i = 0; i < 4; i++) writeFileSync(join(dir, `n${i}.md`), `# Note ${i}\n\nSome text ${i}.\n`);
      const first = await runCli(["sync", dir, "--user", "alice", "--source", "s1", "--json"], {
        cwd: tmp.path,
        env,
      });
      expect(first.code, show(first)).toBe(0);
      expect(first.json.added).toBe(4);

      renameSync(dir, join(tmp.path, "share-away"));
      const r = await runCli(["sync", "--user", "alice", "--source", "s1", "--json"], { cwd: tmp.path, env });
      expect(r.code, show(r)).toBe(1);
      expect(r.json.error.code).toBe("SYNC_E_SOURCE_UNAVAILABLE");
      expect(r.stderr).toContain("SYNC_E_SOURCE_UNAVAILABLE");
      const { docs, chunks } = await readTables(env.LANCEDB_URI);
      expect(docs).toHaveLength(4);
      expect(chunks).toHaveLength(4);

      const s = await runCli(["status", "--json"], { cwd: tmp.path, env });
      expect(s.json.documents).toBe(4);
      expect(s.json.sources).toEqual([expect.objectContaining({ name: "s1", healthy: false })]);
      expect(s.json.last_run).toMatchObject({ source: "s1", status: "failed" });

      renameSync(join(tmp.path, "share-away"), dir);
      const back = await runCli(["sync", "--user", "alice", "--source", "s1", "--json"], {
        cwd: tmp.path,
        env,
      });
      expect(back.code, show(back)).toBe(0);
      expect(back.json).toMatchObject({ unchanged: 4, deleted: 0, added: 0 });
      await expectStoreMatchesFiles(env, listFiles(dir), { userId: "alice", sourceId: "s1" });
    } finally {
      tmp.cleanup();
    }
  });
});

describe("the mass-delete guard", () => {
  it("holds 6 of 10 deletions (exit 3) until --allow-mass-delete", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path);
      const dir = join(tmp.path, "docs");
      mkdirSync(dir);
      for (let i = 0; i < 10; i++) writeFileSync(join(dir, `f${i}.txt`), `file number ${i} about kites\n`);
      const sync = (...extra: string[]) =>
        runCli(["sync", dir, "--user", "alice", "--json", ...extra], { cwd: tmp.path, env });
      expect((await sync()).json.added).toBe(10);

      for (let i = 0; i < 6; i++) rmSync(join(dir, `f${i}.txt`));
      const held = await sync();
      expect(held.code, show(held)).toBe(3);
      expect(held.json).toMatchObject({ held_deletions: 6, deleted: 0, unchanged: 4 });
      expect(held.json.warnings.join(" ")).toContain("--allow-mass-delete");
      expect((await readTables(env.LANCEDB_URI)).docs).toHaveLength(10);

      const again = await sync();
      expect(again.code, show(again)).toBe(3);
      expect((await readTables(env.LANCEDB_URI)).docs).toHaveLength(10);

      const allowed = await sync("--allow-mass-delete");
      expect(allowed.code, show(allowed)).toBe(0);
      expect(allowed.json).toMatchObject({ deleted: 6, held_deletions: 0 });
      await expectStoreMatchesFiles(env, listFiles(dir), { userId: "alice" });

      // An emptied folder (the root still exists: an unmounted mount point looks like this) is the source
      // being unavailable, whatever the share: nothing is deleted, the source turns unhealthy.
      for (let i = 6; i < 10; i++) rmSync(join(dir, `f${i}.txt`));
      const emptied = await sync();
      expect(emptied.code, show(emptied)).toBe(1);
      expect(emptied.json.error.code).toBe("SYNC_E_SOURCE_UNAVAILABLE");
      expect(emptied.json.error.message).toMatch(/lists no item but 4 documents were synced from it/);
      expect((await readTables(env.LANCEDB_URI)).docs).toHaveLength(4);
      const stillHeld = await sync("--allow-mass-delete");
      expect(stillHeld.code, show(stillHeld)).toBe(1);
      expect(stillHeld.json.error.message).toContain("--allow-empty-root");
      const cleared = await sync("--allow-empty-root", "--allow-mass-delete");
      expect(cleared.code, show(cleared)).toBe(0);
      expect(cleared.json).toMatchObject({ deleted: 4 });
      const { docs: rows, chunks } = await readTables(env.LANCEDB_URI);
      expect(rows).toEqual([]);
      expect(chunks).toEqual([]);
    } finally {
      tmp.cleanup();
    }
  });
});

describe("moving a folder", () => {
  it("is a move of every file in it, not a mass delete, and embeds nothing", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path);
      const dir = join(tmp.path, "docs");
      mkdirSync(join(dir, "projects"), { recursive: true });
      mkdirSync(join(dir, "archive"));
      const rand = prng(12);
      for (let i = 0; i < 8; i++)
        writeFileSync(join(dir, "projects", `p${i}.md`), makeText(rand, 1800, `p${i}`));
      for (let i = 0; i < 2; i++) writeFileSync(join(dir, `top${i}.txt`), makeText(rand, 800, `top${i}`));
      const sync = () => runCli(["sync", dir, "--user", "alice", "--json"], { cwd: tmp.path, env });
      expect((await sync()).code).toBe(0);

      renameSync(join(dir, "projects"), join(dir, "archive", "projects-2024"));
      const r = await sync();
      expect(r.code, show(r)).toBe(0);
      expect(r.json).toMatchObject({
        moved: 8,
        added: 0,
        deleted: 0,
        held_deletions: 0,
        unchanged: 2,
        embedded_chunks: 0,
      });
      await expectStoreMatchesFiles(env, listFiles(dir), { userId: "alice" });
    } finally {
      tmp.cleanup();
    }
  });
});

describe("--pattern", () => {
  it('"**/*.md" syncs only Markdown files, nested ones included', async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path);
      const dir = join(tmp.path, "docs");
      mkdirSync(join(dir, "sub", "deeper"), { recursive: true });
      writeFileSync(join(dir, "a.md"), "# A\n\nalpha\n");
      writeFileSync(join(dir, "sub", "b.md"), "# B\n\nbravo\n");
      writeFileSync(join(dir, "sub", "deeper", "c.MD"), "# C\n\ncharlie\n");
      writeFileSync(join(dir, "d.txt"), "delta\n");
      writeFileSync(join(dir, "sub", "e.html"), "<p>echo</p>");
      const r = await runCli(["sync", dir, "--user", "alice", "--pattern", "**/*.md", "--json"], {
        cwd: tmp.path,
        env,
      });
      expect(r.code, show(r)).toBe(0);
      expect(r.json).toMatchObject({ listed: 3, added: 3 });
      const { docs } = await readTables(env.LANCEDB_URI);
      expect(docs.map((d) => d.item_key).sort()).toEqual(
        [join(dir, "a.md"), join(dir, "sub", "b.md"), join(dir, "sub", "deeper", "c.MD")].map(keyOf).sort(),
      );

      // The patterns are remembered with the source: a rerun by name lists the same files.
      const again = await runCli(["sync", "--user", "alice", "--source", r.json.source, "--json"], {
        cwd: tmp.path,
        env,
      });
      expect(again.code, show(again)).toBe(0);
      expect(again.json).toMatchObject({ listed: 3, unchanged: 3, deleted: 0 });
    } finally {
      tmp.cleanup();
    }
  });
});

describe("file names with quotes, spaces and non-ASCII letters", () => {
  it("are synced, renamed and deleted like any other", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path);
      const dir = join(tmp.path, "docs");
      mkdirSync(join(dir, "it's a folder"), { recursive: true });
      const names = [
        "o'brien's notes.md",
        "naïve café.txt",
        "semi;colon -- dash.txt",
        "it's a folder/x' OR '1'='1.md",
      ];
      for (const [i, n] of names.entries()) {
        writeFileSync(join(dir, n), `# Title ${i}\n\nbody number ${i} with pelicans\n`);
      }
      const sync = () => runCli(["sync", dir, "--user", "alice", "--json"], { cwd: tmp.path, env });
      const r = await sync();
      expect(r.code, show(r)).toBe(0);
      expect(r.json.added).toBe(names.length);
      await expectStoreMatchesFiles(env, listFiles(dir), { userId: "alice" });

      renameSync(join(dir, "o'brien's notes.md"), join(dir, "o'neill's notes.md"));
      rmSync(join(dir, "naïve café.txt"));
      const r2 = await sync();
      expect(r2.code, show(r2)).toBe(0);
      expect(r2.json).toMatchObject({ moved: 1, deleted: 1, added: 0 });
      await expectStoreMatchesFiles(env, listFiles(dir), { userId: "alice" });
    } finally {
      tmp.cleanup();
    }
  });
});

describe("two syncs of the same source at the same time", () => {
  /**
   * Deterministic interleaving: run A is frozen (SIGSTOP) once `frozenWhen` holds plus `settleMs`, before it
   * writes anything; run B then syncs the same changes to completion; then A resumes. Whatever the product
   * does about overlapping runs (a per-source lock that makes one wait or fail, or idempotent writes), the end
   * state must hold each file exactly once.
   */
  async function overlap(
    args: string[],
    cwd: string,
    env: CliEnv,
    frozenWhen: () => boolean,
    settleMs: number,
  ): Promise<void> {
    const a = spawnCli(args, { cwd, env });
    let b: Awaited<ReturnType<typeof runCli>> | undefined;
    let frozenBeforeWriting = false;
    try {
      const deadline = Date.now() + 20_000;
      while (!frozenWhen() && Date.now() < deadline) await sleep(1);
      await sleep(settleMs);
      a.child.kill("SIGSTOP");
      const pending = existsSync(env.STATE_DB_PATH)
        ? journalItems(env.STATE_DB_PATH).filter((i) => i.status === "pending").length
        : 0;
      const { docs: rows } = await readTables(env.LANCEDB_URI);
      frozenBeforeWriting = pending === 0 && rows.length <= 1;
      b = await runCli(args, { cwd, env });
    } finally {
      a.child.kill("SIGCONT");
    }
    const ra = await a.done;
    expect(frozenBeforeWriting, "run A was frozen before its first write").toBe(true);
    expect([0, 1], show(ra)).toContain(ra.code);
    expect([0, 1], show(b)).toContain(b.code);
  }

  it("new files in a non-empty store: an overlapping run neither duplicates documents nor chunks", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path);
      const dir = join(tmp.path, "docs");
      mkdirSync(dir);
      writeFileSync(join(dir, "seed.txt"), "the first note\n");
      const args = ["sync", dir, "--user", "alice", "--source", "shared", "--json"];
      expect((await runCli(args, { cwd: tmp.path, env })).code).toBe(0);
      const rand = prng(8);
      for (let i = 0; i < 100; i++) writeFileSync(join(dir, `n${i}.txt`), makeText(rand, 1500, `n${i}`));

      const journal = new Database(env.STATE_DB_PATH, { readonly: true });
      try {
        const running = journal.prepare("SELECT count(*) AS n FROM runs WHERE status = 'running'");
        // A lists and reads the journal within a few ms of starting its run; its first write is much later.
        await overlap(args, tmp.path, env, () => (running.get() as { n: number }).n > 0, 25);
      } finally {
        journal.close();
      }
      const last = await runCli(args, { cwd: tmp.path, env });
      expect(last.code, show(last)).toBe(0);
      await expectStoreMatchesFiles(env, listFiles(dir), { userId: "alice", sourceId: "shared" });
    } finally {
      tmp.cleanup();
    }
  });

  it("a first sync into an empty store: an overlapping run neither duplicates documents nor chunks", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path);
      const dir = join(tmp.path, "docs");
      mkdirSync(dir);
      const rand = prng(9);
      for (let i = 0; i < 150; i++) writeFileSync(join(dir, `n${i}.txt`), makeText(rand, 1500, `n${i}`));
      // Parsing the first PDF loads pdf.js: it keeps run A busy between opening the store and writing.
      writeFileSync(join(dir, "report.pdf"), await makePdf(["A short report about overlapping runs."]));
      const args = ["sync", dir, "--user", "alice", "--source", "shared", "--json"];
      // A creates the tables, checks whether the store is empty (one count), then reads and parses every file.
      const tables = join(env.LANCEDB_URI, "document_chunks.lance");
      await overlap(args, tmp.path, env, () => existsSync(tables), 30);
      const last = await runCli(args, { cwd: tmp.path, env });
      expect(last.code, show(last)).toBe(0);
      await expectStoreMatchesFiles(env, listFiles(dir), { userId: "alice", sourceId: "shared" });
    } finally {
      tmp.cleanup();
    }
  });
});

describe("exit code when items failed and deletions were held in one run", () => {
  it("is 3 (held deletions wait for a decision); the JSON carries both counts and exit_code", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path);
      const dir = join(tmp.path, "docs");
      mkdirSync(dir);
      for (let i = 0; i < 10; i++) writeFileSync(join(dir, `f${i}.txt`), `file number ${i} about kites\n`);
      const sync = (...extra: string[]) =>
        runCli(["sync", dir, "--user", "alice", "--json", ...extra], { cwd: tmp.path, env });
      expect((await sync()).code).toBe(0);
      for (let i = 0; i < 6; i++) rmSync(join(dir, `f${i}.txt`));
      writeFileSync(join(dir, "broken.pdf"), "%PDF-1.7 not really a pdf");
      const both = await sync();
      expect(both.code, show(both)).toBe(3);
      expect(both.json).toMatchObject({ failed: 1, held_deletions: 6, exit_code: 3 });
      const onlyFailed = await sync("--allow-mass-delete");
      expect(onlyFailed.code, show(onlyFailed)).toBe(2);
      expect(onlyFailed.json).toMatchObject({ failed: 1, held_deletions: 0, deleted: 6, exit_code: 2 });
    } finally {
      tmp.cleanup();
    }
  });
});

describe("status --user", () => {
  it("reports only that user's figures: rows, failures, sources and runs; no store-wide table figures", async () => {
    const tmp = makeTempDir("lancedb-sync-cli-");
    try {
      const env = envFor(tmp.path);
      for (const user of ["alice", "bob"]) {
        const dir = join(tmp.path, user);
        mkdirSync(dir);
        writeFileSync(join(dir, "a.txt"), `${user} writes about kites\n`);
        if (user === "bob") writeFileSync(join(dir, "bad.pdf"), "%PDF-1.7 broken");
        await runCli(["sync", dir, "--user", user, "--json"], { cwd: tmp.path, env });
      }
      const all = await runCli(["status", "--json"], { cwd: tmp.path, env });
      expect(all.json).toMatchObject({ documents: 2, failed: 1 });
      expect(all.json.tables).toHaveLength(2);
      expect(all.json.store.state).toBe("ok");
      const alice = await runCli(["status", "--user", "alice", "--json"], { cwd: tmp.path, env });
      expect(alice.code, show(alice)).toBe(0);
      expect(alice.json).toMatchObject({ documents: 1, chunks: 1, failed: 0, failures: [], tables: [] });
      expect(alice.json.sources.map((s: { user_id: string }) => s.user_id)).toEqual(["alice"]);
      expect(alice.json.last_run.user_id).toBe("alice");
    } finally {
      tmp.cleanup();
    }
  });
});
