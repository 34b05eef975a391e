import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/temp-dir.js";

/**
 * A system that lives for days: 300 consecutive runs in one process, no-change runs alternating with runs
 * that change 1% of the files, must not grow in memory. The process is a host application on the built
 * library (`dist/index.js`, as users run it: worker threads from compiled JavaScript), started with
 * `--expose-gc` so the system collects after it reopens its LanceDB handles. RSS is sampled after every run;
 * the largest sample of the last 50 runs must be within 10% of the largest of the first 50.
 * (`npm run bench` draws the same curve with and without `--expose-gc`.)
 */
const DIST = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
const FILES = 200;
const RUNS = 300;

let tmp: ReturnType<typeof makeTempDir>;

beforeAll(() => {
  tmp = makeTempDir("soak-");
});

afterAll(() => tmp.cleanup());

/** Runs the soak in a child process; resolves to what it printed as JSON. */
function soak(dir: string): Promise<{ rss: number[]; failed: number; changed: number; documents: number }> {
  const script = `
    import { mkdirSync, writeFileSync } from "node:fs";
    import { join } from "node:path";
    const { createSyncSystem } = await import(${JSON.stringify(DIST)});
    const dir = ${JSON.stringify(dir)};
    const docs = join(dir, "docs");
    mkdirSync(docs, { recursive: true });
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const text = (tag) => tag + " " + Array.from({ length: 250 }, () => Math.floor(rand() * 5000).toString(36)).join(" ");
    for (let i = 0; i < ${FILES}; i++) writeFileSync(join(docs, "d" + i + ".md"), text("doc" + i));
    const sys = createSyncSystem({
      lancedbUri: join(dir, "lancedb"),
      stateDbPath: join(dir, "state.db"),
      uploadDir: join(dir, "uploads"),
      logLevel: "silent",
    });
    await sys.start();
    await sys.sources.add({ userId: "u1", sourceId: "docs", type: "fs", config: { watch_paths: [docs] } });
    const rss = [];
    let failed = 0;
    let changed = 0;
    for (let run = 0; run < ${RUNS}; run++) {
      if (run % 2 === 1) {
        for (let k = 0; k < ${FILES / 100}; k++) {
          const i = Math.floor(rand() * ${FILES});
          writeFileSync(join(docs, "d" + i + ".md"), text("doc" + i + "-v" + run));
          changed++;
        }
      }
      const r = await sys.syncSource({ userId: "u1", sourceId: "docs" });
      failed += r.failed;
      rss.push(process.memoryUsage().rss);
    }
    const documents = (await sys.status({ userId: "u1" })).documents;
    await sys.stop();
    process.stdout.write(JSON.stringify({ rss, failed, changed, documents }) + "\\n");
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`soak process exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(out.trim().split("\n").pop() as string));
    });
  });
}

describe("long life", () => {
  it(`${RUNS} runs in one process, no-change and 1% changes: RSS does not grow`, {
    timeout: 600_000,
  }, async () => {
    const { rss, failed, changed, documents } = await soak(tmp.path);
    expect(rss).toHaveLength(RUNS);
    expect(failed).toBe(0);
    expect(changed).toBeGreaterThan(250);
    expect(documents).toBe(FILES);
    const mb = (n: number) => Math.round(n / 1024 / 1024);
    const first = Math.max(...rss.slice(0, 50));
    const last = Math.max(...rss.slice(-50));
    // The curve in 10 steps, for the message of a failing run.
    const curve = Array.from({ length: 10 }, (_, i) => mb(Math.max(...rss.slice(i * 30, i * 30 + 30))));
    expect(last, `RSS MB per 30 runs: ${curve.join(", ")}`).toBeLessThanOrEqual(first * 1.1);
  });
});
