import { ERROR_CODES, type ErrorCode } from "./codes.js";

/**
 * The one error class of lancedb-sync. `code` is stable (see {@link ERROR_CODES}); `message` is for people and
 * names the thing that failed and why. Control flow checks `code` or `retryable`, never the message text.
 */
export class SyncError extends Error {
  override readonly name = "SyncError";
  /** Stable code from the error table. */
  readonly code: ErrorCode;
  /** HTTP status the API maps this error to. */
  readonly status: number;
  /** Whether the same operation may succeed if tried again later. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryable?: boolean }) {
    const entry = ERROR_CODES[code];
    super(message ?? entry.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = entry.status;
    this.retryable = options?.retryable ?? entry.retryable;
  }
}

/** True when `err` is a {@link SyncError}, optionally with the given code. */
export function isSyncError(err: unknown, code?: ErrorCode): err is SyncError {
  return err instanceof SyncError && (code === undefined || err.code === code);
}

/** A short, single-line description of any thrown value, including its cause chain. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    if (cur instanceof Error) {
      const msg = sanitizeNativeMessage(cur.message);
      if (!parts.some((p) => sanitizeNativeMessage(p).includes(msg))) parts.push(cur.message);
      cur = cur.cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return sanitizeNativeMessage(parts.join(": "));
}

/**
 * Removes what a native library (LanceDB's Rust core) puts into a message for its own developers — backtrace
 * frames, Rust source locations, cargo registry paths — and folds it onto one line. Users see this text; the
 * raw one goes to the log file only.
 */
export function sanitizeNativeMessage(message: string): string {
  const kept = message
    .split("\n")
    .filter((line) => !/^\s*(\d+: |at \S+\.rs:|stack backtrace:|note: run with `RUST_BACKTRACE)/.test(line))
    .join(" ");
  // LanceDB repeats a message down its cause chain ("X Caused by: X' Caused by: X''"): keep what is new.
  const segments: string[] = [];
  for (const seg of kept.split(/\s*Caused by:\s*/)) {
    if (seg && !segments.some((s) => s.includes(seg.trim()))) segments.push(seg.trim());
  }
  return (
    segments
      .join(": ")
      // Path segments exclude "/": nested quantifiers over "/" backtrack exponentially on long paths.
      .replace(/,?\s*(?:at\s+)?(?:\/[^\s,:()/]+)*\/(?:\.?cargo|rustc)\/[^\s,()]+/g, "")
      .replace(/,?\s*(?:at\s+)?[\w./-]+\.rs:\d+(?::\d+)?/g, "")
      .replace(/\s+/g, " ")
      .trim()
  );
}
