import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SyncSystem } from "../../src/index.js";
import { createSyncService, type SyncService } from "../../src/service/sync-service.js";
import { type EmbeddingsServer, startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { jobs, recordingLogger, startSystem, until, writeFiles } from "./support.js";

let tmp: ReturnType<typeof makeTempDir>;
let sys: SyncSystem | undefined;
let service: SyncService | undefined;
let server: EmbeddingsServer | undefined;

beforeEach(() => {
  tmp = makeTempDir("svc-compact-");
});

afterEach(async () => {
  await service?.stop();
  service = undefined;
  await sys?.stop().catch(() => undefined);
  sys = undefined;
  await server?.close();
  server = undefined;
  tmp.cleanup();
});

async function addFolder(system: SyncSystem, sourceId: string, files: Record<string, string>): Promise<void> {
  const dir = writeFiles(join(tmp.path, sourceId), files);
  await system.sources.add({
    userId: "u1",
    sourceId,
    type: "local_filesystem",
    config: { watch_paths: [dir] },
  });
}

describe("scheduled compaction", () => {
  it("compacts after runs once a table passes the version threshold", async () => {
    const system = await startSystem(tmp.path, { compactAfterVersions: 2 });
    sys = system;
    await addFolder(system, "docs", { "a.md": "# A\n\nalpha\n", "b.md": "# B\n\nbeta\n" });
    const logger = recordingLogger();
    const s = createSyncService({ system, logger, watch: false, compactCheckIntervalMs: 0 });
    service = s;
    await s.start();
    const done = await until("a compaction", () => logger.lines.find((l) => l.msg === "store compacted"));
    const before = done.obj.before as Array<{ versions: number }>;
    expect(before.some((t) => t.versions >= 2)).toBe(true);
    expect(logger.lines.find((l) => l.msg === "compacting the store")?.level).toBe("info");
  });

  it("compacts once the chunks table passes VECTOR_INDEX_THRESHOLD without a vector index, which builds it", async () => {
    const system = await startSystem(tmp.path, {
      compactAfterVersions: 100_000,
      compactAfterFragments: 100_000,
      vectorIndexThreshold: 256,
    });
    sys = system;
    const files: Record<string, string> = {};
    // One chunk per file: 300 chunk rows, past the threshold.
    for (let i = 0; i < 300; i++)
      files[`f${i}.md`] = `# File ${i}\n\nword${i} lighthouse keeper ${i * 7919}\n`;
    await addFolder(system, "docs", files);
    const logger = recordingLogger();
    const s = createSyncService({ system, logger, watch: false, compactCheckIntervalMs: 0 });
    service = s;
    await s.start();
    const done = await until("a compaction", () => logger.lines.find((l) => l.msg === "store compacted"));
    const before = done.obj.before as Array<{ name: string; needs_vector_index?: boolean }>;
    expect(before.find((t) => t.name === "document_chunks")?.needs_vector_index).toBe(true);
    const { tables } = await system.status();
    const chunks = tables.find((t) => t.name === "document_chunks");
    expect(chunks?.rows).toBe(300);
    expect(chunks?.needsVectorIndex).toBe(false);
  });

  it("never starts while a run is in progress: it waits for the run to end", async () => {
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
    const system = await startSystem(tmp.path, {
      compactAfterVersions: 2,
      embeddingProvider: "openai",
      embeddingBaseUrl: server.url,
      embeddingDimensions: 16,
      // Monitoring off: the test alone decides what runs.
      enableSourceMonitoring: false,
    });
    sys = system;
    await addFolder(system, "quick", { "q.md": "# Quick\n\nquick brown fox\n" });
    await addFolder(system, "slow", { "s.md": "# Slow\n\nslowmarker text held by the server\n" });
    const order: string[] = [];
    const logger = recordingLogger((l) => order.push(l.msg));
    system.events.on("run-finished", (e) => order.push(`finished ${e.sourceId}`));
    const s = createSyncService({ system, logger, compactCheckIntervalMs: 0 });
    service = s;
    await s.start();

    const slow = await s.queue.enqueue({ kind: "full", userId: "u1", sourceId: "slow", reason: "api" });
    await until("the slow run to reach the server", () =>
      server?.requests.some((r) => JSON.stringify(r.body).includes("slowmarker")),
    );
    const quick = await s.queue.enqueue({ kind: "full", userId: "u1", sourceId: "quick", reason: "api" });
    expect((await s.queue.wait(quick.job_id)).added).toBe(1);
    await until("a deferred check", () => order.includes("compaction check deferred: runs in progress"));
    expect(order).not.toContain("compacting the store");

    release();
    expect((await s.queue.wait(slow.job_id)).added).toBe(1);
    await until("the compaction", () => order.includes("store compacted"));
    expect(order.indexOf("compacting the store")).toBeGreaterThan(order.indexOf("finished slow"));
    expect(jobs(s.queue, () => true)).toHaveLength(2);
  });
});
