import { appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type CliResult, runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import {
  type CliEnv,
  envFor,
  expectStoreMatchesFiles,
  journalItems,
  listFiles,
  makeText,
  prng,
  readTables,
  show,
  spawnCli,
  writeCorpus,
} from "./support.js";

const USER = "alice";
const SOURCE = "corpus";

const temps: Array<{ cleanup: () => void }> = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.cleanup();
});

function setup(count: number, seed: number) {
  const tmp = makeTempDir("lancedb-sync-crash-");
  temps.push(tmp);
  const docs = join(tmp.path, "docs");
  mkdirSync(docs);
  writeCorpus(docs, count, seed);
  const env = envFor(tmp.path, { WRITE_BATCH_DOCS: "50" });
  const sync = (extra: Record<string, string> = {}) =>
    runCli(["sync", docs, "--user", USER, "--source", SOURCE, "--json"], {
      cwd: tmp.path,
      env: { ...env, ...extra },
    });
  return { dir: tmp.path, docs, env, sync };
}

async function expectConsistent(env: CliEnv, docs: string) {
  const files = listFiles(docs);
  const r = await expectStoreMatchesFiles(env, files, { userId: USER, sourceId: SOURCE });
  expect(r.chunks.length).toBeGreaterThan(files.length); // multi-chunk files
  expect(r.textChecked).toBe(r.chunks.length); // every chunk compared with its file's text
  return r;
}

/** ~10% modified (appended or rewritten), ~5% deleted, ~3% renamed, ~5% new files. */
function mutate(
  docs: string,
  seed: number,
): { modified: number; deleted: number; renamed: number; added: number } {
  const rand = prng(seed);
  const order = listFiles(docs);
  const n = order.length;
  for (let k = n - 1; k > 0; k--) {
    const j = Math.floor(rand() * (k + 1));
    [order[k], order[j]] = [order[j] as string, order[k] as string];
  }
  const nMod = Math.round(n * 0.1);
  const nDel = Math.round(n * 0.05);
  const nRen = Math.round(n * 0.03);
  const nAdd = Math.round(n * 0.05);
  const modified = order.slice(0, nMod);
  const deleted = order.slice(nMod, nMod + nDel);
  const renamed = order.slice(nMod + nDel, nMod + nDel + nRen);
  for (const f of modified) {
    if (rand() < 0.5) appendFileSync(f, `\n${makeText(rand, 300, `edit${seed}`)}`);
    else writeFileSync(f, makeText(rand, 1000 + Math.floor(rand() * 3000), `rewrite${seed}-${basename(f)}`));
  }
  for (const f of deleted) rmSync(f);
  for (const f of renamed) renameSync(f, join(dirname(f), `renamed-${seed}-${basename(f)}`));
  const addDir = join(docs, `added-${seed}`);
  mkdirSync(addDir, { recursive: true });
  writeCorpus(addDir, nAdd, seed + 1000, `new${seed}`);
  return { modified: nMod, deleted: nDel, renamed: nRen, added: nAdd };
}

describe("crash at a named step of a first sync (300 files, WRITE_BATCH_DOCS=50)", () => {
  /** What the journal must show right after the crash. */
  const points: Array<{ at: string; pending: boolean; synced: boolean }> = [
    { at: "listed:0", pending: false, synced: false },
    { at: "pending-marked:0", pending: true, synced: false },
    { at: "batch-applied:2", pending: true, synced: true },
    { at: "batch-committed:3", pending: false, synced: true },
  ];
  for (const point of points) {
    it(`SIGKILL at ${point.at}, then a rerun leaves exactly the files`, async () => {
      const s = setup(300, 42);
      const crashed = await s.sync({ LANCEDB_SYNC_CRASH_AT: point.at });
      expect(crashed.signal, show(crashed)).toBe("SIGKILL");
      const items = journalItems(s.env.STATE_DB_PATH);
      const pending = items.filter((i) => i.status === "pending").length;
      const synced = items.filter((i) => i.status === "synced").length;
      if (point.pending) expect(pending).toBeGreaterThan(0);
      else expect(pending).toBe(0);
      if (point.synced) expect(synced).toBeGreaterThan(0);
      else expect(synced).toBe(0);
      expect(synced).toBeLessThan(300);

      const rerun = await s.sync();
      expect(rerun.code, show(rerun)).toBe(0);
      expect(rerun.json.failed).toBe(0);
      expect(rerun.json.listed).toBe(300);
      // Work committed before the crash is not redone; the rest (pending included) is written now.
      expect(rerun.json.unchanged).toBe(synced);
      expect(rerun.json.added + rerun.json.updated).toBe(300 - synced);
      await expectConsistent(s.env, s.docs);

      const again = await s.sync();
      expect(again.code, show(again)).toBe(0);
      expect(again.json).toMatchObject({
        unchanged: 300,
        added: 0,
        updated: 0,
        deleted: 0,
        embedded_chunks: 0,
      });
    });
  }
});

describe("crash during an incremental sync with edits, deletes, renames and additions", () => {
  for (const at of ["pending-marked:0", "batch-applied:0", "deletes-applied:0"]) {
    it(`SIGKILL at ${at}, then a rerun leaves exactly the files`, async () => {
      const s = setup(300, 7);
      const first = await s.sync();
      expect(first.code, show(first)).toBe(0);
      expect(first.json.added).toBe(300);
      await expectConsistent(s.env, s.docs);

      const m = mutate(s.docs, 11);
      const crashed = await s.sync({ LANCEDB_SYNC_CRASH_AT: at });
      expect(crashed.signal, show(crashed)).toBe("SIGKILL");

      const rerun = await s.sync();
      expect(rerun.code, show(rerun)).toBe(0);
      expect(rerun.json.failed).toBe(0);
      expect(rerun.json.held_deletions).toBe(0);
      expect(rerun.json.listed).toBe(300 - m.deleted + m.added);
      await expectConsistent(s.env, s.docs);

      const again = await s.sync();
      expect(again.code, show(again)).toBe(0);
      expect(again.json).toMatchObject({
        unchanged: 300 - m.deleted + m.added,
        added: 0,
        updated: 0,
        moved: 0,
        deleted: 0,
        embedded_chunks: 0,
      });
    });
  }

  it("a run with no crash reports the changes as such (control for the crash cases)", async () => {
    const s = setup(300, 7);
    expect((await s.sync()).code).toBe(0);
    const m = mutate(s.docs, 11);
    const r = await s.sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({
      added: m.added,
      updated: m.modified,
      moved: m.renamed,
      deleted: m.deleted,
      unchanged: 300 - m.modified - m.deleted - m.renamed,
      failed: 0,
    });
    await expectConsistent(s.env, s.docs);
  });
});

describe("a lost journal", () => {
  it("is rebuilt from the tables: nothing re-embedded, later changes still detected", async () => {
    const s = setup(120, 23);
    expect((await s.sync()).code).toBe(0);
    rmSync(dirname(s.env.STATE_DB_PATH), { recursive: true, force: true });
    const r = await s.sync();
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ unchanged: 120, added: 0, updated: 0, deleted: 0, embedded_chunks: 0 });
    await expectConsistent(s.env, s.docs);

    rmSync(dirname(s.env.STATE_DB_PATH), { recursive: true, force: true });
    const m = mutate(s.docs, 3);
    const r2 = await s.sync();
    expect(r2.code, show(r2)).toBe(0);
    expect(r2.json).toMatchObject({
      added: m.added,
      updated: m.modified,
      moved: m.renamed,
      deleted: m.deleted,
    });
    await expectConsistent(s.env, s.docs);
  });
});

describe("SIGKILL at unplanned moments (time-based)", () => {
  /** Spawns a sync and kills it `delayMs` after spawning (if it is still running). */
  async function killedSync(docs: string, cwd: string, env: Record<string, string>, delayMs: number) {
    const { child, done } = spawnCli(["sync", docs, "--user", USER, "--source", SOURCE, "--json"], {
      cwd,
      env,
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
    const r = await done;
    clearTimeout(timer);
    return r;
  }

  /** Whether a kill landed: the child was terminated by SIGKILL rather than exiting on its own. */
  function landed(r: CliResult): boolean {
    if (r.signal === "SIGKILL") {
      expect(r.code, show(r)).toBeNull();
      return true;
    }
    expect(r.signal, show(r)).toBeNull();
    return false;
  }

  /** Wall time of one uninterrupted sync (milliseconds), asserting it succeeds. */
  async function timedSync(docs: string, cwd: string, env: Record<string, string>): Promise<number> {
    const t0 = performance.now();
    const r = await runCli(["sync", docs, "--user", USER, "--source", SOURCE, "--json"], { cwd, env });
    expect(r.code, show(r)).toBe(0);
    return performance.now() - t0;
  }

  /** Debug aid (DEBUG_KILLS=1): where did a kill land? */
  async function describeKill(env: CliEnv, delay: number, signal: string | null) {
    if (!process.env.DEBUG_KILLS) return;
    const t = await readTables(env.LANCEDB_URI).catch(() => ({ docs: [], chunks: [] }));
    let pending = -1;
    try {
      pending = journalItems(env.STATE_DB_PATH).filter((x) => x.status === "pending").length;
    } catch {}
    console.log(`kill at ${delay} ms: ${signal ?? "finished"}, ${t.docs.length} docs, ${pending} pending`);
  }

  it("a first sync of 600 files killed at several moments, each followed by a clean rerun", async () => {
    const tmp = makeTempDir("lancedb-sync-kill-");
    temps.push(tmp);
    const docs = join(tmp.path, "docs");
    mkdirSync(docs);
    writeCorpus(docs, 600, 99);

    // Calibrate on a separate database: a full first sync, and a no-op sync (start-up and listing).
    const calEnv = envFor(join(tmp.path, "cal"), { WRITE_BATCH_DOCS: "50" });
    const full = await timedSync(docs, tmp.path, calEnv);
    const idle = await timedSync(docs, tmp.path, calEnv);
    const work = Math.max(full - idle, 100);

    const delays = [150, 400, ...[0.1, 0.3, 0.5, 0.7, 0.9].map((f) => Math.round(idle + f * work))];
    let killed = 0;
    const missed: number[] = [];
    for (const [i, delay] of delays.entries()) {
      const env = envFor(join(tmp.path, `run-${i}`), { WRITE_BATCH_DOCS: "50" });
      const r = await killedSync(docs, tmp.path, env, delay);
      if (landed(r)) killed++;
      else {
        // The run beat the timer: it must have finished cleanly, and it counts as a missed kill.
        expect(r.code, show(r)).toBe(0);
        missed.push(delay);
      }
      await describeKill(env, delay, r.signal);
      const rerun = await runCli(["sync", docs, "--user", USER, "--source", SOURCE, "--json"], {
        cwd: tmp.path,
        env,
      });
      expect(rerun.code, `after a kill at ${delay} ms: ${show(rerun)}`).toBe(0);
      await expectConsistent(env, docs);
    }
    // Most kills must land, or the test only exercised clean runs.
    expect(killed + missed.length).toBe(delays.length);
    expect(killed, `runs actually killed (missed at ${missed.join(", ")} ms)`).toBeGreaterThanOrEqual(
      delays.length - 2,
    );
  });

  it("repeated kills of an incremental sync and of its recovery runs still converge", async () => {
    const tmp = makeTempDir("lancedb-sync-kill-");
    temps.push(tmp);
    const docs = join(tmp.path, "docs");
    mkdirSync(docs);
    writeCorpus(docs, 600, 5);
    const env = envFor(tmp.path, { WRITE_BATCH_DOCS: "40" });
    const full = await timedSync(docs, tmp.path, env);
    const idle = await timedSync(docs, tmp.path, env);
    const work = Math.max(full - idle, 100);
    await expectConsistent(env, docs);

    // About a third of the files change, so the incremental run has real work to be interrupted in.
    for (let round = 0; round < 3; round++) mutate(docs, 100 + round);
    const fractions = [0.15, 0.3, 0.05, 0.45];
    let killed = 0;
    const missed: number[] = [];
    for (const fraction of fractions) {
      const delay = Math.round(idle + fraction * work);
      const r = await killedSync(docs, tmp.path, env, delay);
      await describeKill(env, delay, r.signal);
      if (landed(r)) killed++;
      else {
        // Finished before the kill: then it must have succeeded; it is counted as a miss.
        expect(r.code, show(r)).toBe(0);
        missed.push(delay);
      }
    }
    // Most of the kills hit a running sync (the first one always interrupts the incremental run itself,
    // which has a third of the corpus to redo).
    expect(killed + missed.length).toBe(fractions.length);
    expect(killed, `kills that landed (missed at ${missed.join(", ")} ms)`).toBeGreaterThanOrEqual(
      fractions.length - 1,
    );
    const rerun = await runCli(["sync", docs, "--user", USER, "--source", SOURCE, "--json"], {
      cwd: tmp.path,
      env,
    });
    expect(rerun.code, show(rerun)).toBe(0);
    await expectConsistent(env, docs);
    const again = await runCli(["sync", docs, "--user", USER, "--source", SOURCE, "--json"], {
      cwd: tmp.path,
      env,
    });
    expect(again.json).toMatchObject({ added: 0, updated: 0, moved: 0, deleted: 0, embedded_chunks: 0 });
  });
});
