/**
 * The soak curve: `node dist-bench/bench/soak-bench.js [--runs 300] [--files 200] [--every 2] [--json]`.
 * One process runs `--runs` consecutive syncs of one folder source through `createSyncSystem` (as a host
 * application would), every `--every`-th run after 1% of the files changed, and samples RSS and heap after
 * each run. Prints RSS per tenth of the runs and the ratio of the largest sample of the last 50 runs to the
 * largest of the first 50 (the soak test's criterion: at most 1.10). Run it with `node --expose-gc` to let
 * the system collect garbage when it reopens its store handles, as the test does.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { silentLogger } from "../src/core/logger.js";
import { createSyncSystem } from "../src/index.js";
import { mulberry32 } from "./corpus.js";

const WORDS =
  "river stone lantern orchard copper meadow harbor signal ledger compass thunder willow marble".split(" ");

function text(rand: () => number, words: number, tag: string): string {
  const out = [tag];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rand() * WORDS.length)] as string);
  return out.join(" ");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "300" },
      files: { type: "string", default: "200" },
      every: { type: "string", default: "2" },
      json: { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs);
  const files = Number(values.files);
  const every = Number(values.every);
  const dir = mkdtempSync(join(tmpdir(), "lancedb-sync-soak-"));
  try {
    const docs = join(dir, "docs");
    mkdirSync(docs);
    const rand = mulberry32(7);
    for (let i = 0; i < files; i++) writeFileSync(join(docs, `d${i}.md`), text(rand, 250, `doc${i}`));
    const sys = createSyncSystem({
      lancedbUri: join(dir, "lancedb"),
      stateDbPath: join(dir, "state.db"),
      uploadDir: join(dir, "uploads"),
      logger: silentLogger,
    });
    await sys.start();
    await sys.sources.add({ userId: "u1", sourceId: "docs", type: "fs", config: { watch_paths: [docs] } });
    const rss: number[] = [];
    const heap: number[] = [];
    const t0 = performance.now();
    for (let run = 0; run < runs; run++) {
      if (run % every === every - 1) {
        for (let k = 0; k < Math.max(1, files / 100); k++) {
          const i = Math.floor(rand() * files);
          writeFileSync(join(docs, `d${i}.md`), text(rand, 250, `doc${i}-v${run}`));
        }
      }
      await sys.syncSource({ userId: "u1", sourceId: "docs" });
      const m = process.memoryUsage();
      rss.push(m.rss);
      heap.push(m.heapUsed);
    }
    const seconds = (performance.now() - t0) / 1000;
    await sys.stop();
    const mb = (n: number) => Math.round(n / 1024 / 1024);
    const steps = 10;
    const size = Math.ceil(runs / steps);
    const curve = Array.from({ length: steps }, (_, i) => ({
      runs: `${i * size + 1}-${Math.min(runs, (i + 1) * size)}`,
      rss_mb: mb(Math.max(...rss.slice(i * size, (i + 1) * size))),
      heap_mb: mb(Math.max(...heap.slice(i * size, (i + 1) * size))),
    }));
    const first = Math.max(...rss.slice(0, 50));
    const last = Math.max(...rss.slice(-50));
    const result = {
      runs,
      files,
      changing_every: every,
      gc_exposed: typeof (globalThis as { gc?: unknown }).gc === "function",
      seconds: Math.round(seconds * 10) / 10,
      first50_max_rss_mb: mb(first),
      last50_max_rss_mb: mb(last),
      ratio: Math.round((last / first) * 1000) / 1000,
      curve,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(
        `soak: ${runs} runs of ${files} files in one process, 1% changed every ${every} runs, ` +
          `gc ${result.gc_exposed ? "exposed" : "not exposed"}, ${result.seconds} s\n` +
          `  max RSS, first 50 runs ${result.first50_max_rss_mb} MB, last 50 runs ${result.last50_max_rss_mb} MB ` +
          `(ratio ${result.ratio}; the soak test allows 1.10)\n` +
          `  RSS MB per tenth: ${curve.map((c) => c.rss_mb).join(", ")}\n` +
          `  heap MB per tenth: ${curve.map((c) => c.heap_mb).join(", ")}\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
