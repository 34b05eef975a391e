import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import { createSyncSystem, type SyncSystem } from "../../src/index.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { makeText, prng } from "./support.js";

/**
 * A system that lives for days: 300 consecutive runs in one process, no-change runs alternating with runs
 * that change 1% of the files, must not grow in memory. RSS is sampled after every run; the largest sample of
 * the last 50 runs must be within 10% of the largest of the first 50. (`npm run bench -- --soak` draws the
 * curve over more runs and other mixes: LanceDB's native memory rises with commits to a plateau.)
 */
const FILES = 200;
const RUNS = 300;

let tmp: ReturnType<typeof makeTempDir>;
let sys: SyncSystem;

beforeAll(() => {
  tmp = makeTempDir("soak-");
});

afterAll(async () => {
  await sys?.stop().catch(() => undefined);
  tmp.cleanup();
});

describe("long life", () => {
  it(`${RUNS} runs in one process, no-change and 1% changes: RSS does not grow`, {
    timeout: 600_000,
  }, async () => {
    const dir = join(tmp.path, "docs");
    mkdirSync(dir);
    const rand = prng(7);
    for (let i = 0; i < FILES; i++) writeFileSync(join(dir, `d${i}.md`), makeText(rand, 1500, `doc${i}`));
    sys = createSyncSystem({
      lancedbUri: join(tmp.path, "lancedb"),
      stateDbPath: join(tmp.path, "state.db"),
      uploadDir: join(tmp.path, "uploads"),
      logger: silentLogger,
    });
    await sys.start();
    await sys.sources.add({ userId: "u1", sourceId: "docs", type: "fs", config: { watch_paths: [dir] } });
    const rss: number[] = [];
    let changed = 0;
    for (let run = 0; run < RUNS; run++) {
      if (run % 2 === 1) {
        for (let k = 0; k < FILES / 100; k++) {
          const i = Math.floor(rand() * FILES);
          writeFileSync(join(dir, `d${i}.md`), makeText(rand, 1500, `doc${i}-v${run}`));
          changed++;
        }
      }
      const r = await sys.syncSource({ userId: "u1", sourceId: "docs" });
      expect(r.failed).toBe(0);
      rss.push(process.memoryUsage().rss);
    }
    const mb = (n: number) => Math.round(n / 1024 / 1024);
    const first = Math.max(...rss.slice(0, 50));
    const last = Math.max(...rss.slice(-50));
    // The curve in 10 steps, for the log of a failing run.
    const curve = Array.from({ length: 10 }, (_, i) => mb(Math.max(...rss.slice(i * 30, i * 30 + 30))));
    expect(changed).toBeGreaterThan(250);
    expect(last, `RSS MB per 30 runs: ${curve.join(", ")}`).toBeLessThanOrEqual(first * 1.1);
    const status = await sys.status({ userId: "u1" });
    expect(status.documents).toBe(FILES);
  });
});
