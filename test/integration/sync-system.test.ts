import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SourceRunResult } from "../../src/app/run-source.js";
import { silentLogger } from "../../src/core/logger.js";
import { createSyncSystem, type SyncSystem, type SyncSystemOptions } from "../../src/index.js";
import { makePdf } from "../fixtures/make-pdf.js";
import { rejection } from "../helpers/caught.js";
import { startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/** The library as a host application uses it: real LanceDB, SQLite and blob store in a temp dir. */

let tmp: ReturnType<typeof makeTempDir>;
const open: SyncSystem[] = [];

function system(extra: SyncSystemOptions = {}): SyncSystem {
  const s = createSyncSystem({
    lancedbUri: join(tmp.path, "lancedb"),
    stateDbPath: join(tmp.path, "state.db"),
    uploadDir: join(tmp.path, "uploads"),
    logger: silentLogger,
    ...extra,
  });
  open.push(s);
  return s;
}

/** Every blob file under the upload dir. */
function blobs(): string[] {
  const dir = join(tmp.path, "uploads");
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

const text = (s: string) => new TextEncoder().encode(s);

beforeEach(() => {
  tmp = makeTempDir("sync-system-");
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.stop().catch(() => undefined);
  tmp.cleanup();
});

describe("createSyncSystem: pushed documents", () => {
  it("same bytes twice is unchanged with no run; new bytes under the key are updated; metadata reaches hits", async () => {
    const sys = system();
    await sys.start();
    const runs: string[] = [];
    sys.events.on("run-started", (e) => runs.push(e.kind));
    const first = await sys.ingestDocument({
      userId: "auth0|alice",
      bytes: text("# Handbook\n\nThe harbour ferry leaves at nine."),
      filename: "handbook.md",
      metadata: { team: "ops", year: 2026 },
    });
    expect(first).toMatchObject({ status: "added", key: "handbook.md", source_id: "uploads" });
    expect(first.chunks).toBeGreaterThan(0);
    expect(runs).toEqual(["changes"]);

    const again = await sys.ingestDocument({
      userId: "auth0|alice",
      bytes: text("# Handbook\n\nThe harbour ferry leaves at nine."),
      filename: "handbook.md",
      metadata: { team: "ops", year: 2026 },
    });
    expect(again).toEqual({ ...first, status: "unchanged" });
    expect(runs).toEqual(["changes"]);

    const hits = await sys.search({ userId: "auth0|alice", query: "harbour ferry", mode: "fts" });
    expect(hits[0]).toMatchObject({ doc_id: first.doc_id, metadata: { team: "ops", year: 2026 } });

    const updated = await sys.ingestDocument({
      userId: "auth0|alice",
      bytes: text("# Handbook\n\nThe harbour ferry leaves at ten."),
      filename: "handbook.md",
    });
    expect(updated).toMatchObject({ doc_id: first.doc_id, status: "updated" });
    const after = await sys.search({ userId: "auth0|alice", query: "ferry", mode: "fts" });
    expect(after.map((h) => h.text).join(" ")).toContain("ten");
    expect(after.map((h) => h.text).join(" ")).not.toContain("nine");
    expect((await sys.listDocuments({ userId: "auth0|alice" })).map((d) => d.doc_id)).toEqual([first.doc_id]);
  });

  it("new metadata for the same bytes rewrites the document row without embedding anything", async () => {
    const sys = system();
    await sys.start();
    const results: SourceRunResult[] = [];
    sys.events.on("run-finished", (e) => results.push(e.result));
    const bytes = text("Quarterly report: revenue grew in the north.");
    await sys.ingestDocument({ userId: "u1", bytes, filename: "q.txt", metadata: { v: 1 } });
    const r = await sys.ingestDocument({ userId: "u1", bytes, filename: "q.txt", metadata: { v: 2 } });
    expect(r.status).toBe("updated");
    expect(results.at(-1)).toMatchObject({ embedded_chunks: 0 });
    const doc = await sys.getDocument({ userId: "u1", docId: r.doc_id });
    expect(doc.metadata).toMatchObject({ v: 2 });
  });

  it("refuses a traversal name, an unsupported type and an oversize file with their own codes, storing nothing", async () => {
    const sys = system({ maxFileSizeMb: 0.001 });
    await sys.start();
    const cases: Array<[string, Uint8Array, string]> = [
      ["../../etc/passwd", text("root:x:0:0"), "SYNC_E_FILENAME_INVALID"],
      ["/etc/passwd.txt", text("root:x:0:0"), "SYNC_E_FILENAME_INVALID"],
      ["evil.exe", text("MZ"), "SYNC_E_UNSUPPORTED_TYPE"],
      ["big.txt", text("x".repeat(5000)), "SYNC_E_FILE_TOO_LARGE"],
    ];
    for (const [filename, bytes, code] of cases) {
      const err = await rejection(sys.ingestDocument({ userId: "u1", bytes, filename }));
      expect(err, filename).toMatchObject({ code });
    }
    expect(blobs()).toEqual([]);
    expect(await sys.sources.list({ userId: "u1" })).toEqual([]);
    expect((await sys.status({ userId: "u1" })).documents).toBe(0);
  });

  it("a corrupt file fails with a message naming it; nothing of it is indexed, recorded or left failing", async () => {
    const sys = system();
    await sys.start();
    const good = await sys.ingestDocument({ userId: "u1", bytes: text("fine words"), filename: "ok.txt" });
    const err = await rejection(
      sys.ingestDocument({ userId: "u1", bytes: text("%PDF-1.4 garbage"), filename: "scan.pdf" }),
    );
    expect(err).toMatchObject({ code: "SYNC_E_CORRUPT_FILE" });
    expect(String((err as Error).message)).toContain("scan.pdf");
    expect((await sys.listDocuments({ userId: "u1" })).map((d) => d.doc_id)).toEqual([good.doc_id]);
    const status = await sys.status({ userId: "u1" });
    expect(status).toMatchObject({ failed: 0, pending: 0, documents: 1 });
  });

  it("a corrupt new version leaves the previous version indexed", async () => {
    const sys = system();
    await sys.start();
    const pdf = await makePdf(["The lighthouse keeper logs every ship."]);
    const first = await sys.ingestDocument({ userId: "u1", bytes: pdf, filename: "log.pdf" });
    await rejection(
      sys.ingestDocument({ userId: "u1", bytes: text("%PDF-1.4 broken"), filename: "log.pdf" }),
    );
    const hits = await sys.search({ userId: "u1", query: "lighthouse keeper", mode: "fts" });
    expect(hits[0]?.doc_id).toBe(first.doc_id);
    // The upload record points at the old bytes again: a full run of the source changes nothing.
    const r = await sys.syncSource({ userId: "u1", sourceId: "uploads" });
    expect(r).toMatchObject({ added: 0, updated: 0, deleted: 0, failed: 0, unchanged: 1 });
  });

  it("deleteDocument removes an upload; another user's id is not found; blobs no upload needs are collected", async () => {
    const sys = system();
    await sys.start();
    const a = await sys.ingestDocument({ userId: "u1", bytes: text("alpha beta"), filename: "a.txt" });
    const err = await rejection(sys.deleteDocument({ userId: "u2", docId: a.doc_id }));
    expect(err).toMatchObject({ code: "SYNC_E_NOT_FOUND" });
    expect(await sys.deleteDocument({ userId: "u1", docId: a.doc_id })).toMatchObject({ deleted: true });
    expect(await sys.listDocuments({ userId: "u1" })).toEqual([]);
    expect(await sys.search({ userId: "u1", query: "alpha", mode: "fts" })).toEqual([]);
  });
});

describe("createSyncSystem: sources", () => {
  function folder(name: string, files: Record<string, string>): string {
    const dir = join(tmp.path, name);
    mkdirSync(dir, { recursive: true });
    for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, f), content);
    return dir;
  }

  it("add, list, sync by name, and remove exactly one source's rows", async () => {
    const sys = system();
    await sys.start();
    const a = folder("a", { "one.md": "apples and pears", "two.md": "plums" });
    const b = folder("b", { "three.md": "cherries" });
    const added = await sys.sources.add({
      userId: "u1",
      sourceId: "fruit",
      type: "fs",
      config: { watch_paths: [a] },
    });
    expect(added).toMatchObject({
      type: "local_filesystem",
      source_id: "fruit",
      enabled: true,
      poll_interval: 60,
    });
    await sys.sources.add({
      userId: "u1",
      sourceId: "more",
      type: "local_filesystem",
      config: { watch_paths: [b] },
      pollInterval: 300,
    });
    await sys.ingestDocument({ userId: "u1", bytes: text("figs"), filename: "figs.txt" });
    expect(await sys.syncSource({ userId: "u1", sourceId: "fruit" })).toMatchObject({
      added: 2,
      kind: "full",
    });
    expect(await sys.sources.sync({ userId: "u1", sourceId: "more" })).toMatchObject({ added: 1 });
    expect((await sys.sources.list({ userId: "u1" })).map((s) => s.source_id)).toEqual([
      "fruit",
      "more",
      "uploads",
    ]);

    const removed = await sys.sources.remove({ userId: "u1", sourceId: "fruit" });
    expect(removed).toMatchObject({ documents: 2, items: 2, kept_documents: false });
    const left = await sys.listDocuments({ userId: "u1" });
    expect(left.map((d) => d.source_id).sort()).toEqual(["more", "uploads"]);
    expect(
      ((await rejection(sys.sources.get({ userId: "u1", sourceId: "fruit" }))) as { code: string }).code,
    ).toBe("SYNC_E_NOT_FOUND");
  });

  it("a remove that dies after deleting the rows leaves a source whose next run writes its documents again", async () => {
    const { openAppContext } = await import("../../src/app/app-context.js");
    const { removeSource } = await import("../../src/app/sources.js");
    const { runSource } = await import("../../src/app/run-source.js");
    const { resolveConfig } = await import("../../src/config/load-config.js");
    const a = folder("a", { "one.md": "apples", "two.md": "pears" });
    const config = resolveConfig({
      lancedbUri: join(tmp.path, "lancedb"),
      stateDbPath: join(tmp.path, "state.db"),
      uploadDir: join(tmp.path, "uploads"),
    });
    const ctx = openAppContext(config, silentLogger);
    try {
      const sys = (await import("../../src/app/sync-system.js")).systemOn(ctx);
      await sys.sources.add({ userId: "u1", sourceId: "fruit", type: "fs", config: { watch_paths: [a] } });
      await sys.syncSource({ userId: "u1", sourceId: "fruit" });
      const record = ctx.journal.getSource("u1", "fruit");
      if (!record) throw new Error("no record");
      ctx.journal.removeSource = () => {
        throw new Error("killed");
      };
      await rejection(removeSource(ctx, record, false));
      expect(await sys.listDocuments({ userId: "u1" })).toEqual([]);
      const again = await runSource(ctx, record, ctx.sourceOf(record));
      expect(again).toMatchObject({ failed: 0 });
      expect(again.added + again.updated + again.repaired).toBe(2);
      expect((await sys.listDocuments({ userId: "u1" })).length).toBe(2);
    } finally {
      await ctx.close();
    }
  });

  it("a source is never re-typed, and config errors name the field", async () => {
    const sys = system();
    await sys.start();
    const a = folder("a", { "x.md": "x" });
    await sys.sources.add({ userId: "u1", sourceId: "s", type: "upload" });
    expect(
      await rejection(
        sys.sources.add({ userId: "u1", sourceId: "s", type: "fs", config: { watch_paths: [a] } }),
      ),
    ).toMatchObject({ code: "SYNC_E_SOURCE_TYPE" });
    await sys.sources.add({ userId: "u1", sourceId: "f", type: "fs", config: { watch_paths: [a] } });
    expect(
      await rejection(
        sys.ingestDocument({ userId: "u1", sourceId: "f", bytes: text("x"), filename: "x.txt" }),
      ),
    ).toMatchObject({ code: "SYNC_E_SOURCE_TYPE" });
    const bad = await rejection(
      sys.sources.add({ userId: "u1", sourceId: "g", type: "fs", config: { watch_paths: "x" } }),
    );
    expect(String((bad as Error).message)).toContain("watch_paths");
    const unknown = await rejection(sys.sources.add({ userId: "u1", sourceId: "h", type: "gdrive" }));
    expect(String((unknown as Error).message)).toMatch(/local_filesystem.*upload/);
  });

  it("concurrent requests for one source join the queued run instead of failing busy", async () => {
    const sys = system();
    await sys.start();
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`f${i}.md`] = `document number ${i} about topic ${i % 7}`;
    const a = folder("a", files);
    await sys.sources.add({ userId: "u1", sourceId: "docs", type: "fs", config: { watch_paths: [a] } });
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => sys.syncSource({ userId: "u1", sourceId: "docs" })),
    );
    expect(results[0]?.added).toBe(40);
    // The first ran alone; the other three joined one queued run behind it.
    expect(results[1]).toBe(results[2]);
    expect(results[2]).toBe(results[3]);
    expect(results[1]?.unchanged).toBe(40);
  });

  it("applyChanges applies a few keys without listing; an unlink plus add of the same content is a move", async () => {
    const sys = system();
    await sys.start();
    const a = folder("a", {
      "one.md": "the first note about whales",
      "two.md": "the second note about owls",
    });
    const view = await sys.sources.add({
      userId: "u1",
      sourceId: "n",
      type: "fs",
      config: { watch_paths: [a] },
    });
    const root = (view.config.watch_paths as string[])[0] as string;
    await sys.syncSource({ userId: "u1", sourceId: "n" });
    writeFileSync(join(root, "three.md"), "a third note about foxes");
    const added = await sys.applyChanges({ userId: "u1", sourceId: "n", keys: [join(root, "three.md")] });
    expect(added).toMatchObject({ added: 1, listed: 1, kind: "changes" });
    rmSync(join(root, "one.md"));
    writeFileSync(join(root, "uno.md"), "the first note about whales");
    const moved = await sys.applyChanges({
      userId: "u1",
      sourceId: "n",
      keys: [join(root, "one.md"), join(root, "uno.md")],
    });
    expect(moved).toMatchObject({ moved: 1, added: 0, deleted: 0, embedded_chunks: 0 });
    const keys = (await sys.listDocuments({ userId: "u1" })).map((d) => d.item_key).sort();
    expect(keys).toEqual(["three.md", "two.md", "uno.md"].map((f) => join(root, f)));
  });

  it("deleting a document whose file still exists is refused; once the file is gone it is deleted", async () => {
    const sys = system();
    await sys.start();
    const a = folder("a", { "keep.md": "a file that stays" });
    await sys.sources.add({ userId: "u1", sourceId: "n", type: "fs", config: { watch_paths: [a] } });
    await sys.syncSource({ userId: "u1", sourceId: "n" });
    const [doc] = await sys.listDocuments({ userId: "u1" });
    const err = await rejection(sys.deleteDocument({ userId: "u1", docId: doc?.doc_id as string }));
    expect(err).toMatchObject({ code: "SYNC_E_INVALID_ARGUMENT" });
    expect(String((err as Error).message)).toMatch(/ignore pattern/);
    rmSync(doc?.item_key as string);
    await sys.deleteDocument({ userId: "u1", docId: doc?.doc_id as string });
    expect(await sys.listDocuments({ userId: "u1" })).toEqual([]);
  });
});

describe("createSyncSystem: a system that lives for days", () => {
  it("a failed store open is not cached: once the cause is gone the next call succeeds", async () => {
    const blocker = join(tmp.path, "blocked");
    writeFileSync(blocker, "a file where the database directory should be");
    const sys = system({ lancedbUri: join(blocker, "db") });
    await sys.start();
    const first = await rejection(
      sys.ingestDocument({ userId: "u1", bytes: text("hello"), filename: "h.txt" }),
    );
    expect(first).toBeInstanceOf(Error);
    expect((await sys.status()).local_db_available).toBe(false);
    rmSync(blocker);
    const r = await sys.ingestDocument({ userId: "u1", bytes: text("hello"), filename: "h.txt" });
    expect(r.status).toBe("added");
    expect((await sys.status()).local_db_available).toBe(true);
  });

  it("a long-lived reader sees commits of another writer within LANCEDB_READ_CONSISTENCY_SECONDS", async () => {
    const reader = system({ lancedbReadConsistencySeconds: 0.2 });
    const writer = system();
    await reader.start();
    await writer.start();
    await writer.ingestDocument({ userId: "u1", bytes: text("the first lighthouse"), filename: "one.txt" });
    expect((await reader.search({ userId: "u1", query: "lighthouse", mode: "fts" })).length).toBe(1);
    expect((await reader.status({ userId: "u1" })).documents).toBe(1);
    await writer.ingestDocument({ userId: "u1", bytes: text("the second lighthouse"), filename: "two.txt" });
    await new Promise((r) => setTimeout(r, 400));
    expect((await reader.search({ userId: "u1", query: "lighthouse", mode: "fts" })).length).toBe(2);
    expect((await reader.status({ userId: "u1" })).documents).toBe(2);
  });

  it("options are validated by name: a bad value or an unknown option stops creation", () => {
    expect(() => createSyncSystem({ maxConcurrentProcessing: 0 })).toThrow(/maxConcurrentProcessing=/);
    expect(() => createSyncSystem({ nope: 1 } as never)).toThrow(/unknown option nope/);
  });

  it("stop waits for work in flight, then every call fails with SYNC_E_SHUTTING_DOWN", async () => {
    const sys = system();
    await sys.start();
    const pending = sys.ingestDocument({ userId: "u1", bytes: text("late words"), filename: "late.txt" });
    await sys.stop();
    expect((await pending).status).toBe("added");
    expect(await rejection(sys.search({ userId: "u1", query: "late" }))).toMatchObject({
      code: "SYNC_E_SHUTTING_DOWN",
    });
    const reopened = system();
    await reopened.start();
    expect((await reopened.listDocuments({ userId: "u1" })).length).toBe(1);
  });

  it("start resumes a pushed document whose upload was recorded but never applied", async () => {
    const sys = system({ lancedbSyncCrashAt: "" });
    await sys.start();
    await sys.ingestDocument({ userId: "u1", bytes: text("first"), filename: "first.txt" });
    await sys.stop();
    // What a crash right after recording an upload leaves: a record the index does not have yet.
    const { SqliteJournal } = await import("../../src/storage/sqlite-journal.js");
    const { BlobStore } = await import("../../src/sources/upload/blob-store.js");
    const blob = await new BlobStore(join(tmp.path, "uploads")).put(text("second document body"));
    const j = new SqliteJournal(join(tmp.path, "state.db"));
    j.putUpload({
      userId: "u1",
      sourceName: "uploads",
      key: "second.txt",
      blobHash: blob.hash,
      fileName: "second.txt",
      sizeBytes: blob.sizeBytes,
      metadata: {},
      uploadedAt: new Date().toISOString(),
    });
    j.close();
    const again = system();
    await again.start();
    expect((await again.listDocuments({ userId: "u1" })).map((d) => d.item_key).sort()).toEqual([
      "first.txt",
      "second.txt",
    ]);
  });
});

describe("createSyncSystem: searches", () => {
  it("runs at most maxConcurrentSearches searches at once; the others wait their turn and all answer", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inFlight = 0;
    let peak = 0;
    const server = await startEmbeddingsServer({
      dimensions: 16,
      behaviour: async (req) => {
        if (JSON.stringify(req.body).includes("gatedquery")) {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await gate;
          inFlight--;
        }
        return "default" as const;
      },
    });
    try {
      const sys = system({
        embeddingProvider: "openai",
        embeddingBaseUrl: server.url,
        embeddingDimensions: 16,
        maxConcurrentSearches: 2,
      });
      await sys.start();
      await sys.ingestDocument({
        userId: "u1",
        bytes: text("# Ferry\n\nThe ferry timetable."),
        filename: "f.md",
      });
      const searches = Array.from({ length: 5 }, (_, i) =>
        sys.search({ userId: "u1", query: `gatedquery ${i}`, mode: "vector" }),
      );
      const end = Date.now() + 10_000;
      while (inFlight < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(inFlight).toBe(2);
      // Nothing else starts while both slots are held.
      await new Promise((r) => setTimeout(r, 300));
      expect(inFlight).toBe(2);
      release();
      const answers = await Promise.all(searches);
      expect(answers.map((hits) => hits.length)).toEqual([1, 1, 1, 1, 1]);
      expect(peak).toBe(2);
    } finally {
      release();
      await server.close();
    }
  });
});
