import type { Config } from "../config/load-config.js";
import type { SyncStep } from "../core/run-sync.js";
import type { BackupStep } from "./backups.js";

/**
 * Test only: when `LANCEDB_SYNC_CRASH_AT=<step>:<batch>` is configured, returns a step callback that kills
 * the process with SIGKILL when a run reaches that step, to prove that a crash there loses and duplicates
 * nothing. Undefined in production (the setting is empty).
 */
export function crashHook(
  config: Config,
): ((step: SyncStep | "blob-stored" | "upload-recorded" | BackupStep, batch: number) => void) | undefined {
  if (config.crashAt === "") return undefined;
  const [step, batch] = config.crashAt.split(":");
  return (s, b) => {
    if (s === step && String(b) === (batch ?? "0")) process.kill(process.pid, "SIGKILL");
  };
}
