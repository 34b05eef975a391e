import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import type { SyncSystem } from "../../src/index.js";
import { createSyncService, type SyncService } from "../../src/service/sync-service.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { jobs, startSystem, until } from "./support.js";
import { writeTree } from "./write-tree.js";

/**
 * 20,000 files in 200 folders: about 12 s here, most of it the start reconciliation (`bench/watch-bench.ts`
 * measures the parts: watcher scan, inotify watches, memory, latencies).
 */
const FILES = 20_000;
const FOLDERS = 200;

let tmp: ReturnType<typeof makeTempDir>;
let sys: SyncSystem;
let service: SyncService | undefined;

beforeEach(async () => {
  tmp = makeTempDir("svc-scale-");
  sys = await startSystem(tmp.path, { defaultPollInterval: 3600 });
});

afterEach(async () => {
  await service?.stop();
  service = undefined;
  await sys.stop().catch(() => undefined);
  tmp.cleanup();
});

describe("watching a large folder", () => {
  it(`sees one change among ${FILES} files in ${FOLDERS} folders`, async () => {
    const root = join(tmp.path, "tree");
    const paths = writeTree(root, FILES, FOLDERS);
    await sys.sources.add({
      userId: "u1",
      sourceId: "tree",
      type: "local_filesystem",
      config: { watch_paths: [root] },
    });
    const s = createSyncService({ system: sys, logger: silentLogger });
    service = s;
    await s.start();
    await until("the watcher to be ready", () => s.monitors()[0]?.watching, 60_000);
    const start = await until(
      "the start reconciliation",
      () => jobs(s.queue, (j) => j.reason === "start")[0],
      60_000,
    );
    expect(start.result?.added).toBe(FILES);

    const target = paths[FILES - 7] as string;
    writeFileSync(target, "# changed\n\nthis file changed after the watcher was ready\n");
    const job = await until(
      "the change to land",
      () => jobs(s.queue, (j) => j.reason === "watch" && (j.result?.updated ?? 0) > 0)[0],
    );
    expect(job.result).toMatchObject({ kind: "changes", updated: 1, deleted: 0 });
    const doc = (await sys.listDocuments({ userId: "u1", sourceId: "tree", limit: FILES })).find(
      (d) => d.item_key === target,
    );
    expect(doc?.title).toBe("changed");
  }, 120_000);
});
