import { spawnSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import type { SyncSystem } from "../../src/index.js";
import { createSyncService, type SyncService } from "../../src/service/sync-service.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { jobs, startSystem, until, writeFiles } from "./support.js";

let tmp: ReturnType<typeof makeTempDir>;
let sys: SyncSystem;
let service: SyncService | undefined;

beforeEach(async () => {
  tmp = makeTempDir("svc-watch-");
  sys = await startSystem(tmp.path);
});

afterEach(async () => {
  await service?.stop();
  service = undefined;
  await sys.stop().catch(() => undefined);
  tmp.cleanup();
});

async function keys(sourceId: string): Promise<string[]> {
  const docs = await sys.listDocuments({ userId: "u1", sourceId, limit: 100 });
  return docs.map((d) => d.item_key.slice(d.item_key.lastIndexOf("/") + 1)).sort();
}

function idle(s: SyncService): boolean {
  const { running, queued } = s.queue.activity();
  return running.length + queued.length === 0;
}

/** Registers `dir` as a folder source of user u1 (polled every `pollInterval` s) and starts watching it. */
async function watchFolder(sourceId: string, dir: string, pollInterval?: number): Promise<SyncService> {
  await sys.sources.add({
    userId: "u1",
    sourceId,
    type: "local_filesystem",
    config: { watch_paths: [dir] },
    pollInterval,
  });
  return startWatching(sourceId);
}

async function startWatching(sourceId: string): Promise<SyncService> {
  const s = createSyncService({ system: sys, logger: silentLogger });
  service = s;
  await s.start();
  await until(
    "the watcher to be ready",
    () => s.monitors("u1").find((m) => m.source_id === sourceId)?.watching,
  );
  await until(
    "the start reconciliation",
    () =>
      jobs(s.queue, (j) => j.source_id === sourceId && j.reason === "start" && j.state === "succeeded")
        .length,
  );
  return s;
}

describe("live monitoring of a local folder", () => {
  it("creates, edits, renames (as a move) and deletes documents from watch events only", async () => {
    const dir = writeFiles(join(tmp.path, "notes"), {
      "alpha.md": "# Alpha\n\nThe alpha file talks about apples.\n",
      "beta.md": "# Beta\n\nThe beta file talks about bananas, at some length, to have a chunk.\n",
    });
    // Polls are an hour apart: what lands below comes from the watcher.
    const s = await watchFolder("notes", dir, 3600);
    expect(await keys("notes")).toEqual(["alpha.md", "beta.md"]);

    writeFileSync(join(dir, "gamma.md"), "# Gamma\n\nGamma rays and cherries.\n");
    // Skipped by the source's rules: no run ever names them.
    writeFiles(dir, {
      ".hidden.md": "# hidden",
      "node_modules/pkg/readme.md": "# module",
      "picture.png": "not a document",
    });
    await until("gamma.md to be indexed", async () => (await keys("notes")).includes("gamma.md"));

    const before = (await sys.listDocuments({ userId: "u1", sourceId: "notes" })).find((d) =>
      d.item_key.endsWith("/alpha.md"),
    );
    writeFileSync(join(dir, "alpha.md"), "# Alpha\n\nThe alpha file now talks about apricots.\n");
    await until("the edit of alpha.md to land", async () => {
      const docs = await sys.listDocuments({ userId: "u1", sourceId: "notes" });
      const now = docs.find((d) => d.item_key.endsWith("/alpha.md"));
      return now !== undefined && now.content_hash !== before?.content_hash;
    });

    renameSync(join(dir, "beta.md"), join(dir, "beta-renamed.md"));
    await until("the rename to land", async () => {
      const k = await keys("notes");
      return k.includes("beta-renamed.md") && !k.includes("beta.md");
    });
    // The documents show before the run has finished (and its job is recorded).
    const renameJob = await until("the rename's job", () => {
      const found = jobs(s.queue, (j) => j.kind === "changes" && (j.result?.moved ?? 0) > 0);
      return found.length > 0 ? found : undefined;
    });
    expect(renameJob).toHaveLength(1);
    expect(renameJob[0]?.result).toMatchObject({ moved: 1, deleted: 0, embedded_chunks: 0 });

    rmSync(join(dir, "gamma.md"));
    await until("the deletion to land", async () => !(await keys("notes")).includes("gamma.md"));
    expect(await keys("notes")).toEqual(["alpha.md", "beta-renamed.md"]);
    await until("the runs to finish", () => idle(s));

    const watchJobs = jobs(s.queue, (j) => j.reason === "watch");
    expect(watchJobs.every((j) => j.kind === "changes" && j.state === "succeeded")).toBe(true);
    // One deletion in all: gamma.md (the rename was a move).
    expect(watchJobs.reduce((n, j) => n + (j.result?.deleted ?? 0), 0)).toBe(1);
    expect(jobs(s.queue, (j) => j.reason === "poll")).toEqual([]);
    const m = s.monitors("u1")[0];
    expect(m).toMatchObject({
      source_id: "notes",
      type: "local_filesystem",
      watching: true,
      watch_error: null,
    });
    expect(m?.last_event_at).not.toBeNull();
    expect(s.sourcesMonitored()).toBe(1);
  });

  it("a folder moved in is reconciled in full (watch-fallback)", async () => {
    const dir = writeFiles(join(tmp.path, "notes"), { "one.md": "# One\n\nfirst\n" });
    const s = await watchFolder("notes", dir, 3600);
    const outside = writeFiles(join(tmp.path, "elsewhere"), {
      "two.md": "# Two\n\nsecond\n",
      "three.md": "# Three\n\nthird\n",
    });
    renameSync(outside, join(dir, "moved-in"));
    await until("the moved folder's files", async () => (await keys("notes")).length === 3);
    // The documents show before the run has finished; its job is listed once it has.
    const fallback = await until("the reconciliation's job", () => {
      const found = jobs(s.queue, (j) => j.reason === "watch-fallback" && j.kind === "full");
      return found.length > 0 ? found : undefined;
    });
    expect(fallback.length).toBeGreaterThan(0);
  });

  it("a root removed while watched: unhealthy, nothing deleted; when it returns the next poll restores watcher and health", async () => {
    const dir = writeFiles(join(tmp.path, "disk"), { "a.md": "# A\n\naaa\n", "b.md": "# B\n\nbbb\n" });
    const s = await watchFolder("disk", dir, 1);
    expect(await keys("disk")).toEqual(["a.md", "b.md"]);

    rmSync(dir, { recursive: true });
    const down = await until("the watcher to stop", () => {
      const m = s.monitors("u1")[0];
      return m && !m.watching && m.watch_error ? m : undefined;
    });
    expect(down.watch_error).toMatch(/^watcher: root .*disk disappeared$/);
    await until(
      "the source to be unhealthy",
      async () => !(await sys.sources.get({ userId: "u1", sourceId: "disk" })).healthy,
    );
    // Reconciliations and polls run against the missing root and fail without deleting anything.
    await until(
      "a failed poll",
      () => jobs(s.queue, (j) => j.reason === "poll" && j.error?.code === "SYNC_E_SOURCE_UNAVAILABLE").length,
    );
    expect(await keys("disk")).toEqual(["a.md", "b.md"]);
    expect(s.monitors("u1")[0]).toMatchObject({ watching: false });

    writeFiles(dir, { "a.md": "# A\n\naaa\n", "b.md": "# B\n\nbbb\n", "c.md": "# C\n\nccc\n" });
    await until("the watcher to come back", () => s.monitors("u1")[0]?.watching);
    await until(
      "the source to be healthy",
      async () => (await sys.sources.get({ userId: "u1", sourceId: "disk" })).healthy,
    );
    await until("c.md", async () => (await keys("disk")).includes("c.md"));
    expect(s.monitors("u1")[0]).toMatchObject({ watching: true, watch_error: null });

    const since = Date.now();
    writeFileSync(join(dir, "d.md"), "# D\n\nddd\n");
    await until(
      "a watch run after the return",
      () => jobs(s.queue, (j) => j.reason === "watch" && Date.parse(j.finished_at) >= since).length,
    );
    await until("d.md", async () => (await keys("disk")).includes("d.md"));
    expect(await keys("disk")).toEqual(["a.md", "b.md", "c.md", "d.md"]);
  });

  it("a watcher error (a path too long to watch) falls back to polling until the watcher starts again", async () => {
    const dir = writeFiles(join(tmp.path, "docs"), { "a.md": "# A\n\naaa\n" });
    const s = await watchFolder("docs", dir, 1);
    // Folders nested past PATH_MAX (4096 bytes): chokidar 4 emits `error` ENAMETOOLONG when it reaches them,
    // as it would ENOSPC when the inotify limit is reached. The shell creates them one relative step at a time.
    const name = "d".repeat(250);
    const made = spawnSync("sh", [
      "-c",
      `cd "${dir}" && for i in $(seq 20); do mkdir ${name} || exit 1; cd ${name} 2>/dev/null || exit 0; done; exit 2`,
    ]);
    expect(made.status, made.stderr.toString()).toBe(0);
    const down = await until("the watcher to fail", () => {
      const m = s.monitors("u1")[0];
      return m && !m.watching && m.watch_error ? m : undefined;
    });
    expect(down.watch_error).toMatch(/^watcher: ENAMETOOLONG/);
    await until(
      "the fallback reconciliation",
      () => jobs(s.queue, (j) => j.reason === "watch-fallback").length,
    );

    // Polls keep the source in step while the watcher is down.
    const since = Date.now();
    writeFileSync(join(dir, "b.md"), "# B\n\nbbb\n");
    await until("b.md", async () => (await keys("docs")).includes("b.md"));
    expect(jobs(s.queue, (j) => j.reason === "watch" && Date.parse(j.finished_at) >= since)).toEqual([]);

    // GNU rm walks it with relative steps; Node's rmSync would fail with ENAMETOOLONG.
    expect(spawnSync("rm", ["-rf", join(dir, name)]).status).toBe(0);
    await until("the watcher to start again", () => s.monitors("u1")[0]?.watching);
    expect(s.monitors("u1")[0]?.watch_error).toBeNull();
  });

  it("stop() leaves no timers or watchers, and a second stop is a no-op", async () => {
    const baseline = process.getActiveResourcesInfo();
    const count = (list: string[], kind: string) => list.filter((r) => r === kind).length;
    const dir = writeFiles(join(tmp.path, "docs"), { "a.md": "# A\n\naaa\n" });
    mkdirSync(join(dir, "sub"));
    const s = await watchFolder("docs", dir);
    expect(count(process.getActiveResourcesInfo(), "FSEventWrap")).toBeGreaterThan(0);
    await s.stop();
    await s.stop();
    // Node releases a closed fs.watch handle a few milliseconds later.
    await until("the watch handles to be released", () => {
      const after = process.getActiveResourcesInfo();
      return count(after, "FSEventWrap") === 0 && count(after, "Timeout") <= count(baseline, "Timeout");
    });
    expect(s.monitors()).toMatchObject([{ source_id: "docs", watching: false, next_poll_at: null }]);
    expect(s.sourcesMonitored()).toBe(0);
    // Nothing scheduled any more: a change is not picked up.
    writeFileSync(join(dir, "b.md"), "# B\n\nbbb\n");
    await new Promise((r) => setTimeout(r, 1500));
    expect(await keys("docs")).toEqual(["a.md"]);
  });
});
