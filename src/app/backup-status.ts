import { probeStore } from "../storage/probe-store.js";
import type { AppContext } from "./app-context.js";
import {
  type BackupOutcome,
  backupConfigured,
  LAST_BACKUP_KEY,
  LAST_GOOD_BACKUP_KEY,
  readBackupOutcome,
} from "./backups.js";

/** The backup part of the status report (store-wide; absent from a per-user report). */
export interface BackupStatus {
  /** Whether a backup target is configured. */
  configured: boolean;
  /**
   * Whether the backup store answered the last backup (1), refused or was unreachable (0); null before the
   * first attempt. Always 0 when no target is configured.
   */
  s3_sync_available: 0 | 1 | null;
  /** Table versions committed locally since the newest complete snapshot (what a restore now would lose). */
  pending_syncs: number;
  /** The recovery point: the newest complete snapshot this store made, its age and what is not in it yet. */
  recovery_point: {
    snapshot_id: string;
    created_at: string;
    age_seconds: number;
    /** Per table: local version now, version in the snapshot. */
    tables: Array<{ name: string; local_version: number | null; backed_up_version: number }>;
  } | null;
  /** The last backup attempt: result, size and time. */
  last_backup: {
    ok: boolean;
    finished_at: string;
    snapshot_id: string | null;
    bytes_uploaded: number;
    total_bytes: number;
    duration_ms: number;
    error: string | null;
    code: string | null;
  } | null;
}

/**
 * The backup status from what the journal recorded and the local tables' versions (a directory listing):
 * cheap, and no request to the backup store.
 */
export function collectBackupStatus(
  ctx: AppContext,
  configured = backupConfigured(ctx.config),
): BackupStatus {
  const { config } = ctx;
  const last = readBackupOutcome(ctx, LAST_BACKUP_KEY);
  const good = readBackupOutcome(ctx, LAST_GOOD_BACKUP_KEY);
  const probe = probeStore(config.lancedbUri, config.documentsTable, config.chunksTable);
  const local = (name: string): number | null => {
    if (typeof probe !== "object") return null;
    return name === config.documentsTable
      ? probe.docs.version
      : name === config.chunksTable
        ? probe.chunks.version
        : null;
  };
  let pending = 0;
  let recovery: BackupStatus["recovery_point"] = null;
  if (good?.snapshot_id && good.created_at) {
    const tables = good.tables.map((t) => ({
      name: t.name,
      local_version: local(t.name),
      backed_up_version: t.version,
    }));
    pending = tables.reduce(
      (n, t) => n + Math.max(0, (t.local_version ?? t.backed_up_version) - t.backed_up_version),
      0,
    );
    recovery = {
      snapshot_id: good.snapshot_id,
      created_at: good.created_at,
      age_seconds: Math.max(0, Math.round((Date.now() - Date.parse(good.created_at)) / 1000)),
      tables,
    };
  } else if (typeof probe === "object") {
    pending = probe.docs.version + probe.chunks.version;
  }
  return {
    configured,
    s3_sync_available: !configured ? 0 : last === undefined ? null : reachable(last) ? 1 : 0,
    pending_syncs: pending,
    recovery_point: recovery,
    last_backup: last
      ? {
          ok: last.ok,
          finished_at: last.finished_at,
          snapshot_id: last.snapshot_id,
          bytes_uploaded: last.bytes_uploaded,
          total_bytes: last.total_bytes,
          duration_ms: last.duration_ms,
          error: last.error,
          code: last.code,
        }
      : null,
  };
}

function reachable(o: BackupOutcome): boolean {
  return o.ok || (o.code !== "SYNC_E_BACKUP_UNAVAILABLE" && o.code !== "SYNC_E_BACKUP_NOT_CONFIGURED");
}
