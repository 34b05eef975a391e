/**
 * Live watching at scale: `node dist-bench/bench/watch-bench.js [--files 20000] [--folders 200] [--json]`
 * (after `npm run build && tsc -p tsconfig.bench.json`). Writes `--files` small Markdown files over
 * `--folders` folders, registers them as one `local_filesystem` source, starts a `SyncService` on a
 * `SyncSystem` (hashing embedder; polls and reconciliations an hour apart, so only the watcher can see
 * changes), and measures: the watcher's initial scan (until `monitors()` says `watching`), the start
 * reconciliation, the inotify watches the process holds (`/proc/self/fdinfo`) against
 * `fs.inotify.max_user_watches`, RSS, and the time until one edited file, one renamed file (a move: nothing
 * re-embedded), one deleted file and a burst of 100 new files land through watch runs.
 */
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { silentLogger } from "../src/core/logger.js";
import { createSyncSystem } from "../src/index.js";
import type { JobRecord } from "../src/service/service-types.js";
import { createSyncService, type SyncService } from "../src/service/sync-service.js";
import { writeTree } from "../test/service/write-tree.js";

/** inotify watches held by this process (one line `inotify wd:` per watch in its fdinfo). */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fdinfo")) {
    try {
      n += (readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").match(/^inotify wd:/gm) ?? []).length;
    } catch {
      // The descriptor closed meanwhile.
    }
  }
  return n;
}

function readNumber(path: string): number | null {
  try {
    return Number(readFileSync(path, "utf8").trim());
  } catch {
    return null;
  }
}

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for the first watch job finished after `since` that `pred` accepts; returns it and the time taken. */
async function landed(
  service: SyncService,
  since: number,
  what: string,
  pred: (j: JobRecord) => boolean,
): Promise<{ job: JobRecord; ms: number }> {
  const job = await until(what, () =>
    service.queue
      .recent(undefined, 200)
      .find((j) => j.reason === "watch" && Date.parse(j.finished_at) >= since && pred(j)),
  );
  return { job, ms: Date.parse(job.finished_at) - since };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      files: { type: "string", default: "20000" },
      folders: { type: "string", default: "200" },
      json: { type: "boolean", default: false },
    },
  });
  const files = Number(values.files);
  const folders = Number(values.folders);
  const dir = mkdtempSync(join(tmpdir(), "lancedb-sync-watch-"));
  try {
    const root = join(dir, "tree");
    let t = Date.now();
    const paths = writeTree(root, files, folders);
    const writeMs = Date.now() - t;
    const system = createSyncSystem({
      lancedbUri: join(dir, "lancedb"),
      stateDbPath: join(dir, "state.db"),
      uploadDir: join(dir, "uploads"),
      logger: silentLogger,
      syncInterval: 3600,
      defaultPollInterval: 3600,
    });
    await system.start();
    await system.sources.add({
      userId: "bench",
      sourceId: "tree",
      type: "local_filesystem",
      config: { watch_paths: [root] },
    });
    const rssBefore = process.memoryUsage().rss;
    const watchesBefore = inotifyWatches();
    const service = createSyncService({ system, logger: silentLogger });
    t = Date.now();
    await service.start();
    await until("the watcher", () => (service.monitors()[0]?.watching ? true : undefined));
    const readyMs = Date.now() - t;
    const watches = inotifyWatches() - watchesBefore;
    const rssReady = process.memoryUsage().rss;
    const start = await until("the start reconciliation", () =>
      service.queue.recent().find((j) => j.reason === "start"),
    );
    const reconcileMs = Date.now() - t;
    // Let the process settle before the edits.
    await new Promise((r) => setTimeout(r, 1000));
    const rssIdle = process.memoryUsage().rss;

    let since = Date.now();
    writeFileSync(paths[files - 7] as string, "# changed\n\nthis file changed while watched\n");
    const edit = await landed(service, since, "the edit", (j) => (j.result?.updated ?? 0) > 0);

    since = Date.now();
    const renamed = paths[13] as string;
    renameSync(renamed, `${renamed.slice(0, -3)}-renamed.md`);
    const rename = await landed(service, since, "the rename", (j) => (j.result?.moved ?? 0) > 0);

    since = Date.now();
    rmSync(paths[21] as string);
    const del = await landed(service, since, "the deletion", (j) => (j.result?.deleted ?? 0) > 0);

    since = Date.now();
    for (let i = 0; i < 100; i++)
      writeFileSync(join(root, "folder-3", `burst-${i}.md`), `# Burst ${i}\n\nnew\n`);
    let burstAdded = 0;
    let burstRuns = 0;
    const burstJobs = await until("the burst", () => {
      const js = service.queue
        .recent(undefined, 200)
        .filter((j) => j.reason === "watch" && Date.parse(j.finished_at) >= since);
      burstAdded = js.reduce((n, j) => n + (j.result?.added ?? 0), 0);
      burstRuns = js.length;
      return burstAdded >= 100 ? js : undefined;
    });
    const burstMs = Math.max(...burstJobs.map((j) => Date.parse(j.finished_at))) - since;

    await service.stop();
    await system.stop();
    const report = {
      files,
      folders,
      write_tree_ms: writeMs,
      watcher_ready_ms: readyMs,
      start_reconcile_ms: reconcileMs,
      start_added: start.result?.added ?? null,
      inotify_watches: watches,
      max_user_watches: readNumber("/proc/sys/fs/inotify/max_user_watches"),
      max_user_instances: readNumber("/proc/sys/fs/inotify/max_user_instances"),
      rss_before_mb: mb(rssBefore),
      rss_watcher_ready_mb: mb(rssReady),
      rss_idle_after_start_mb: mb(rssIdle),
      edit_ms: edit.ms,
      rename_ms: rename.ms,
      rename_moved: rename.job.result?.moved ?? null,
      rename_embedded_chunks: rename.job.result?.embedded_chunks ?? null,
      delete_ms: del.ms,
      burst_100_ms: burstMs,
      burst_runs: burstRuns,
      burst_added: burstAdded,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else for (const [k, v] of Object.entries(report)) process.stdout.write(`${k.padEnd(26)} ${v}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
