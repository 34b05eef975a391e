import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ItemState, Journal, RunStats } from "../../src/core/journal.js";
import { JOURNAL_MIGRATIONS } from "../../src/storage/journal-migrations.js";
import { SqliteJournal } from "../../src/storage/sqlite-journal.js";
import { MemoryJournal } from "../fakes/memory-journal.js";
import { thrown } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/**
 * The {@link Journal} contract, run against the production journal (SQLite) and the fake the core tests use
 * (MemoryJournal): a test that passes for one and fails for the other is a fake that lies.
 */

type MakeJournal = (dir: string) => Journal;

const IMPLEMENTATIONS: Array<[string, MakeJournal]> = [
  ["sqlite", (dir) => new SqliteJournal(join(dir, "state", "journal.db"))],
  ["memory", () => new MemoryJournal()],
];

const STATS: RunStats = {
  added: 3,
  updated: 2,
  moved: 1,
  deleted: 4,
  unchanged: 10,
  failed: 1,
  held_deletions: 0,
  embedded_chunks: 17,
  reused_chunks: 5,
  listed: 21,
  repaired: 0,
};

const synced = (key: string, fingerprint = `fp-${key}`, contentHash = `hash-${key}`): ItemState => ({
  key,
  docId: `doc-${key}`,
  fingerprint,
  contentHash,
  status: "synced",
});

const upload = (userId: string, sourceName: string, key: string, blobHash: string) => ({
  userId,
  sourceName,
  key,
  blobHash,
  fileName: key,
  sizeBytes: 3,
  metadata: {},
  uploadedAt: "2026-01-01T00:00:00.000Z",
});

/** Items of one source as a plain object keyed by item key (Map keys and values checked together). */
const itemsOf = (j: Journal, user: string, source: string) =>
  Object.fromEntries([...j.listItems(user, source)].map(([k, v]) => [k, v]));

describe.each(IMPLEMENTATIONS)("Journal conformance: %s", (_name, make) => {
  let tmp: ReturnType<typeof makeTempDir>;
  let journal: Journal;

  beforeEach(() => {
    tmp = makeTempDir("lancedb-sync-conformance-");
    journal = make(tmp.path);
  });

  afterEach(() => {
    journal.close();
    tmp.cleanup();
  });

  describe("sources", () => {
    it("getSource returns an upserted source with its type and config; unknown sources are undefined", () => {
      journal.upsertSource({
        userId: "alice",
        name: "docs",
        type: "local_filesystem",
        config: { root: "/data", n: 2 },
      });
      const s = journal.getSource("alice", "docs");
      expect(s).toMatchObject({
        userId: "alice",
        name: "docs",
        type: "local_filesystem",
        config: { root: "/data", n: 2 },
        lastRunAt: null,
        lastError: null,
      });
      expect(typeof s?.createdAt).toBe("string");
      expect(typeof s?.updatedAt).toBe("string");
      expect(journal.getSource("alice", "other")).toBeUndefined();
      expect(journal.getSource("bob", "docs")).toBeUndefined();
    });

    it("a newly registered source is healthy (no run has failed yet)", () => {
      journal.upsertSource({ userId: "alice", name: "docs", type: "local_filesystem", config: {} });
      expect(journal.getSource("alice", "docs")?.healthy).toBe(true);
    });

    it("upserting again replaces the config, keeps createdAt and the recorded health", () => {
      journal.upsertSource({
        userId: "alice",
        name: "docs",
        type: "local_filesystem",
        config: { root: "/a" },
      });
      const created = journal.getSource("alice", "docs")?.createdAt;
      journal.setSourceHealth("alice", "docs", false, "disk on fire");
      journal.upsertSource({
        userId: "alice",
        name: "docs",
        type: "local_filesystem",
        config: { root: "/b" },
      });
      const s = journal.getSource("alice", "docs");
      expect(s).toMatchObject({
        type: "local_filesystem",
        config: { root: "/b" },
        healthy: false,
        lastError: "disk on fire",
      });
      expect(s?.createdAt).toBe(created);
      expect(journal.listSources("alice")).toHaveLength(1);
    });

    it("a source is never re-typed: upserting it under another type throws SYNC_E_SOURCE_TYPE and changes nothing", () => {
      journal.upsertSource({
        userId: "alice",
        name: "docs",
        type: "local_filesystem",
        config: { root: "/a" },
      });
      const err = thrown(() =>
        journal.upsertSource({ userId: "alice", name: "docs", type: "upload", config: {} }),
      );
      expect(err).toMatchObject({ code: "SYNC_E_SOURCE_TYPE" });
      expect(String((err as Error).message)).toMatch(/local_filesystem.*upload/);
      expect(journal.getSource("alice", "docs")).toMatchObject({
        type: "local_filesystem",
        config: { root: "/a" },
      });
      // Another user's source of that name may have any type.
      journal.upsertSource({ userId: "bob", name: "docs", type: "upload", config: {} });
      expect(journal.getSource("bob", "docs")?.type).toBe("upload");
    });

    it("poll interval and enabled default to null and true, are set when given and kept when absent", () => {
      journal.upsertSource({ userId: "alice", name: "docs", type: "local_filesystem", config: {} });
      expect(journal.getSource("alice", "docs")).toMatchObject({
        pollInterval: null,
        enabled: true,
        state: {},
      });
      journal.upsertSource({
        userId: "alice",
        name: "docs",
        type: "local_filesystem",
        config: {},
        pollInterval: 90,
        enabled: false,
      });
      expect(journal.getSource("alice", "docs")).toMatchObject({ pollInterval: 90, enabled: false });
      journal.upsertSource({ userId: "alice", name: "docs", type: "local_filesystem", config: { x: 1 } });
      expect(journal.getSource("alice", "docs")).toMatchObject({ pollInterval: 90, enabled: false });
      journal.upsertSource({
        userId: "alice",
        name: "docs",
        type: "local_filesystem",
        config: {},
        pollInterval: null,
      });
      expect(journal.getSource("alice", "docs")?.pollInterval).toBeNull();
    });

    it("setSourceState stores a connector's state; an unknown source is not created", () => {
      journal.upsertSource({ userId: "alice", name: "docs", type: "notion", config: {} });
      journal.setSourceState("alice", "docs", { cursor: "2026-01-01T00:00:00Z", seen: [1, 2] });
      expect(journal.getSource("alice", "docs")?.state).toEqual({
        cursor: "2026-01-01T00:00:00Z",
        seen: [1, 2],
      });
      journal.setSourceState("alice", "nope", { cursor: "x" });
      expect(journal.getSource("alice", "nope")).toBeUndefined();
    });

    it("removeSource forgets exactly that source's record, items, failures, uploads, runs and run lease", () => {
      for (const [user, name] of [
        ["alice", "docs"],
        ["alice", "other"],
        ["bob", "docs"],
      ] as const) {
        journal.upsertSource({ userId: user, name, type: "upload", config: {} });
        journal.commitItems(user, name, [synced("a"), synced("b")], []);
        journal.recordFailure(user, name, "c", "fp", "SYNC_E_CORRUPT_FILE", "bad");
        journal.putUpload(upload(user, name, "a", "h-a"));
        journal.finishRun(journal.startRun(user, name), "succeeded", STATS, null);
        expect(journal.tryLease(`run:${user}\0${name}`, "owner-1", "sync", 60_000)).toBeUndefined();
      }
      expect(journal.removeSource("alice", "docs")).toEqual({ items: 2, failures: 1, uploads: 1, runs: 1 });
      expect(journal.getSource("alice", "docs")).toBeUndefined();
      expect(journal.listItems("alice", "docs").size).toBe(0);
      expect(journal.listFailures("alice", "docs")).toEqual([]);
      expect(journal.listUploads("alice", "docs")).toEqual([]);
      expect(
        journal
          .lastRuns(10)
          .map((r) => `${r.userId}/${r.sourceName}`)
          .sort(),
      ).toEqual(["alice/other", "bob/docs"]);
      expect(journal.listLeases().map((l) => l.name)).toEqual(["run:alice\0other", "run:bob\0docs"]);
      for (const [user, name] of [
        ["alice", "other"],
        ["bob", "docs"],
      ] as const) {
        expect(journal.listItems(user, name).size).toBe(2);
        expect(journal.listFailures(user, name)).toHaveLength(1);
        expect(journal.listUploads(user, name)).toHaveLength(1);
      }
      expect(journal.removeSource("alice", "docs")).toEqual({ items: 0, failures: 0, uploads: 0, runs: 0 });
    });

    it("listSources lists one user's sources by name, or every source ordered by (user, name)", () => {
      for (const [userId, name] of [
        ["bob", "b"],
        ["alice", "zeta"],
        ["alice", "alpha"],
        ["bob", "a"],
      ] as const) {
        journal.upsertSource({ userId, name, type: "local_filesystem", config: {} });
      }
      expect(journal.listSources("alice").map((s) => s.name)).toEqual(["alpha", "zeta"]);
      expect(journal.listSources("bob").map((s) => s.name)).toEqual(["a", "b"]);
      expect(journal.listSources("carol")).toEqual([]);
      expect(journal.listSources().map((s) => `${s.userId}/${s.name}`)).toEqual([
        "alice/alpha",
        "alice/zeta",
        "bob/a",
        "bob/b",
      ]);
    });

    it("listSources orders by user first, then name (not by the concatenation of both)", () => {
      // "a"+"bc" = "abc" sorts after "ab"+"a" = "aba", but user "a" sorts before user "ab".
      journal.upsertSource({ userId: "ab", name: "a", type: "local_filesystem", config: {} });
      journal.upsertSource({ userId: "a", name: "bc", type: "local_filesystem", config: {} });
      expect(journal.listSources().map((s) => `${s.userId}/${s.name}`)).toEqual(["a/bc", "ab/a"]);
    });

    it("setSourceHealth records health, error and the time of the run; an unknown source is not created", () => {
      journal.upsertSource({ userId: "alice", name: "docs", type: "local_filesystem", config: {} });
      journal.setSourceHealth("alice", "docs", false, "SYNC_E_SOURCE: gone");
      let s = journal.getSource("alice", "docs");
      expect(s).toMatchObject({ healthy: false, lastError: "SYNC_E_SOURCE: gone" });
      expect(typeof s?.lastRunAt).toBe("string");
      journal.setSourceHealth("alice", "docs", true, null);
      s = journal.getSource("alice", "docs");
      expect(s).toMatchObject({ healthy: true, lastError: null });

      journal.setSourceHealth("alice", "ghost", true, null);
      expect(journal.getSource("alice", "ghost")).toBeUndefined();
      expect(journal.listSources()).toHaveLength(1);
    });

    it("returned sources are copies: mutating them does not change the journal", () => {
      journal.upsertSource({
        userId: "alice",
        name: "docs",
        type: "local_filesystem",
        config: { root: "/a" },
      });
      const s = journal.getSource("alice", "docs");
      if (!s) throw new Error("source missing");
      s.type = "changed";
      (s.config as { root: string }).root = "/changed";
      const [listed] = journal.listSources();
      if (listed) listed.name = "changed";
      expect(journal.getSource("alice", "docs")).toMatchObject({
        type: "local_filesystem",
        config: { root: "/a" },
      });
    });
  });

  describe("items", () => {
    it("listItems of an unknown source is empty", () => {
      expect(journal.listItems("alice", "docs").size).toBe(0);
    });

    it("getItem reads one item of a source as listItems has it; unknown keys and sources are undefined", () => {
      journal.commitItems("alice", "docs", [synced("a"), synced("b")], []);
      journal.markPending("alice", "docs", [{ key: "c", docId: "doc-c" }]);
      expect(journal.getItem("alice", "docs", "a")).toEqual(synced("a"));
      expect(journal.getItem("alice", "docs", "c")).toEqual(journal.listItems("alice", "docs").get("c"));
      expect(journal.getItem("alice", "docs", "x")).toBeUndefined();
      expect(journal.getItem("alice", "other", "a")).toBeUndefined();
      expect(journal.getItem("bob", "docs", "a")).toBeUndefined();
    });

    it("markPending inserts unknown items as pending with empty fingerprint and content hash", () => {
      journal.markPending("alice", "docs", [
        { key: "a.txt", docId: "doc-a" },
        { key: "dir/b.txt", docId: "doc-b" },
      ]);
      expect(itemsOf(journal, "alice", "docs")).toEqual({
        "a.txt": { key: "a.txt", docId: "doc-a", fingerprint: "", contentHash: "", status: "pending" },
        "dir/b.txt": {
          key: "dir/b.txt",
          docId: "doc-b",
          fingerprint: "",
          contentHash: "",
          status: "pending",
        },
      });
    });

    it("markPending flips known items to pending and keeps their doc id, fingerprint and hash", () => {
      journal.commitItems("alice", "docs", [synced("a"), synced("b")], []);
      journal.markPending("alice", "docs", [{ key: "a", docId: "some-other-doc" }]);
      expect(itemsOf(journal, "alice", "docs")).toEqual({
        a: { ...synced("a"), status: "pending" },
        b: synced("b"),
      });
    });

    it("commitItems stores items as synced with fingerprint and hash, and forgets deletedKeys", () => {
      journal.markPending("alice", "docs", [
        { key: "a", docId: "doc-a" },
        { key: "b", docId: "doc-b" },
      ]);
      journal.commitItems("alice", "docs", [synced("a"), { ...synced("b"), status: "pending" }], []);
      expect(itemsOf(journal, "alice", "docs")).toEqual({ a: synced("a"), b: synced("b") });

      journal.commitItems("alice", "docs", [synced("c")], ["a", "never-known"]);
      expect(itemsOf(journal, "alice", "docs")).toEqual({ b: synced("b"), c: synced("c") });
    });

    it("commitItems replaces the doc id, fingerprint and hash of a known item", () => {
      journal.commitItems("alice", "docs", [synced("a")], []);
      const moved: ItemState = {
        key: "a",
        docId: "doc-new",
        fingerprint: "fp2",
        contentHash: "h2",
        status: "synced",
      };
      journal.commitItems("alice", "docs", [moved], []);
      expect(itemsOf(journal, "alice", "docs")).toEqual({ a: moved });
    });

    it("a key both committed and deleted in one call ends up deleted", () => {
      journal.commitItems("alice", "docs", [synced("a"), synced("b")], ["a"]);
      expect(itemsOf(journal, "alice", "docs")).toEqual({ b: synced("b") });
    });

    it("items of different users and sources are isolated", () => {
      journal.commitItems("alice", "docs", [synced("same", "fp-alice-docs")], []);
      journal.commitItems("alice", "mail", [synced("same", "fp-alice-mail")], []);
      journal.commitItems("bob", "docs", [synced("same", "fp-bob-docs")], []);

      journal.markPending("alice", "docs", [{ key: "same", docId: "x" }]);
      journal.commitItems("bob", "docs", [], ["same"]);

      expect(journal.listItems("alice", "docs").get("same")).toMatchObject({
        fingerprint: "fp-alice-docs",
        status: "pending",
      });
      expect(journal.listItems("alice", "mail").get("same")).toEqual(synced("same", "fp-alice-mail"));
      expect(journal.listItems("bob", "docs").size).toBe(0);
      expect(journal.listItems("bob", "mail").size).toBe(0);
    });

    it("keys are exact: case, spaces, quotes and non-ASCII are kept as given", () => {
      const keys = ["A.txt", "a.txt", " a.txt", 'it\'s "quoted".md', "naïve/日本語.txt", "a\\b"];
      journal.commitItems(
        "alice",
        "docs",
        keys.map((k) => synced(k)),
        [],
      );
      expect([...journal.listItems("alice", "docs").keys()].sort()).toEqual([...keys].sort());
      journal.commitItems("alice", "docs", [], ["a.txt"]);
      expect(journal.listItems("alice", "docs").has("A.txt")).toBe(true);
      expect(journal.listItems("alice", "docs").has("a.txt")).toBe(false);
    });

    it("returned items are copies: mutating them does not change the journal", () => {
      journal.commitItems("alice", "docs", [synced("a")], []);
      const items = journal.listItems("alice", "docs");
      const a = items.get("a");
      if (!a) throw new Error("item missing");
      a.status = "pending";
      a.fingerprint = "mutated";
      items.delete("a");
      expect(journal.listItems("alice", "docs").get("a")).toEqual(synced("a"));
    });
  });

  describe("failures", () => {
    it("recordFailure starts at 1 attempt, adds 1 for the same fingerprint, restarts at 1 for a new one", () => {
      journal.recordFailure("alice", "docs", "a.pdf", "fp1", "SYNC_E_EXTRACT", "bad xref");
      expect(journal.listFailures()).toEqual([
        expect.objectContaining({
          userId: "alice",
          sourceName: "docs",
          key: "a.pdf",
          fingerprint: "fp1",
          attempts: 1,
          code: "SYNC_E_EXTRACT",
          error: "bad xref",
        }),
      ]);
      const first = journal.listFailures()[0];

      journal.recordFailure("alice", "docs", "a.pdf", "fp1", "SYNC_E_EMBED", "timeout");
      expect(journal.listFailures()[0]).toMatchObject({
        attempts: 2,
        fingerprint: "fp1",
        code: "SYNC_E_EMBED",
        error: "timeout",
      });
      journal.recordFailure("alice", "docs", "a.pdf", "fp1", "SYNC_E_EMBED", "timeout");
      expect(journal.listFailures()[0]?.attempts).toBe(3);

      journal.recordFailure("alice", "docs", "a.pdf", "fp2", "SYNC_E_EXTRACT", "still bad");
      const last = journal.listFailures()[0];
      expect(last).toMatchObject({
        attempts: 1,
        fingerprint: "fp2",
        code: "SYNC_E_EXTRACT",
        error: "still bad",
      });
      expect(last?.firstFailedAt).toBe(first?.firstFailedAt);
      expect((last?.lastFailedAt ?? "") >= (first?.lastFailedAt ?? "")).toBe(true);
      expect(journal.listFailures()).toHaveLength(1);
    });

    it("failures are counted per user and source, and listFailures filters and orders them", () => {
      journal.recordFailure("bob", "docs", "k", "fp", "SYNC_E_EXTRACT", "e");
      journal.recordFailure("alice", "mail", "k", "fp", "SYNC_E_EXTRACT", "e");
      journal.recordFailure("alice", "docs", "z", "fp", "SYNC_E_EXTRACT", "e");
      journal.recordFailure("alice", "docs", "k", "fp", "SYNC_E_EXTRACT", "e");
      journal.recordFailure("alice", "docs", "k", "fp", "SYNC_E_EXTRACT", "e");

      const ids = (fs: ReturnType<Journal["listFailures"]>) =>
        fs.map((f) => `${f.userId}/${f.sourceName}/${f.key}:${f.attempts}`);
      expect(ids(journal.listFailures())).toEqual([
        "alice/docs/k:2",
        "alice/docs/z:1",
        "alice/mail/k:1",
        "bob/docs/k:1",
      ]);
      expect(ids(journal.listFailures("alice"))).toEqual([
        "alice/docs/k:2",
        "alice/docs/z:1",
        "alice/mail/k:1",
      ]);
      expect(ids(journal.listFailures("alice", "mail"))).toEqual(["alice/mail/k:1"]);
      expect(journal.listFailures("carol")).toEqual([]);
    });

    it("clearFailures removes only the given keys of that user and source", () => {
      for (const [u, s, k] of [
        ["alice", "docs", "a"],
        ["alice", "docs", "b"],
        ["alice", "mail", "a"],
        ["bob", "docs", "a"],
      ] as const) {
        journal.recordFailure(u, s, k, "fp", "SYNC_E_EXTRACT", "e");
      }
      journal.clearFailures("alice", "docs", []);
      expect(journal.listFailures()).toHaveLength(4);
      journal.clearFailures("alice", "docs", ["a", "unknown"]);
      expect(journal.listFailures().map((f) => `${f.userId}/${f.sourceName}/${f.key}`)).toEqual([
        "alice/docs/b",
        "alice/mail/a",
        "bob/docs/a",
      ]);
      journal.clearFailures("carol", "docs", ["a"]);
      expect(journal.listFailures()).toHaveLength(3);
    });

    it("cleanupFailures removes all, one user's, or one source's failures and returns how many", () => {
      const seed = () => {
        for (const [u, s, k] of [
          ["alice", "docs", "a"],
          ["alice", "docs", "b"],
          ["alice", "mail", "a"],
          ["bob", "docs", "a"],
          ["bob", "mail", "a"],
        ] as const) {
          journal.recordFailure(u, s, k, "fp", "SYNC_E_EXTRACT", "e");
        }
      };
      seed();
      expect(journal.cleanupFailures("alice", "docs")).toBe(2);
      expect(journal.cleanupFailures("alice", "docs")).toBe(0);
      expect(journal.listFailures()).toHaveLength(3);
      expect(journal.cleanupFailures("bob")).toBe(2);
      expect(journal.listFailures().map((f) => `${f.userId}/${f.sourceName}`)).toEqual(["alice/mail"]);
      expect(journal.cleanupFailures("carol")).toBe(0);

      seed();
      expect(journal.listFailures()).toHaveLength(5);
      expect(journal.cleanupFailures()).toBe(5);
      expect(journal.cleanupFailures()).toBe(0);
      expect(journal.listFailures()).toEqual([]);
    });

    it("failures and items are independent: commitItems does not clear failures", () => {
      journal.recordFailure("alice", "docs", "a", "fp", "SYNC_E_EXTRACT", "e");
      journal.commitItems("alice", "docs", [synced("a")], []);
      journal.commitItems("alice", "docs", [], ["a"]);
      expect(journal.listFailures("alice", "docs")).toHaveLength(1);
    });
  });

  describe("runs", () => {
    it("startRun returns increasing ids; lastRuns lists newest first, limited, optionally per user", () => {
      const r1 = journal.startRun("alice", "docs");
      const r2 = journal.startRun("bob", "docs");
      const r3 = journal.startRun("alice", "mail");
      expect(r2).toBeGreaterThan(r1);
      expect(r3).toBeGreaterThan(r2);

      expect(journal.lastRuns(10).map((r) => r.runId)).toEqual([r3, r2, r1]);
      expect(journal.lastRuns(2).map((r) => r.runId)).toEqual([r3, r2]);
      expect(journal.lastRuns(10, "alice").map((r) => [r.runId, r.sourceName])).toEqual([
        [r3, "mail"],
        [r1, "docs"],
      ]);
      expect(journal.lastRuns(1, "alice").map((r) => r.runId)).toEqual([r3]);
      expect(journal.lastRuns(10, "carol")).toEqual([]);
    });

    it("a started run is running with no finish time, stats or error", () => {
      const id = journal.startRun("alice", "docs");
      const [run] = journal.lastRuns(1);
      expect(run).toMatchObject({
        runId: id,
        userId: "alice",
        sourceName: "docs",
        finishedAt: null,
        status: "running",
        stats: null,
        error: null,
      });
      expect(typeof run?.startedAt).toBe("string");
    });

    it("finishRun records status, stats (round-trip) and error of that run only", () => {
      const ok = journal.startRun("alice", "docs");
      const bad = journal.startRun("alice", "docs");
      const open = journal.startRun("alice", "docs");
      journal.finishRun(ok, "succeeded", STATS, null);
      journal.finishRun(bad, "failed", null, "SYNC_E_STORAGE: disk full");

      const byId = new Map(journal.lastRuns(10).map((r) => [r.runId, r]));
      expect(byId.get(ok)).toMatchObject({ status: "succeeded", stats: STATS, error: null });
      expect(typeof byId.get(ok)?.finishedAt).toBe("string");
      expect((byId.get(ok)?.finishedAt ?? "") >= (byId.get(ok)?.startedAt ?? "~")).toBe(true);
      expect(byId.get(bad)).toMatchObject({
        status: "failed",
        stats: null,
        error: "SYNC_E_STORAGE: disk full",
      });
      expect(byId.get(open)).toMatchObject({ status: "running", finishedAt: null, stats: null });

      journal.finishRun(open, "partial", { ...STATS, failed: 7 }, null);
      expect(journal.lastRuns(1)[0]).toMatchObject({ runId: open, status: "partial", stats: { failed: 7 } });
    });

    it("returned runs are copies: mutating them does not change the journal", () => {
      const id = journal.startRun("alice", "docs");
      journal.finishRun(id, "succeeded", STATS, null);
      const [run] = journal.lastRuns(1);
      if (!run?.stats) throw new Error("run missing");
      run.stats.added = 999;
      run.status = "failed";
      expect(journal.lastRuns(1)[0]).toMatchObject({ status: "succeeded", stats: STATS });
    });

    it("lastRunStart is the start of the source's last run that listed (succeeded or partial)", () => {
      expect(journal.lastRunStart("alice", "docs")).toBeUndefined();
      const a = journal.startRun("alice", "docs");
      journal.finishRun(a, "partial", STATS, null);
      const started = journal.lastRuns(1)[0]?.startedAt;
      const b = journal.startRun("alice", "docs");
      journal.finishRun(b, "failed", STATS, "listing failed");
      journal.startRun("alice", "docs"); // still running
      const other = journal.startRun("alice", "mail");
      journal.finishRun(other, "succeeded", STATS, null);
      expect(journal.lastRunStart("alice", "docs")).toBe(started);
      expect(journal.lastRunStart("bob", "docs")).toBeUndefined();
    });
  });

  describe("store verification", () => {
    it("demoteItems makes synced items pending with no fingerprint or hash; other items are untouched", () => {
      journal.commitItems(
        "alice",
        "docs",
        [
          { key: "a", docId: "da", fingerprint: "fa", contentHash: "ha", status: "synced" },
          { key: "b", docId: "db", fingerprint: "fb", contentHash: "hb", status: "synced" },
        ],
        [],
      );
      journal.demoteItems("alice", "docs", ["a", "unknown"]);
      journal.demoteItems("bob", "docs", ["b"]);
      const items = journal.listItems("alice", "docs");
      expect(items.get("a")).toEqual({
        key: "a",
        docId: "da",
        fingerprint: "",
        contentHash: "",
        status: "pending",
      });
      expect(items.get("b")).toEqual({
        key: "b",
        docId: "db",
        fingerprint: "fb",
        contentHash: "hb",
        status: "synced",
      });
      expect(items.has("unknown")).toBe(false);
    });

    it("markSourceVerified records the epoch at which a source was checked against the store", () => {
      journal.upsertSource({ userId: "alice", name: "docs", type: "local_filesystem", config: {} });
      expect(journal.getSource("alice", "docs")?.storeEpoch).toBe(0);
      journal.markSourceVerified("alice", "docs", 3);
      expect(journal.getSource("alice", "docs")?.storeEpoch).toBe(3);
      journal.upsertSource({
        userId: "alice",
        name: "docs",
        type: "local_filesystem",
        config: { changed: true },
      });
      expect(journal.getSource("alice", "docs")?.storeEpoch).toBe(3);
    });
  });

  describe("service parts: runs, counts, store epoch, settings, leases, uploads", () => {
    it("pruneRuns keeps the newest N finished runs of each source and never a running one", () => {
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) {
        const id = journal.startRun("alice", "docs");
        ids.push(id);
        if (i < 4) journal.finishRun(id, i % 2 ? "succeeded" : "failed", STATS, null);
      }
      journal.finishRun(journal.startRun("alice", "other"), "succeeded", STATS, null);
      expect(journal.pruneRuns(2)).toBe(2);
      const left = journal.lastRuns(100).map((r) => r.runId);
      expect(left).toContain(ids[4]);
      expect(left).toContain(ids[3]);
      expect(left).toContain(ids[2]);
      expect(left).not.toContain(ids[0]);
      expect(left).not.toContain(ids[1]);
      expect(journal.lastRuns(100, "alice").filter((r) => r.sourceName === "other")).toHaveLength(1);
      expect(journal.pruneRuns(2)).toBe(0);
    });

    it("abandonRuns marks one source's running runs abandoned, or every run without a live run lease", () => {
      const a = journal.startRun("alice", "docs");
      const b = journal.startRun("alice", "live");
      const c = journal.startRun("bob", "docs");
      expect(journal.tryLease("run:alice\0live", "me", "sync", 60_000)).toBeUndefined();
      expect(journal.abandonRuns("bob", "docs")).toBe(1);
      expect(journal.abandonRuns()).toBe(1);
      const status = new Map(journal.lastRuns(10).map((r) => [r.runId, r.status]));
      expect([status.get(a), status.get(b), status.get(c)]).toEqual(["abandoned", "running", "abandoned"]);
    });

    it("counts items, pending items and failures, in all or for one user", () => {
      journal.commitItems("alice", "docs", [synced("a"), synced("b")], []);
      journal.markPending("alice", "docs", [{ key: "c", docId: "doc-c" }]);
      journal.commitItems("bob", "docs", [synced("x")], []);
      journal.recordFailure("bob", "docs", "y", "fp", "SYNC_E_CORRUPT_FILE", "bad");
      expect(journal.counts()).toEqual({ items: 4, pending: 1, failures: 1 });
      expect(journal.counts("alice")).toEqual({ items: 3, pending: 1, failures: 0 });
      expect(journal.counts("bob")).toEqual({ items: 1, pending: 0, failures: 1 });
      journal.commitItems("alice", "other", [synced("z")], []);
      expect(journal.counts("alice", "docs")).toEqual({ items: 3, pending: 1, failures: 0 });
      expect(journal.counts("alice", "other")).toEqual({ items: 1, pending: 0, failures: 0 });
      expect(journal.counts("bob", "docs")).toEqual({ items: 1, pending: 0, failures: 1 });
    });

    it("store epoch starts at 0, bumps by one; forgetAll bumps it, forgets items, failures and settings, keeps sources", () => {
      expect(journal.storeEpoch()).toBe(0);
      expect(journal.bumpStoreEpoch()).toBe(1);
      journal.upsertSource({ userId: "alice", name: "docs", type: "upload", config: {} });
      journal.commitItems("alice", "docs", [synced("a")], []);
      journal.recordFailure("alice", "docs", "b", "fp", "SYNC_E_CORRUPT_FILE", "bad");
      journal.putUpload(upload("alice", "docs", "a", "h"));
      journal.setMeta("embedder_id", "x");
      expect(journal.forgetAll()).toBe(2);
      expect(journal.storeEpoch()).toBe(2);
      expect(journal.getMeta("embedder_id")).toBeUndefined();
      expect(journal.counts()).toEqual({ items: 0, pending: 0, failures: 0 });
      expect(journal.getSource("alice", "docs")?.storeEpoch).toBe(2);
      expect(journal.listUploads("alice", "docs")).toHaveLength(1);
    });

    it("settings round-trip and are replaced", () => {
      expect(journal.getMeta("k")).toBeUndefined();
      journal.setMeta("k", "1");
      journal.setMeta("k", "2");
      expect(journal.getMeta("k")).toBe("2");
    });

    it("leases: one owner at a time; renew, release and clear; an expired lease is taken over", async () => {
      expect(journal.tryLease("L", "a", "sync", 60_000)).toBeUndefined();
      expect(journal.tryLease("L", "b", "compact", 60_000)).toMatchObject({
        name: "L",
        owner: "a",
        purpose: "sync",
      });
      expect(journal.tryLease("L", "a", "sync", 60_000)).toBeUndefined();
      expect(journal.renewLease("L", "a", 60_000)).toBe(true);
      expect(journal.renewLease("L", "b", 60_000)).toBe(false);
      journal.releaseLease("L", "b");
      expect(journal.listLeases().map((l) => l.owner)).toEqual(["a"]);
      journal.releaseLease("L", "a");
      expect(journal.listLeases()).toEqual([]);
      expect(journal.tryLease("L", "a", "sync", 1)).toBeUndefined();
      await new Promise((r) => setTimeout(r, 10));
      expect(journal.tryLease("L", "b", "compact", 60_000)).toBeUndefined();
      expect(journal.renewLease("L", "a", 60_000)).toBe(false);
      expect(journal.clearLease("L")).toMatchObject({ owner: "b" });
      expect(journal.clearLease("L")).toBeUndefined();
    });

    it("uploads: put replaces by key, list orders by key, delete reports, referencedBlobs spans every source", () => {
      journal.putUpload(upload("alice", "up", "b.txt", "h1"));
      journal.putUpload(upload("alice", "up", "a.txt", "h2"));
      journal.putUpload({ ...upload("alice", "up", "b.txt", "h3"), metadata: { tag: "x" } });
      journal.putUpload(upload("bob", "up", "a.txt", "h2"));
      expect(journal.getUpload("alice", "up", "b.txt")).toMatchObject({
        blobHash: "h3",
        metadata: { tag: "x" },
      });
      expect(journal.listUploads("alice", "up").map((u) => u.key)).toEqual(["a.txt", "b.txt"]);
      expect([...journal.referencedBlobs()].sort()).toEqual(["h2", "h3"]);
      expect(journal.deleteUpload("alice", "up", "a.txt")).toBe(true);
      expect(journal.deleteUpload("alice", "up", "a.txt")).toBe(false);
      expect([...journal.referencedBlobs()].sort()).toEqual(["h2", "h3"]);
      journal.deleteUpload("bob", "up", "a.txt");
      expect([...journal.referencedBlobs()]).toEqual(["h3"]);
      expect(journal.getUpload("alice", "up", "a.txt")).toBeUndefined();
    });
  });
});

describe("SqliteJournal only", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  const open: SqliteJournal[] = [];
  const journalAt = (path: string) => {
    const j = new SqliteJournal(path);
    open.push(j);
    return j;
  };

  beforeEach(() => {
    tmp = makeTempDir("lancedb-sync-conformance-");
  });

  afterEach(() => {
    for (const j of open.splice(0)) j.close();
    tmp.cleanup();
  });

  const userVersion = (path: string): number => {
    const db = new Database(path, { readonly: true });
    try {
      return db.pragma("user_version", { simple: true }) as number;
    } finally {
      db.close();
    }
  };

  it("keeps sources, items, failures and runs across close and reopen", () => {
    const path = join(tmp.path, "journal.db");
    const a = journalAt(path);
    a.upsertSource({ userId: "alice", name: "docs", type: "local_filesystem", config: { root: "/r" } });
    a.setSourceHealth("alice", "docs", false, "boom");
    a.commitItems("alice", "docs", [synced("a"), synced("b")], []);
    a.markPending("alice", "docs", [
      { key: "b", docId: "doc-b" },
      { key: "c", docId: "doc-c" },
    ]);
    a.recordFailure("alice", "docs", "x", "fp", "SYNC_E_EXTRACT", "e");
    a.recordFailure("alice", "docs", "x", "fp", "SYNC_E_EXTRACT", "e");
    const run = a.startRun("alice", "docs");
    a.finishRun(run, "partial", STATS, null);
    const before = {
      source: a.getSource("alice", "docs"),
      items: itemsOf(a, "alice", "docs"),
      failures: a.listFailures(),
      runs: a.lastRuns(5),
    };
    a.close();

    const b = journalAt(path);
    expect({
      source: b.getSource("alice", "docs"),
      items: itemsOf(b, "alice", "docs"),
      failures: b.listFailures(),
      runs: b.lastRuns(5),
    }).toEqual(before);
    expect(before.items.c?.status).toBe("pending");
    expect(before.failures[0]?.attempts).toBe(2);
    // Run ids keep increasing after a reopen.
    expect(b.startRun("alice", "docs")).toBeGreaterThan(run);
  });

  it("migrations are idempotent: user_version is the number of migrations after every open", () => {
    const path = join(tmp.path, "journal.db");
    const a = journalAt(path);
    a.commitItems("alice", "docs", [synced("a")], []);
    a.close();
    expect(userVersion(path)).toBe(JOURNAL_MIGRATIONS.length);

    for (let i = 0; i < 2; i++) {
      const again = journalAt(path);
      expect(again.db.pragma("user_version", { simple: true })).toBe(JOURNAL_MIGRATIONS.length);
      expect(itemsOf(again, "alice", "docs")).toEqual({ a: synced("a") });
      again.close();
    }
    expect(userVersion(path)).toBe(JOURNAL_MIGRATIONS.length);
  });

  it("a journal left at an older schema version is migrated forward, keeping its rows", () => {
    const path = join(tmp.path, "old.db");
    const db = new Database(path);
    db.exec(JOURNAL_MIGRATIONS[0] as string);
    db.pragma("user_version = 1");
    db.prepare(
      `INSERT INTO items (user_id, source_name, item_key, doc_id, fingerprint, content_hash, status, updated_at)
       VALUES ('alice', 'docs', 'a', 'doc-a', 'fp-a', 'hash-a', 'synced', '2024-01-01T00:00:00.000Z')`,
    ).run();
    db.prepare(
      `INSERT INTO sources (user_id, name, type, config_json, created_at, updated_at)
       VALUES ('alice', 'docs', 'fs', '{"paths":["/d"]}', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z')`,
    ).run();
    db.close();

    const j = journalAt(path);
    expect(j.db.pragma("user_version", { simple: true })).toBe(JOURNAL_MIGRATIONS.length);
    expect(itemsOf(j, "alice", "docs")).toEqual({ a: synced("a") });
    // Sources recorded as `fs` by earlier releases take the design's type name.
    expect(j.getSource("alice", "docs")).toMatchObject({
      type: "local_filesystem",
      config: { paths: ["/d"] },
      enabled: true,
      pollInterval: null,
    });
    j.setMeta("embedder_id", "x"); // a table of a later migration
    expect(j.getMeta("embedder_id")).toBe("x");
  });

  it("two instances on one file see each other's commits", () => {
    const path = join(tmp.path, "journal.db");
    const a = journalAt(path);
    const b = journalAt(path);

    a.upsertSource({ userId: "alice", name: "docs", type: "local_filesystem", config: {} });
    a.commitItems("alice", "docs", [synced("a")], []);
    expect(b.getSource("alice", "docs")?.type).toBe("local_filesystem");
    expect(itemsOf(b, "alice", "docs")).toEqual({ a: synced("a") });

    b.markPending("alice", "docs", [{ key: "a", docId: "doc-a" }]);
    b.recordFailure("alice", "docs", "z", "fp", "SYNC_E_EXTRACT", "e");
    expect(a.listItems("alice", "docs").get("a")?.status).toBe("pending");
    expect(a.listFailures()).toHaveLength(1);
    a.recordFailure("alice", "docs", "z", "fp", "SYNC_E_EXTRACT", "e");
    expect(b.listFailures()[0]?.attempts).toBe(2);

    const r1 = a.startRun("alice", "docs");
    const r2 = b.startRun("alice", "docs");
    expect(r2).not.toBe(r1);
    a.finishRun(r2, "succeeded", STATS, null);
    expect(b.lastRuns(2).map((r) => [r.runId, r.status])).toEqual([
      [r2, "succeeded"],
      [r1, "running"],
    ]);
    expect(b.cleanupFailures()).toBe(1);
    expect(a.listFailures()).toEqual([]);
  });
});
