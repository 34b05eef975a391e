/**
 * `npm run bench -- --scale [--sizes 2000,20000,100000] [--no-search] [--search-chunks 1000000]
 * [--results docs/bench/scale-results.json] [--chart docs/bench/scale-chart.svg] [--render-only]`:
 * the sync benchmark at several corpus sizes plus the search benchmark at scale.
 *
 * Each size is one `sync-bench.js --n <size> --rounds 1 --no-soak --json` (its own corpus; every step — initial
 * sync, no change, 5% modified + 1% added + 1% deleted — its own process, checked as always); then, unless
 * `--no-search`, `search-scale.js` (latency p50/p99 per mode and recall@10 at `--search-chunks` chunks). The
 * results are merged into the JSON file by size (a size run again replaces its entry, so long sizes can be run
 * on their own), and the SVG chart of wall time and peak RSS against corpus size is rendered from that file with
 * vega-lite. `--render-only` only re-renders. Timings are of whatever machine runs it: say how busy it was.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** One step of one corpus size, as the chart and README table use it. */
export interface ScaleStep {
  size: number;
  step: string;
  wallS: number;
  runS: number;
  peakRssMb: number;
  embedded: number;
  chunks: number;
  ok: boolean;
}

/** The merged results file. */
export interface ScaleResults {
  machine: string;
  sizes: Record<string, { at: string; loadAvg: number[]; steps: ScaleStep[]; failures: string[] }>;
  search?: { at: string; loadAvg: number[]; result: unknown };
}

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const log = (msg: string) => process.stderr.write(`[scale] ${msg}\n`);

function runNode(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], cwd: repo });
    const out: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => {
      out.push(b);
      process.stdout.write(b);
    });
    child.on("error", rej);
    child.on("close", (code) => res({ code, stdout: Buffer.concat(out).toString("utf8") }));
  });
}

const lastLine = (s: string) => s.trim().split("\n").pop() ?? "";

/** Short name of a sync-bench step ("a initial" -> "initial sync"). */
function stepName(step: string): string {
  if (step.startsWith("a")) return "initial sync";
  if (step.startsWith("b")) return "no change";
  if (step.startsWith("c")) return "5%+1%+1% changed";
  return step;
}

/** The vega-lite spec of the chart: wall time and peak RSS against corpus size, one line per step. */
export function chartSpec(steps: readonly ScaleStep[]): Record<string, unknown> {
  const values = steps.flatMap((s) => [
    { size: s.size, step: stepName(s.step), metric: "wall time (s)", value: s.wallS },
    { size: s.size, step: stepName(s.step), metric: "peak RSS (MB)", value: s.peakRssMb },
  ]);
  const panel = (metric: string) => ({
    title: metric,
    transform: [{ filter: { field: "metric", equal: metric } }],
    mark: { type: "line", point: true },
    width: 320,
    height: 220,
    encoding: {
      x: { field: "size", type: "quantitative", scale: { type: "log" }, title: "documents" },
      y: { field: "value", type: "quantitative", title: metric },
      color: { field: "step", type: "nominal", title: "step" },
    },
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    description: "lancedb-sync scale benchmark: wall time and peak RSS per step against corpus size",
    data: { values },
    hconcat: [panel("wall time (s)"), panel("peak RSS (MB)")],
    config: { background: "white" },
  };
}

/** Renders the chart of `steps` to SVG with vega-lite and vega (headless). */
export async function renderChart(steps: readonly ScaleStep[]): Promise<string> {
  const vega = await import("vega");
  const { compile } = await import("vega-lite");
  const spec = compile(chartSpec(steps) as unknown as Parameters<typeof compile>[0]).spec;
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  return view.toSVG();
}

/** Runs the scale benchmark with `args` (the command line without `--scale`); returns the exit code. */
export async function runScale(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: "string", default: "2000,20000,100000" },
      "no-search": { type: "boolean", default: false },
      "search-chunks": { type: "string", default: "1000000" },
      results: { type: "string", default: join(repo, "docs/bench/scale-results.json") },
      chart: { type: "string", default: join(repo, "docs/bench/scale-chart.svg") },
      "render-only": { type: "boolean", default: false },
    },
  });
  const resultsFile = resolve(values.results);
  mkdirSync(dirname(resultsFile), { recursive: true });
  const os = await import("node:os");
  const results: ScaleResults = existsSync(resultsFile)
    ? (JSON.parse(readFileSync(resultsFile, "utf8")) as ScaleResults)
    : { machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB`, sizes: {} };
  let failed = false;
  const save = () => writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  if (!values["render-only"]) {
    for (const size of values.sizes.split(",").map(Number)) {
      if (!Number.isInteger(size) || size < 1) throw new Error(`--sizes: ${size} is not a positive integer`);
      log(`corpus of ${size} documents`);
      const loadBefore = os.loadavg();
      const r = await runNode([
        join(here, "sync-bench.js"),
        "--n",
        String(size),
        "--rounds",
        "1",
        "--no-soak",
        "--json",
        "--timeout-seconds",
        "7200",
      ]);
      const summary = JSON.parse(lastLine(r.stdout)) as {
        steps: Array<{
          step: string;
          wallMs: number;
          runMs: number;
          peakRssMb: number;
          embeddedChunks: number;
          chunks: number;
          failures: string[];
        }>;
        failures: string[];
      };
      results.sizes[String(size)] = {
        at: new Date().toISOString(),
        loadAvg: [...loadBefore, ...os.loadavg()].map((x) => Math.round(x * 10) / 10),
        steps: summary.steps.map((s) => ({
          size,
          step: s.step,
          wallS: Math.round(s.wallMs / 10) / 100,
          runS: Math.round(s.runMs / 10) / 100,
          peakRssMb: s.peakRssMb,
          embedded: s.embeddedChunks,
          chunks: s.chunks,
          ok: s.failures.length === 0,
        })),
        failures: summary.failures,
      };
      if (r.code !== 0 || summary.failures.length > 0) failed = true;
      save();
    }
    if (!values["no-search"]) {
      log(`search at ${values["search-chunks"]} chunks`);
      const loadBefore = os.loadavg();
      const r = await runNode([
        join(here, "search-scale.js"),
        "--chunks",
        values["search-chunks"],
        "--probes",
        "20",
        "--refines",
        "50,100",
      ]);
      if (r.code !== 0) failed = true;
      else {
        results.search = {
          at: new Date().toISOString(),
          loadAvg: [...loadBefore, ...os.loadavg()].map((x) => Math.round(x * 10) / 10),
          result: JSON.parse(lastLine(r.stdout)),
        };
        save();
      }
    }
  }
  const steps = Object.values(results.sizes)
    .flatMap((s) => s.steps)
    .filter((s) => /^[abc]/.test(s.step));
  const chart = resolve(values.chart);
  mkdirSync(dirname(chart), { recursive: true });
  writeFileSync(chart, await renderChart(steps));
  log(`results ${resultsFile}, chart ${chart}`);
  return failed ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await runScale(process.argv.slice(2));
}
