/**
 * `node dist-bench/bench/memory-remedies.js [--n 2000 --repeat 2]` (`npm run bench:memory`): peak RSS of an
 * initial sync (a fresh store each time, its own process, through the built CLI) under each candidate remedy for
 * the memory that grows with commits, one variable at a time: the environment of each variant is the
 * baseline's plus one setting. Reports the median peak RSS, wall time, commits (chunk-table versions) and
 * fragments per variant. RSS is far less sensitive to a busy machine than time; times are indicative only.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Corpus } from "./corpus.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "2000" },
    repeat: { type: "string", default: "2" },
    only: { type: "string" },
  },
});
const here = dirname(fileURLToPath(import.meta.url));
const cli = join(resolve(here, "../.."), "dist/cli/main.js");
const work = mkdtempSync(join(tmpdir(), "lancedb-sync-memory-"));

const VARIANTS: Record<string, Record<string, string>> = {
  baseline: {},
  "WRITE_BATCH_CHUNKS=4096 (4x fewer commits)": { WRITE_BATCH_CHUNKS: "4096" },
  "WRITE_BATCH_CHUNKS=256 (4x more commits)": { WRITE_BATCH_CHUNKS: "256" },
  "LANCEDB_METADATA_CACHE_MB=8": { LANCEDB_METADATA_CACHE_MB: "8" },
  "LANCEDB_INDEX_CACHE_MB=16": { LANCEDB_INDEX_CACHE_MB: "16" },
  "MALLOC_ARENA_MAX=2": { MALLOC_ARENA_MAX: "2" },
  "MALLOC_ARENA_MAX=2 + WRITE_BATCH_CHUNKS=256": { MALLOC_ARENA_MAX: "2", WRITE_BATCH_CHUNKS: "256" },
  "JS heap probe: --max-old-space-size=96": { NODE_OPTIONS: "--max-old-space-size=96" },
  "JS heap probe: --max-semi-space-size=2": { NODE_OPTIONS: "--max-semi-space-size=2" },
  "MAX_CONCURRENT_PROCESSING=2": { MAX_CONCURRENT_PROCESSING: "2" },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

try {
  const corpus = new Corpus({ root: join(work, "corpus"), seed: 20240601 });
  corpus.create(Number(values.n));
  const rows: Array<Record<string, unknown>> = [];
  for (const [name, extra] of Object.entries(VARIANTS)) {
    if (values.only && !name.includes(values.only)) continue;
    const rss: number[] = [];
    const wall: number[] = [];
    let versions = 0;
    let fragments = 0;
    for (let i = 0; i < Number(values.repeat); i++) {
      const data = mkdtempSync(join(work, "data-"));
      const env = {
        ...process.env,
        LANCEDB_URI: join(data, "lancedb"),
        STATE_DB_PATH: join(data, "state.db"),
        LOG_LEVEL: "warn",
        ...extra,
      };
      const t0 = performance.now();
      const r = spawnSync(
        process.execPath,
        [cli, "sync", join(work, "corpus"), "--user", "bench", "--json"],
        {
          cwd: work,
          env,
          encoding: "utf8",
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      wall.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`${name}: sync exited ${r.status}: ${r.stderr}`);
      rss.push(JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}").peak_rss_mb as number);
      const st = spawnSync(process.execPath, [cli, "status", "--json"], { cwd: work, env, encoding: "utf8" });
      const tables = JSON.parse(st.stdout.trim().split("\n").pop() ?? "{}").tables as Array<{
        name: string;
        versions: number;
        fragments: number;
      }>;
      const chunks = tables.find((t) => t.name === "document_chunks");
      versions = chunks?.versions ?? 0;
      fragments = chunks?.fragments ?? 0;
      rmSync(data, { recursive: true, force: true });
    }
    const row = {
      variant: name,
      peakRssMb: median(rss),
      allRssMb: rss,
      wallS: Math.round(median(wall) / 100) / 10,
      chunkVersions: versions,
      chunkFragments: fragments,
    };
    rows.push(row);
    process.stderr.write(`[memory] ${JSON.stringify(row)}\n`);
  }
  process.stdout.write(`${JSON.stringify({ n: Number(values.n), repeat: Number(values.repeat), rows })}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
