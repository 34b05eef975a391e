import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { SyncError, sanitizeNativeMessage } from "../errors/sync-error.js";

// Errors of LanceDB calls, in one place (no LanceDB or Arrow import: cheap to load).

/**
 * Runs one LanceDB call and turns what it throws into a {@link SyncError} via {@link storeError}, naming the
 * table when given.
 */
export async function wrap<T>(what: string, fn: () => Promise<T>, table?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw storeError(what, err, table);
  }
}

/** A write: {@link wrap}ped and retried on commit conflicts ({@link withConflictRetry}). */
export function write<T>(what: string, fn: () => Promise<T>, table: string): Promise<T> {
  return withConflictRetry(() => wrap(what, fn, table));
}

/** Options of {@link withConflictRetry}. */
export interface ConflictRetryOptions {
  /** Attempts in all (default 5). */
  attempts?: number;
  /** First pause (ms, default 100), doubled after each conflict, with jitter. */
  baseDelayMs?: number;
}

/**
 * Runs a LanceDB write, retrying it with exponential backoff while it fails with `SYNC_E_STORE_CONFLICT`
 * (LanceDB's "Retryable commit conflict": another writer committed first). The write must be idempotent or
 * have had no effect when it conflicted (a conflicting commit commits nothing).
 */
export async function withConflictRetry<T>(
  fn: () => Promise<T>,
  options: ConflictRetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  let pause = options.baseDelayMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const conflict = isConflict(err);
      if (!conflict || attempt >= attempts) {
        if (conflict) {
          const e = err instanceof SyncError ? err : storeError("commit", err);
          throw new SyncError("SYNC_E_STORE_CONFLICT", `${e.message} (gave up after ${attempts} attempts)`, {
            cause: e.cause ?? err,
          });
        }
        throw err;
      }
      await new Promise((r) => setTimeout(r, pause * (0.5 + Math.random())));
      pause *= 2;
    }
  }
}

function isConflict(err: unknown): boolean {
  if (err instanceof SyncError) return err.code === "SYNC_E_STORE_CONFLICT";
  return err instanceof Error && CONFLICT.test(err.message);
}

const CONFLICT = /Retryable commit conflict|commit conflict.*retry/is;
/**
 * LanceDB messages that mean a table's files are unreadable or missing (not a transient I/O error): a
 * corrupt manifest, a data or deletion file gone, a file that does not decode, a panic in the native reader.
 */
const DAMAGE =
  /Panic in async function|panicked|file size is too small|Not found|No such file|does not exist|corrupt|decode|protobuf|invalid (manifest|data|file)|Unexpected EOF|failed to fill whole buffer|out of range|buffer too small|Invalid (footer|magic)/i;
/** A file of a Lance dataset named in a message. */
const LANCE_FILE = /(?:[\w.~+-]+\/)*[\w.~+-]+\.(?:lance|manifest|txn|arrow|idx|bin)\b/;

/**
 * Turns an error thrown by LanceDB into a {@link SyncError} with a clean one-line message (no Rust backtrace,
 * no cargo source paths; the raw error stays its `cause`, which only the log file shows):
 * `SYNC_E_STORE_CONFLICT` for a retryable commit conflict, `SYNC_E_STORE_DAMAGED` naming the table and the
 * file LanceDB names when the table's files are unreadable or missing, `SYNC_E_STORAGE` otherwise.
 */
export function storeError(what: string, err: unknown, table?: string): SyncError {
  if (err instanceof SyncError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const clean = sanitizeNativeMessage(raw);
  const where = table ? `table "${table}": ` : "";
  if (CONFLICT.test(raw)) {
    return new SyncError("SYNC_E_STORE_CONFLICT", `lancedb: ${what}: ${where}${clean}`, { cause: err });
  }
  if (DAMAGE.test(raw)) {
    let file = LANCE_FILE.exec(raw)?.[0];
    // Lance's object store drops the leading slash of local paths.
    if (file && !file.startsWith("/") && existsSync(dirname(`/${file}`))) file = `/${file}`;
    return new SyncError(
      "SYNC_E_STORE_DAMAGED",
      `lancedb: ${what}: ${table ? `table "${table}"` : "a table"} is damaged` +
        `${file ? ` (file ${file})` : ""}: ${clean}; run \`lancedb-sync doctor\` to check every table and ` +
        "`lancedb-sync doctor --repair` to go back to its newest readable version",
      { cause: err },
    );
  }
  return new SyncError("SYNC_E_STORAGE", `lancedb: ${what}: ${where}${clean}`, { cause: err });
}
