import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import type { SyncSystem } from "../../src/index.js";
import { createSyncService, type SyncService } from "../../src/service/sync-service.js";
import { type EmbeddingsServer, startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { jobs, recordingLogger, startSystem, until, writeFiles } from "./support.js";

let tmp: ReturnType<typeof makeTempDir>;
let sys: SyncSystem | undefined;
let service: SyncService | undefined;
let other: SyncSystem | undefined;
let server: EmbeddingsServer | undefined;

beforeEach(() => {
  tmp = makeTempDir("svc-sched-");
});

afterEach(async () => {
  await service?.stop();
  service = undefined;
  await sys?.stop().catch(() => undefined);
  sys = undefined;
  await other?.stop().catch(() => undefined);
  other = undefined;
  await server?.close();
  server = undefined;
  tmp.cleanup();
});

async function names(system: SyncSystem, sourceId: string): Promise<string[]> {
  const docs = await system.listDocuments({ userId: "u1", sourceId, limit: 100 });
  return docs.map((d) => d.item_key.slice(d.item_key.lastIndexOf("/") + 1)).sort();
}

async function addFolder(system: SyncSystem, sourceId: string, enabled = true): Promise<string> {
  const dir = writeFiles(join(tmp.path, sourceId), { "first.md": `# ${sourceId}\n\nfirst file\n` });
  await system.sources.add({
    userId: "u1",
    sourceId,
    type: "local_filesystem",
    config: { watch_paths: [dir] },
    enabled,
  });
  return dir;
}

describe("scheduling", () => {
  it("polls sources it does not watch, skips disabled ones, and follows sourceChanged at once", async () => {
    const system = await startSystem(tmp.path);
    sys = system;
    const polled = await addFolder(system, "polled");
    const off = await addFolder(system, "off", false);
    await system.sources.add({ userId: "u1", sourceId: "inbox", type: "upload" });
    // Watchers off: only the 1-second polls can pick changes up.
    const s = createSyncService({ system, logger: silentLogger, watch: false });
    service = s;
    await s.start();
    expect(s.startedAt).not.toBeNull();
    expect(s.monitoring).toBe(true);
    const byId = () => new Map(s.monitors("u1").map((m) => [m.source_id, m]));
    expect(byId().get("polled")).toMatchObject({ enabled: true, watching: false, watch_error: null });
    expect(byId().get("polled")?.next_poll_at).not.toBeNull();
    expect(byId().get("off")).toMatchObject({ enabled: false, watching: false, next_poll_at: null });
    // Upload sources are not scheduled.
    expect(byId().get("inbox")).toMatchObject({ type: "upload", next_poll_at: null });
    expect(s.sourcesMonitored()).toBe(1);
    expect(s.monitors("someone-else")).toEqual([]);

    await until("the start reconciliation", () => jobs(s.queue, (j) => j.reason === "start").length);
    expect(await names(system, "polled")).toEqual(["first.md"]);

    writeFileSync(join(polled, "second.md"), "# second\n\npicked up by a poll\n");
    writeFileSync(join(off, "second.md"), "# second\n\nnever picked up while disabled\n");
    await until("a poll to pick up second.md", async () =>
      (await names(system, "polled")).includes("second.md"),
    );
    await until("another poll", () => jobs(s.queue, (j) => j.reason === "poll").length >= 2);
    expect(jobs(s.queue, (j) => j.source_id !== "polled")).toEqual([]);
    expect(await names(system, "off")).toEqual([]);

    // Enabled: scheduled and synced at once.
    await system.sources.update({ userId: "u1", sourceId: "off", enabled: true });
    s.sourceChanged("u1", "off");
    await until("off to be scheduled", () => byId().get("off")?.next_poll_at);
    await until("off to be synced", async () => (await names(system, "off")).length === 2);
    // Its documents show before the run has finished; the job is listed once it has.
    await until("off's job", () => jobs(s.queue, (j) => j.source_id === "off").length);
    expect(jobs(s.queue, (j) => j.source_id === "off" && j.reason === "source-changed")).toHaveLength(1);

    // Disabled and removed: no schedule any more.
    await system.sources.update({ userId: "u1", sourceId: "polled", enabled: false });
    s.sourceChanged("u1", "polled");
    await until("polled to be unscheduled", () => byId().get("polled")?.next_poll_at === null);
    await system.sources.remove({ userId: "u1", sourceId: "off" });
    s.sourceChanged("u1", "off");
    await until("off to be forgotten", () => !byId().has("off"));
    expect(s.sourcesMonitored()).toBe(0);
  });

  it("a source's poll interval is its own", async () => {
    const system = await startSystem(tmp.path, { defaultPollInterval: 3600 });
    sys = system;
    const dir = await addFolder(system, "fast");
    await system.sources.update({ userId: "u1", sourceId: "fast", pollInterval: 1 });
    await addFolder(system, "slow");
    const s = createSyncService({ system, logger: silentLogger, watch: false });
    service = s;
    await s.start();
    writeFileSync(join(dir, "later.md"), "# later\n\npolled within a second\n");
    await until(
      "fast's poll",
      () => jobs(s.queue, (j) => j.source_id === "fast" && j.reason === "poll").length,
    );
    await until("later.md", async () => (await names(system, "fast")).includes("later.md"));
    expect(jobs(s.queue, (j) => j.source_id === "slow" && j.reason === "poll")).toEqual([]);
    const slow = s.monitors().find((m) => m.source_id === "slow");
    expect(Date.parse(slow?.next_poll_at ?? "") - Date.now()).toBeGreaterThan(3_000_000);
  });

  it("with ENABLE_SOURCE_MONITORING=false nothing is scheduled or watched, and the queue still runs requests", async () => {
    const system = await startSystem(tmp.path, { enableSourceMonitoring: false });
    sys = system;
    await addFolder(system, "docs");
    const s = createSyncService({ system, logger: silentLogger });
    service = s;
    await s.start();
    expect(s.monitoring).toBe(false);
    expect(s.monitors()).toMatchObject([{ source_id: "docs", watching: false, next_poll_at: null }]);
    expect(s.sourcesMonitored()).toBe(0);
    s.sourceChanged("u1", "docs");
    // Polls would be due every second: none comes.
    await new Promise((r) => setTimeout(r, 1500));
    expect(s.queue.recent()).toEqual([]);
    expect(s.sourcesMonitored()).toBe(0);

    const t = await s.queue.enqueue({ kind: "full", userId: "u1", sourceId: "docs", reason: "api" });
    expect((await s.queue.wait(t.job_id)).added).toBe(1);
  });

  it("a source another process is syncing is skipped and logged at info; the service goes on", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    server = await startEmbeddingsServer({
      dimensions: 16,
      behaviour: async (req) => {
        if (JSON.stringify(req.body).includes("slowmarker")) await gate;
        return "default" as const;
      },
    });
    const embedding = {
      embeddingProvider: "openai" as const,
      embeddingBaseUrl: server.url,
      embeddingDimensions: 16,
      lockWaitSeconds: 0,
    };
    // Two systems on one journal and store: as two processes would be.
    const system = await startSystem(tmp.path, embedding);
    sys = system;
    const busy = await startSystem(tmp.path, embedding);
    other = busy;
    const dir = writeFiles(join(tmp.path, "shared"), {
      "s.md": "# Shared\n\nslowmarker held by the server\n",
    });
    await system.sources.add({
      userId: "u1",
      sourceId: "shared",
      type: "local_filesystem",
      config: { watch_paths: [dir] },
    });
    const held = busy.syncSource({ userId: "u1", sourceId: "shared" });
    await until("the other run to hold the source", () =>
      server?.requests.some((r) => JSON.stringify(r.body).includes("slowmarker")),
    );

    const logger = recordingLogger();
    const s = createSyncService({ system, logger, watch: false });
    service = s;
    await s.start();
    const skipped = await until("a skipped run", () =>
      logger.lines.find((l) => l.msg === "scheduled run skipped: another process is syncing the source"),
    );
    expect(skipped).toMatchObject({ level: "info", obj: { code: "SYNC_E_SOURCE_BUSY", source: "shared" } });
    expect(logger.lines.filter((l) => l.level === "warn" || l.level === "error")).toEqual([]);

    release();
    expect((await held).added).toBe(1);
    writeFileSync(join(dir, "t.md"), "# T\n\nafter the other run\n");
    await until("a poll to succeed", async () => (await names(system, "shared")).includes("t.md"));
    // The job is recorded once its run has returned, a moment after the rows are visible.
    await until("the poll's job record", () =>
      jobs(s.queue, (j) => j.reason === "poll" && j.state === "succeeded").length > 0 ? true : undefined,
    );
    expect(jobs(s.queue, (j) => j.reason === "poll" && j.state === "succeeded").length).toBeGreaterThan(0);
  });
});
