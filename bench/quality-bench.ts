/**
 * `npm run bench:quality [-- --json --verbose]`: search quality of every mode on the labelled questions about
 * the bundled samples (test/fixtures/search-questions.ts), with the configured embedder (default: hashing).
 * Syncs `samples/` into a temporary store through `createSyncSystem`, then prints hit@1 and MRR per mode
 * (`default` is what `search` does without `--mode`). Exits 0; the floor is enforced by the tests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { SearchMode } from "../src/search/search-chunks.js";
import { SAMPLE_QUESTIONS } from "../test/fixtures/search-questions.js";
import { formatQuality, type ModeQuality, measureQuality } from "./search-quality.js";

process.env.LANCEDB_LOG ??= "error";
const { values } = parseArgs({
  options: { json: { type: "boolean", default: false }, verbose: { type: "boolean", default: false } },
});
// The built library (`npm run build`): its parser workers are compiled there, not under dist-bench.
const { createSyncSystem } = (await import(
  new URL("../../dist/index.js", import.meta.url).href
)) as typeof import("../src/index.js");
const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };
const samples = fileURLToPath(new URL("../../samples/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "lancedb-sync-quality-"));
const system = createSyncSystem({
  lancedbUri: join(dir, "lancedb"),
  stateDbPath: join(dir, "state.db"),
  uploadDir: join(dir, "uploads"),
  logger: silentLogger,
});
try {
  await system.start();
  await system.sources.add({
    userId: "bench",
    sourceId: "samples",
    type: "local_filesystem",
    config: { watch_paths: [samples] },
  });
  const synced = await system.syncSource({ userId: "bench", sourceId: "samples" });
  if (synced.failed > 0) throw new Error(`samples failed to sync: ${JSON.stringify(synced.failures)}`);
  const rows: ModeQuality[] = [];
  for (const mode of ["vector", "fts", "hybrid", undefined] as (SearchMode | undefined)[]) {
    rows.push(
      await measureQuality(mode ?? "default", SAMPLE_QUESTIONS, (query) =>
        system.search({ userId: "bench", query, limit: 10, ...(mode ? { mode } : {}) }),
      ),
    );
  }
  if (values.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
  else {
    process.stdout.write(`search quality on ${SAMPLE_QUESTIONS.length} labelled questions about samples/\n`);
    process.stdout.write(`${formatQuality(rows)}\n`);
    if (values.verbose) {
      for (const r of rows) {
        for (const m of r.misses) process.stdout.write(`  ${r.mode}: "${m.question}" at rank ${m.rank}\n`);
      }
    }
  }
} finally {
  await system.stop();
  rmSync(dir, { recursive: true, force: true });
}
