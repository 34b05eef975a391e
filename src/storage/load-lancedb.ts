import { availableParallelism } from "node:os";

type LanceDb = typeof import("@lancedb/lancedb");
let loaded: Promise<LanceDb> | undefined;

/**
 * Loads `@lancedb/lancedb` once, after making sure its CPU thread pool has at least two threads.
 * With one usable thread (machines with two or fewer cores) LanceDB 0.31's full-text index build
 * deadlocks (lancedb/lancedb#3568); `LANCE_CPU_THREADS` is read when the native runtime starts, so it must be
 * set before the first import. A value set by the user is kept. Rust backtraces are switched off.
 */
export function loadLanceDb(): Promise<LanceDb> {
  process.env.LANCE_CPU_THREADS ??= String(Math.max(2, availableParallelism()));
  // A panic in LanceDB's native code must not print a backtrace with cargo source paths on the user's terminal
  // (the error itself is reported cleanly); LANCEDB_SYNC_RUST_BACKTRACE=1 keeps them for debugging.
  process.env.RUST_BACKTRACE = process.env.LANCEDB_SYNC_RUST_BACKTRACE === "1" ? "1" : "0";
  loaded ??= import("@lancedb/lancedb");
  return loaded;
}
