import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Logger, silentLogger } from "../../src/core/logger.js";
import { createSyncSystem, type SyncSystem, type SyncSystemOptions } from "../../src/index.js";
import type { JobRecord, WorkQueue } from "../../src/service/service-types.js";

/** A system on `dir` (LanceDB, journal and uploads inside it), hashing embedder, silent, short service intervals. */
export async function startSystem(dir: string, options: SyncSystemOptions = {}): Promise<SyncSystem> {
  const sys = createSyncSystem({
    lancedbUri: join(dir, "lancedb"),
    stateDbPath: join(dir, "state.db"),
    uploadDir: join(dir, "uploads"),
    logger: silentLogger,
    syncInterval: 3600,
    defaultPollInterval: 1,
    watchDebounceMs: 100,
    ...options,
  });
  await sys.start();
  return sys;
}

/** Writes `files` (relative paths) under `dir`, creating folders. */
export function writeFiles(dir: string, files: Record<string, string>): string {
  for (const [name, body] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, body);
  }
  return dir;
}

/** Polls `fn` every 50 ms until it returns a truthy value (returned), failing after `timeoutMs` with `what`. */
export async function until<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 20_000,
): Promise<Exclude<T, undefined | null | false | 0 | "">> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Exclude<T, undefined | null | false | 0 | "">;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Finished jobs of `queue` matching `pred` (newest first). */
export function jobs(queue: WorkQueue, pred: (j: JobRecord) => boolean): JobRecord[] {
  return queue.recent(undefined, 200).filter(pred);
}

/** One log line as {@link recordingLogger} keeps it. */
export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  obj: Record<string, unknown>;
}

/** A logger that keeps every line in `lines` (and optionally reports each to `onLine`). */
export function recordingLogger(onLine?: (line: LogLine) => void): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine["level"]) =>
    (obj: object, msg = ""): void => {
      const line = { level, msg, obj: obj as Record<string, unknown> };
      lines.push(line);
      onLine?.(line);
    };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
