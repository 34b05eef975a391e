import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * Module hooks for a worker running TypeScript sources (tests under vitest, where no `.js` file exists next
 * to the `.ts` one): `./x.js` imports resolve to `./x.ts`, which `typescript` transpiles (types removed,
 * nothing checked).
 */
const LOADER = `
import { readFile } from "node:fs/promises";
let ts;
export async function initialize(data) { ts = (await import(data.typescript)).default; }
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (specifier.endsWith(".js") && context.parentURL?.endsWith(".ts")) {
      return next(specifier.slice(0, -3) + ".ts", context);
    }
    throw err;
  }
}
export async function load(url, context, next) {
  if (!url.endsWith(".ts")) return next(url, context);
  const source = await readFile(new URL(url), "utf8");
  const out = ts.transpileModule(source, {
    fileName: url,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  return { format: "module", source: out.outputText, shortCircuit: true };
}
`;

const BOOTSTRAP = `
const { register } = require("node:module");
const { workerData } = require("node:worker_threads");
register(workerData.loader, { data: { typescript: workerData.typescript } });
import(workerData.entry);
`;

/**
 * Starts a worker thread on the TypeScript module `entry` (a `file:` URL of a `.ts` file). For running from
 * sources only; the built package starts its compiled `.js` workers directly. Needs the `typescript` package.
 */
export function startSourceWorker(entry: URL, options: WorkerOptions): Worker {
  const typescript = pathToFileURL(createRequire(import.meta.url).resolve("typescript")).href;
  return new Worker(BOOTSTRAP, {
    ...options,
    eval: true,
    workerData: {
      entry: entry.href,
      loader: `data:text/javascript,${encodeURIComponent(LOADER)}`,
      typescript,
    },
  });
}

/**
 * Starts the worker module `name` (without extension) that lies next to the module at `selfUrl`: its
 * compiled `.js` when running built, its `.ts` through {@link startSourceWorker} when running from sources.
 */
export function startSiblingWorker(selfUrl: string, name: string, options: WorkerOptions = {}): Worker {
  if (selfUrl.endsWith(".ts")) return startSourceWorker(new URL(`./${name}.ts`, selfUrl), options);
  return new Worker(new URL(`./${name}.js`, selfUrl), options);
}
