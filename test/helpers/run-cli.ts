import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Path of the built CLI (tests run `npm run build` first via `npm test`). */
export const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

/** Result of one CLI process. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is one JSON document, else undefined. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read fields of the parsed CLI output freely.
  json: any;
}

/** Options of {@link runCli} and {@link spawnCli}. */
export interface CliOptions {
  cwd: string;
  env?: Record<string, string>;
}

/**
 * Spawns the built CLI in `cwd` with `env` added to a clean environment (no inherited LANCEDB_*, EMBEDDING_*,
 * S3_*, AWS_* or LOG_* variables; AWS metadata lookups disabled), and hands out the child so a test can
 * signal it.
 */
export function spawnCli(
  args: string[],
  options: CliOptions,
): { child: ChildProcess; done: Promise<CliResult> } {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(LANCEDB_|EMBEDDING_|S3_|AWS_|STATE_DB_PATH|LOG_)/.test(k)) base[k] = v;
  }
  const env = { ...base, AWS_EC2_METADATA_DISABLED: "true", LOG_LEVEL: "warn", ...options.env };
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => {
      stdout += d;
    });
    child.stderr?.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr, json });
    });
  });
  return { child, done };
}

/** Runs the built CLI to completion (see {@link spawnCli}). */
export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  return spawnCli(args, options).done;
}
