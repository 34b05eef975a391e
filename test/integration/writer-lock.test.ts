import { existsSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { type CliResult, runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import {
  type CliEnv,
  envFor,
  expectStoreMatchesFiles,
  journalItems,
  keyOf,
  listFiles,
  readTables,
  show,
  sleep,
  spawnCli,
  writeCorpus,
} from "./support.js";

const USER = "alice";
const SOURCE = "corpus";
/** A host identity that is not this one: its PID cannot be checked, so only the lease's expiry counts. */
const FOREIGN_HOST = "otherhost/pid:[4026531836]";

const temps: Array<{ cleanup: () => void }> = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.cleanup();
});

function setup(count: number, seed: number, extra: Record<string, string> = {}) {
  const tmp = makeTempDir("lancedb-sync-lock-");
  temps.push(tmp);
  const docs = join(tmp.path, "docs");
  mkdirSync(docs);
  if (count > 0) writeCorpus(docs, count, seed);
  const env = envFor(tmp.path, { WRITE_BATCH_DOCS: "20", ...extra });
  const syncArgs = ["sync", docs, "--user", USER, "--source", SOURCE, "--json"];
  const run = (args: string[], more: Record<string, string> = {}) =>
    runCli(args, { cwd: tmp.path, env: { ...env, ...more } });
  const sync = (more: Record<string, string> = {}) => run(syncArgs, more);
  const spawn = (args: string[], more: Record<string, string> = {}) =>
    spawnCli(args, { cwd: tmp.path, env: { ...env, ...more } });
  const spawnSync = (more: Record<string, string> = {}) => spawn(syncArgs, more);
  return { dir: tmp.path, docs, env, run, sync, spawn, spawnSync };
}

async function expectConsistent(env: CliEnv, docs: string, userId = USER, sourceId = SOURCE) {
  const files = listFiles(docs);
  const r = await expectStoreMatchesFiles(env, files, { userId, sourceId });
  expect(r.chunks.length, "multi-chunk files").toBeGreaterThan(files.length);
  expect(r.textChecked).toBe(r.chunks.length);
  return r;
}

/**
 * A full-text search for the tag `writeCorpus` puts in every paragraph of `file` (`doc-0375.txt`: `doc375`)
 * finds that file first (full text: the test embedder's vectors carry no meaning).
 */
async function expectFound(s: ReturnType<typeof setup>, file: string, userId = USER) {
  const tag = basename(file).replace(/-0*(\d+)\.\w+$/, "$1");
  const r = await s.run(["search", tag, "--user", userId, "--mode", "fts", "--json"]);
  expect(r.code, show(r)).toBe(0);
  expect(r.json.hits.length, `hits for "${tag}"`).toBeGreaterThan(0);
  expect(r.json.hits[0].item_key).toBe(keyOf(file));
}

/** Number of synced journal items (0 while the journal does not exist yet). */
function syncedCount(statePath: string): number {
  if (!existsSync(statePath)) return 0;
  try {
    return journalItems(statePath).filter((i) => i.status === "synced").length;
  } catch {
    return 0; // the journal is being created
  }
}

/** Waits until the first batch of a sync is committed to the journal. */
async function firstBatchCommitted(statePath: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (syncedCount(statePath) === 0 && !done() && Date.now() < deadline) await sleep(10);
}

/**
 * An OpenAI-compatible embeddings server with a gate: while closed, requests wait (the sync sits between two
 * writes, embedding, not holding the store's writer lock); opening it lets them through.
 */
async function gatedEmbedder() {
  let open = true;
  const waiters: Array<() => void> = [];
  const server = await startEmbeddingsServer({
    dimensions: 16,
    behaviour: async () => {
      while (!open) await new Promise<void>((r) => waiters.push(r));
      return "default" as const;
    },
  });
  return {
    server,
    env: {
      EMBEDDING_PROVIDER: "openai",
      EMBEDDING_BASE_URL: server.url,
      EMBEDDING_DIMENSIONS: "16",
      EMBEDDING_BATCH_SIZE: "16",
      EMBEDDING_API_KEY: "sk-local-test",
    },
    close() {
      open = false;
    },
    open() {
      open = true;
      for (const w of waiters.splice(0)) w();
    },
  };
}

/**
 * Deterministic interleaving: once the first batch of the running sync `a` is committed, holds its embedding
 * requests (so it stops between two writes), runs `other` to completion, then lets the sync go on. Returns
 * both results and whether `other` finished while the sync was held mid-run.
 */
async function duringSync(
  a: ReturnType<typeof spawnCli>,
  statePath: string,
  gate: Awaited<ReturnType<typeof gatedEmbedder>>,
  other: () => Promise<CliResult>,
): Promise<{ sync: CliResult; other: CliResult; otherRanMidSync: boolean }> {
  let syncDone = false;
  void a.done.then(() => {
    syncDone = true;
  });
  let o: CliResult;
  try {
    await firstBatchCommitted(statePath, () => syncDone);
    gate.close();
    expect(syncDone, "the sync was still running after its first batch").toBe(false);
    o = await other();
  } finally {
    gate.open();
  }
  const otherRanMidSync = !syncDone;
  return { sync: await a.done, other: o, otherRanMidSync };
}

/** Runs of the journal's `runs` table. */
function journalRuns(statePath: string): Array<{ run_id: number; source_name: string; status: string }> {
  const db = new Database(statePath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT run_id, source_name, status FROM runs ORDER BY run_id").all() as Array<{
      run_id: number;
      source_name: string;
      status: string;
    }>;
  } finally {
    db.close();
  }
}

/** Plants a lease held by a process on another host, valid for an hour. */
function plantLease(statePath: string, name: string, purpose: string): void {
  const db = new Database(statePath, { fileMustExist: true });
  try {
    db.prepare(
      `INSERT INTO leases (name, owner, purpose, pid, host, acquired_at, expires_at)
       VALUES (?, 'foreign-owner', ?, 4242, ?, ?, ?)`,
    ).run(name, purpose, FOREIGN_HOST, new Date().toISOString(), Date.now() + 3_600_000);
  } finally {
    db.close();
  }
}

/** The name of a run lock as the journal spells it. */
const runLock = (user: string, source: string) => `run:${user}\0${source}`;

function errorOf(r: CliResult): { code: string; message: string } {
  expect(r.json?.error, show(r)).toBeDefined();
  return r.json.error;
}

describe("the store's writer lock", () => {
  it("g. compact --retention-hours 0 during a running sync: both succeed, nothing lost", async () => {
    const gate = await gatedEmbedder();
    try {
      const s = setup(600, 70, gate.env);
      const {
        sync: ra,
        other: compact,
        otherRanMidSync,
      } = await duringSync(s.spawnSync(), s.env.STATE_DB_PATH, gate, () =>
        s.run(["compact", "--retention-hours", "0", "--json"]),
      );
      expect(otherRanMidSync, "compact ran between two batches of the sync").toBe(true);
      expect(compact.code, show(compact)).toBe(0);
      expect(ra.code, show(ra)).toBe(0);
      expect(ra.json).toMatchObject({ added: 600, failed: 0 });
      await expectConsistent(s.env, s.docs);
      await expectFound(s, listFiles(s.docs)[321] as string);

      const again = await s.sync();
      expect(again.code, show(again)).toBe(0);
      expect(again.json).toMatchObject({ unchanged: 600, added: 0, repaired: 0, embedded_chunks: 0 });
    } finally {
      await gate.server.close();
    }
  });

  it("h. reset --yes during a first sync: the sync does not claim success for rows reset dropped", async () => {
    const gate = await gatedEmbedder();
    try {
      const s = setup(600, 71, gate.env);
      const {
        sync: ra,
        other: reset,
        otherRanMidSync,
      } = await duringSync(s.spawnSync(), s.env.STATE_DB_PATH, gate, () =>
        s.run(["reset", "--yes", "--json"]),
      );
      expect(reset.code, show(reset)).toBe(0);
      expect(otherRanMidSync, "reset ran between two batches of the sync").toBe(true);
      if (ra.code === 0) {
        // Only acceptable if reset had waited for the whole sync: then it dropped everything after it.
        const t = await readTables(s.env.LANCEDB_URI);
        expect(t.docs.length + t.chunks.length, `rows left after the reset; sync ${show(ra)}`).toBe(0);
        expect(journalItems(s.env.STATE_DB_PATH), "journal items after the reset").toEqual([]);
      } else {
        expect(ra.code, show(ra)).toBe(1);
        expect(errorOf(ra).code).toBe("SYNC_E_STORE_CHANGED");
        // Nothing is marked synced that has no row.
        const synced = journalItems(s.env.STATE_DB_PATH).filter((i) => i.status === "synced");
        const t = await readTables(s.env.LANCEDB_URI);
        const rowKeys = new Set(t.docs.map((d) => d.item_key));
        for (const i of synced)
          expect(rowKeys.has(i.item_key), `${i.item_key} synced but has no row`).toBe(true);
      }

      const r = await s.sync();
      expect(r.code, show(r)).toBe(0);
      expect(r.json.failed).toBe(0);
      await expectConsistent(s.env, s.docs);
      await expectFound(s, listFiles(s.docs)[123] as string);
      const again = await s.sync();
      expect(again.json).toMatchObject({ unchanged: 600, added: 0, repaired: 0, embedded_chunks: 0 });
    } finally {
      await gate.server.close();
    }
  });

  it("i. syncs of different sources at the same time (same user and another user): each gets its rows", async () => {
    const tmp = makeTempDir("lancedb-sync-lock-");
    temps.push(tmp);
    const env = envFor(tmp.path, { WRITE_BATCH_DOCS: "10" });
    const jobs = [
      { user: "alice", source: "a", seed: 80 },
      { user: "alice", source: "b", seed: 81 },
      { user: "bob", source: "c", seed: 82 },
    ].map((j) => {
      const dir = join(tmp.path, j.source);
      mkdirSync(dir);
      writeCorpus(dir, 120, j.seed, j.source);
      return { ...j, dir };
    });
    const argsOf = (j: (typeof jobs)[number]) => [
      "sync",
      j.dir,
      "--user",
      j.user,
      "--source",
      j.source,
      "--json",
    ];

    // Round 1: first syncs into an empty store (the tables do not exist yet), all at once.
    const first = await Promise.all(jobs.map((j) => runCli(argsOf(j), { cwd: tmp.path, env })));
    for (const [k, r] of first.entries()) {
      expect(r.code, show(r)).toBe(0);
      expect(r.json).toMatchObject({ added: 120, failed: 0 });
      expect(jobs[k]?.source).toBe(r.json.source);
    }
    for (const j of jobs) await expectConsistent(env, j.dir, j.user, j.source);

    // Round 2: more files in each source, synced at once into the non-empty store.
    for (const j of jobs) writeCorpus(join(j.dir, "more"), 60, j.seed + 10, `${j.source}more`);
    const second = await Promise.all(jobs.map((j) => runCli(argsOf(j), { cwd: tmp.path, env })));
    for (const r of second) {
      expect(r.code, show(r)).toBe(0);
      expect(r.json).toMatchObject({ added: 60, unchanged: 120, repaired: 0, failed: 0 });
    }
    for (const j of jobs) await expectConsistent(env, j.dir, j.user, j.source);
    const t = await readTables(env.LANCEDB_URI);
    expect(t.docs.length).toBe(3 * 180);
  });

  it("k. LOCK_WAIT_SECONDS=0 with the writer lock held elsewhere: SYNC_E_STORE_BUSY naming the holder; unlock --writer", async () => {
    const s = setup(20, 90, { LOCK_WAIT_SECONDS: "0" });
    const first = await s.sync();
    expect(first.code, show(first)).toBe(0);
    const added = writeCorpus(join(s.docs, "added"), 10, 91, "added");
    plantLease(s.env.STATE_DB_PATH, "store-writer", "compact");

    const blocked = await s.sync();
    expect(blocked.code, show(blocked)).toBe(1);
    const err = errorOf(blocked);
    expect(err.code).toBe("SYNC_E_STORE_BUSY");
    expect(err.message).toContain("compact");
    expect(err.message).toContain("4242");
    expect(err.message).toContain("otherhost");
    // Nothing of the blocked run reached the tables or the journal.
    const t = await readTables(s.env.LANCEDB_URI);
    expect(t.docs.length).toBe(20);
    expect(journalItems(s.env.STATE_DB_PATH).filter((i) => i.status === "pending")).toEqual([]);

    const unlock = await s.run(["unlock", "--writer", "--json"]);
    expect(unlock.code, show(unlock)).toBe(0);
    expect(unlock.json.removed).toMatchObject({ purpose: "compact", pid: 4242, host: FOREIGN_HOST });

    const r = await s.sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ added: added.length, unchanged: 20, failed: 0 });
    await expectConsistent(s.env, s.docs);
  });
});

describe("run locks", () => {
  it("j. a lock left by kill -9 is taken over at once; a lock held elsewhere blocks until unlock", async () => {
    const s = setup(100, 95, { LOCK_WAIT_SECONDS: "0" });
    const crashed = await s.sync({ LANCEDB_SYNC_CRASH_AT: "batch-applied:0" });
    expect(crashed.signal, show(crashed)).toBe("SIGKILL");
    const runsBefore = journalRuns(s.env.STATE_DB_PATH);
    expect(runsBefore.map((r) => r.status)).toEqual(["running"]);

    // The dead process's run lock and writer lock are on this host: taken over at once (no lease wait).
    const t0 = performance.now();
    const rerun = await s.sync();
    const took = performance.now() - t0;
    expect(rerun.code, show(rerun)).toBe(0);
    expect(rerun.json.failed).toBe(0);
    expect(took, "the rerun did not wait for the 30 s lease").toBeLessThan(20_000);
    const runs = journalRuns(s.env.STATE_DB_PATH);
    expect(runs.map((r) => r.status)).toEqual(["abandoned", "succeeded"]);
    await expectConsistent(s.env, s.docs);

    // A run lock held by a live process elsewhere: the sync fails at once, unlock clears it.
    writeCorpus(join(s.docs, "added"), 5, 96, "added");
    plantLease(s.env.STATE_DB_PATH, runLock(USER, SOURCE), `sync of ${USER}/${SOURCE}`);
    const blocked = await s.sync();
    expect(blocked.code, show(blocked)).toBe(1);
    const err = errorOf(blocked);
    expect(err.code).toBe("SYNC_E_SOURCE_BUSY");
    expect(err.message).toContain("otherhost");

    const unlock = await s.run(["unlock", "--user", USER, "--source", SOURCE, "--json"]);
    expect(unlock.code, show(unlock)).toBe(0);
    expect(unlock.json.removed).toMatchObject({ pid: 4242, host: FOREIGN_HOST });
    const r = await s.sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ added: 5, unchanged: 100, failed: 0 });
    await expectConsistent(s.env, s.docs);
  });
});
