import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import { createSyncSystem, type SyncSystem } from "../../src/index.js";
import { createInProcessQueue } from "../../src/service/in-process-queue.js";
import { rejection } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";

let tmp: ReturnType<typeof makeTempDir>;
let sys: SyncSystem;

beforeEach(async () => {
  tmp = makeTempDir("queue-");
  sys = createSyncSystem({
    lancedbUri: join(tmp.path, "lancedb"),
    stateDbPath: join(tmp.path, "state.db"),
    uploadDir: join(tmp.path, "uploads"),
    logger: silentLogger,
  });
  await sys.start();
});

afterEach(async () => {
  await sys.stop().catch(() => undefined);
  tmp.cleanup();
});

function folder(name: string, files: Record<string, string>): string {
  const dir = join(tmp.path, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, body] of Object.entries(files)) writeFileSync(join(dir, f), body);
  return dir;
}

describe("in-process work queue", () => {
  it("a second request while one runs joins the queued run; wait and recent report results with run ids", async () => {
    const dir = folder("docs", { "a.md": "# A\n\nalpha", "b.md": "# B\n\nbeta" });
    await sys.sources.add({
      userId: "u1",
      sourceId: "docs",
      type: "local_filesystem",
      config: { watch_paths: [dir] },
    });
    const queue = createInProcessQueue(sys);
    const first = await queue.enqueue({ kind: "full", userId: "u1", sourceId: "docs", reason: "api" });
    expect(first).toMatchObject({ state: "running", joined: false, kind: "full" });
    const second = await queue.enqueue({ kind: "full", userId: "u1", sourceId: "docs", reason: "poll" });
    const third = await queue.enqueue({ kind: "full", userId: "u1", sourceId: "docs", reason: "api" });
    expect(second).toMatchObject({ state: "queued", joined: false });
    expect(third).toMatchObject({ job_id: second.job_id, state: "queued", joined: true });
    const activity = queue.activity("u1");
    expect(activity.running.map((r) => r.job_id)).toEqual([first.job_id]);
    expect(activity.queued.map((r) => r.job_id)).toEqual([second.job_id]);
    expect(queue.activity("someone-else")).toEqual({ running: [], queued: [] });

    const r1 = await queue.wait(first.job_id);
    expect(r1.added).toBe(2);
    const r2 = await queue.wait(second.job_id);
    expect(r2.unchanged).toBe(2);
    const recent = queue.recent("u1");
    expect(recent.map((j) => j.job_id)).toEqual([second.job_id, first.job_id]);
    expect(recent[1]).toMatchObject({ state: "succeeded", run_id: r1.run_id, reason: "api" });
    expect(recent[0]).toMatchObject({ reason: "poll", run_id: r2.run_id });
    expect(recent[0]?.started_at).not.toBeNull();
    expect(queue.recent("someone-else")).toEqual([]);
  });

  it("a failed run is recorded with its code; unknown jobs and sources are errors", async () => {
    const dir = folder("gone", { "a.md": "# A" });
    await sys.sources.add({
      userId: "u1",
      sourceId: "gone",
      type: "local_filesystem",
      config: { watch_paths: [dir] },
    });
    rmSync(dir, { recursive: true });
    const queue = createInProcessQueue(sys);
    const t = await queue.enqueue({ kind: "full", userId: "u1", sourceId: "gone", reason: "api" });
    const err = await rejection(queue.wait(t.job_id));
    expect(err).toMatchObject({ code: "SYNC_E_SOURCE_UNAVAILABLE" });
    expect(queue.recent()[0]).toMatchObject({
      job_id: t.job_id,
      state: "failed",
      error: { code: "SYNC_E_SOURCE_UNAVAILABLE" },
    });
    expect(await rejection(queue.wait("job_nope"))).toMatchObject({ code: "SYNC_E_NOT_FOUND" });
    await expect(
      queue.enqueue({ kind: "full", userId: "u1", sourceId: "nope", reason: "api" }),
    ).rejects.toMatchObject({
      code: "SYNC_E_NOT_FOUND",
    });
  });
});
