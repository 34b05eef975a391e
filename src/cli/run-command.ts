import { type AppContext, openAppContext } from "../app/app-context.js";
import { configWarnings } from "../config/config-warnings.js";
import { checkConfigPaths, loadConfig } from "../config/load-config.js";
import type { EnvVarName } from "../config/schema.js";
import { describeError, isSyncError } from "../errors/sync-error.js";
import { createLogger, FILE_ONLY } from "../logging/create-logger.js";
import {
  damagedJournalError,
  isJournalCorruption,
  journalDamage,
  moveJournalAside,
} from "../storage/sqlite-journal.js";
import { consoleLogging, flushWarnings, markShown } from "./terminal.js";

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

/**
 * Runs `fn` and sets the exit code; a thrown error is reported (one clean line) and exits
 * {@link EXIT.FATAL}. `log` receives the error first (the command's logger: its full text goes to the log).
 */
export async function runPlain(
  json: boolean,
  fn: () => Promise<number>,
  log?: (err: unknown) => void,
): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (err) {
    log?.(err);
    reportError(err, json);
    process.exitCode = EXIT.FATAL;
  } finally {
    flushWarnings();
  }
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** A long-running command (`serve`): its log lines go to stderr as they come, info lines included. */
  service?: boolean;
  /** Defaults of this command for variables the user did not set (see {@link WRITER_DEFAULTS}). */
  defaults?: Partial<Record<EnvVarName, string>>;
}

/**
 * Defaults of the commands that write but never search (`sync`, `ingest`, `migrate`): a smaller LanceDB index
 * cache. Their lookups hold index pages too, but re-reading some costs them nothing measurable, while the 256 MB
 * a searching process keeps for its full-text and vector indices made half the peak RSS of a large change step
 * (100,000 documents, 5% changed: 857 MB; 558 MB with 64, same time). A value the user sets still wins.
 */
export const WRITER_DEFAULTS: Partial<Record<EnvVarName, string>> = { LANCEDB_INDEX_CACHE_MB: "64" };

/**
 * Loads config, a logger and an app context, runs `fn` with it, closes it, maps errors to exit codes. When the
 * journal turns out to be damaged in the middle of the command (SQLite: "database disk image is malformed")
 * and `PRAGMA quick_check` confirms it, the journal is moved aside and the command runs once more on a fresh
 * one (every command is safe to repeat: writes are idempotent and a sync rebuilds the journal from the tables).
 */
export async function runCommand(
  json: boolean,
  fn: (ctx: AppContext) => Promise<number>,
  options: RunCommandOptions = {},
): Promise<void> {
  let logger: ReturnType<typeof createLogger> | undefined;
  await runPlain(
    json,
    async () => {
      const config = loadConfig(options.defaults ? { defaults: options.defaults } : {});
      checkConfigPaths(config);
      warnAboutConfig();
      const log = createLogger({
        level: config.logLevel,
        file: config.logFile,
        ...(options.service ? {} : consoleLogging(config.logLevel)),
      });
      logger = log;
      for (let attempt = 0; ; attempt++) {
        let failure: unknown;
        const ctx = openAppContext(config, log);
        try {
          return await fn(ctx);
        } catch (err) {
          failure = err;
        } finally {
          await ctx.close();
        }
        const path = config.stateDbPath;
        if (!isJournalCorruption(failure) || path === ":memory:") throw failure;
        const damage = journalDamage(path);
        if (damage === undefined || attempt > 0)
          throw damagedJournalError(path, damage ?? describeError(failure), failure);
        let movedTo: string;
        try {
          movedTo = moveJournalAside(path);
        } catch (err) {
          throw damagedJournalError(path, damage, err);
        }
        log.warn(
          { journal: path, movedTo, damage },
          `journal ${path} is damaged (${damage}): moved it to ${movedTo}; running the command again on a fresh ` +
            "journal (a sync rebuilds its items from the tables, nothing is re-embedded)",
        );
      }
    },
    (err) => logger?.error({ [FILE_ONLY]: true, err: rawError(err) }, "command failed"),
  );
}

/** The full text of an error and its causes (native backtraces included), for the log file. */
function rawError(err: unknown): Record<string, unknown> {
  const chain: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    chain.push(cur instanceof Error ? (cur.stack ?? cur.message) : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return { code: isSyncError(err) ? err.code : "SYNC_E_INTERNAL", chain };
}

/** Prints the configuration's warnings (unknown `.env` keys, deprecated names) on stderr, one line each. */
export function warnAboutConfig(envFile?: string): void {
  for (const w of configWarnings(envFile)) process.stderr.write(`lancedb-sync: warning: ${w}\n`);
}

/** Prints a fatal error: a line on stderr, and a JSON object on stdout when `--json` was given. */
export function reportError(err: unknown, json: boolean): void {
  const code = isSyncError(err) ? err.code : "SYNC_E_INTERNAL";
  const message = describeError(err);
  markShown(message);
  process.stderr.write(`lancedb-sync: ${code}: ${message}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
}

/** Writes a value as one JSON line on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
