import { type AppContext, openAppContext } from "../app/app-context.js";
import { loadConfig } from "../config/load-config.js";
import { describeError, isSyncError } from "../errors/sync-error.js";
import { createLogger } from "../logging/create-logger.js";

/** Process exit codes of the CLI. */
export const EXIT = {
  /** Everything succeeded. */
  OK: 0,
  /** Fatal: bad config or arguments, source unavailable, storage failure. Nothing was half-done. */
  FATAL: 1,
  /** The run completed but some items failed (they are recorded and retried on later runs). */
  ITEMS_FAILED: 2,
  /** The run completed but deletions were held by the mass-delete guard. */
  DELETIONS_HELD: 3,
} as const;

/** Runs `fn` and sets the exit code; a thrown error is reported and exits {@link EXIT.FATAL}. */
export async function runPlain(json: boolean, fn: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (err) {
    reportError(err, json);
    process.exitCode = EXIT.FATAL;
  }
}

/** Loads config, a logger and an app context, runs `fn` with it, closes it, maps errors to exit codes. */
export async function runCommand(json: boolean, fn: (ctx: AppContext) => Promise<number>): Promise<void> {
  await runPlain(json, async () => {
    const config = loadConfig();
    const ctx = openAppContext(config, createLogger({ level: config.logLevel, file: config.logFile }));
    try {
      return await fn(ctx);
    } finally {
      await ctx.close();
    }
  });
}

/** Prints a fatal error: a line on stderr, and a JSON object on stdout when `--json` was given. */
export function reportError(err: unknown, json: boolean): void {
  const code = isSyncError(err) ? err.code : "SYNC_E_INTERNAL";
  const message = describeError(err);
  process.stderr.write(`lancedb-sync: ${code}: ${message}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
}

/** Writes a value as one JSON line on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
