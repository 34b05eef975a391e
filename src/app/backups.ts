import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { BackupTarget } from "../backup/backup-target.js";
import { createBackupTargets } from "../backup/create-backup-targets.js";
import { type TargetUploadResult, uploadSnapshot } from "../backup/create-snapshot.js";
import { listTableFiles } from "../backup/lance-table-files.js";
import { type PruneReport, pruneSnapshots } from "../backup/prune-snapshots.js";
import {
  listSnapshotIds,
  newSnapshotId,
  readManifest,
  type SnapshotManifest,
} from "../backup/snapshot-manifest.js";
import { type VerifyReport, verifySnapshots } from "../backup/verify-snapshot.js";
import type { Config } from "../config/load-config.js";
import { SyncError } from "../errors/sync-error.js";
import { type HeldLock, withLock } from "../storage/lease-lock.js";
import { referencedBlobsIn } from "../storage/sqlite-journal.js";
import { tableRowsAt } from "../storage/table-versions.js";
import type { AppContext } from "./app-context.js";
import { readBinding } from "./store-binding.js";

/**
 * Name of the backup lease: held by a backup (or prune) from before its consistent point until its manifest
 * is written. It is also the clean-up fence: `compact` removes old versions only when it can take this lease,
 * so no file a running backup still has to read is ever deleted.
 */
export const BACKUP_LOCK = "backup";

/** Journal setting holding the last backup's {@link BackupOutcome}. */
export const LAST_BACKUP_KEY = "backup_last";
/** Journal setting holding the last successful backup's {@link BackupOutcome}. */
export const LAST_GOOD_BACKUP_KEY = "backup_last_ok";

/** What `lancedb-sync backup --json` prints. */
export interface BackupResult {
  snapshot_id: string;
  created_at: string;
  /** Objects and bytes stored by this backup on the primary target. */
  files_uploaded: number;
  bytes_uploaded: number;
  /** Files the primary target already had. */
  files_skipped: number;
  /** Files and bytes the snapshot references. */
  total_files: number;
  total_bytes: number;
  tables: Array<{ name: string; version: number; rows: number }>;
  duration_ms: number;
  /** Every target (primary first, then the replica) with what it received. */
  targets: TargetUploadResult[];
}

/** The last backup as recorded in the journal (status, metrics). */
export interface BackupOutcome {
  ok: boolean;
  finished_at: string;
  snapshot_id: string | null;
  created_at: string | null;
  bytes_uploaded: number;
  total_bytes: number;
  duration_ms: number;
  tables: Array<{ name: string; version: number }>;
  error: string | null;
  code: string | null;
}

/** Test crash points of a backup (`LANCEDB_SYNC_CRASH_AT=<step>:<n>`). */
export type BackupStep = "backup-captured" | "backup-hashed" | "backup-file" | "backup-manifest";

/** Options of {@link runBackup}. */
export interface RunBackupOptions {
  signal?: AbortSignal;
  /** Called at each step (test crash points, tests); awaited. */
  onStep?(step: BackupStep, n: number): void | Promise<void>;
}

/** Backup targets made from the config, and how to release them (S3 clients hold sockets). */
export interface ConfiguredTargets {
  /** Primary first, then the replica; empty when no target is configured. */
  targets: BackupTarget[];
  close(): void;
}

/** The backup targets the config describes (`S3_BUCKET` or `BACKUP_DIR`, and `S3_REPLICA_*`); sends nothing. */
export function configuredBackupTargets(config: Config): ConfiguredTargets {
  const made = createBackupTargets(config);
  return {
    targets: [made.primary, made.replica].filter((t): t is BackupTarget => t !== undefined),
    close: () => made.close(),
  };
}

/** Whether the config names a backup target (nothing is created or contacted). */
export function backupConfigured(config: Config): boolean {
  return config.s3.bucket !== "" || config.backupDir !== "";
}

/** Throws `SYNC_E_BACKUP_NOT_CONFIGURED` when there is no target; returns the primary. */
export function requireTargets(targets: readonly BackupTarget[]): BackupTarget {
  const [primary] = targets;
  if (!primary) {
    throw new SyncError(
      "SYNC_E_BACKUP_NOT_CONFIGURED",
      "no backup target is configured: set S3_BUCKET (with S3_ENDPOINT for an S3-compatible store) or BACKUP_DIR",
    );
  }
  return primary;
}

/**
 * Takes a consistent, incremental snapshot of the store and the journal and stores it on every target.
 * Holds the backup lease throughout (one backup at a time; `SYNC_E_BACKUP_BUSY` otherwise) and the writer lock
 * only while it copies the journal (SQLite online backup) and then lists each table's version and files; the
 * upload runs without it, so syncs go on. The manifest is written last on each target. Records the outcome
 * in the journal (status). Needs a local `LANCEDB_URI`.
 */
export async function runBackup(
  ctx: AppContext,
  targets: readonly BackupTarget[],
  options: RunBackupOptions = {},
): Promise<BackupResult> {
  requireTargets(targets);
  const { config, journal } = ctx;
  if (config.lancedbUri.includes("://")) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `backup: LANCEDB_URI ${config.lancedbUri} is not a local directory; backups copy a local store's files`,
    );
  }
  const backupTo = journal.backupTo?.bind(journal);
  if (!backupTo)
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", "backup: this journal cannot be copied online");
  const started = Date.now();
  return withLock(
    journal,
    BACKUP_LOCK,
    {
      purpose: "backup",
      leaseMs: config.lockLeaseSeconds * 1000,
      waitMs: 0,
      busyCode: "SYNC_E_BACKUP_BUSY",
      signal: options.signal,
    },
    async (lease: HeldLock) => {
      const signal = options.signal ? AbortSignal.any([options.signal, lease.signal]) : lease.signal;
      // Copies left by a backup that was killed: this one holds the lease, so they are nobody's.
      const stateDir = dirname(config.stateDbPath);
      for (const e of await readdir(stateDir).catch(() => [] as string[])) {
        if (e.startsWith(".backup-")) await rm(join(stateDir, e), { recursive: true, force: true });
      }
      const tmp = await mkdtemp(join(stateDir, ".backup-"));
      try {
        const point = await ctx.withWriterLock(
          "backup (consistent point)",
          async () => {
            const createdAt = new Date();
            const journalFile = join(tmp, "journal.db");
            // The journal first, then the tables: a restored journal may lag its tables, never lead them.
            await backupTo(journalFile);
            const blobs = [...referencedBlobsIn(journalFile)].sort();
            const docs = await listTableFiles(config.lancedbUri, config.documentsTable);
            const chunks = await listTableFiles(config.lancedbUri, config.chunksTable);
            return {
              snapshotId: newSnapshotId(createdAt),
              createdAt: createdAt.toISOString(),
              storeId: readBinding(journal)?.storeId ?? null,
              journalFile: `${journalFile}.gz`,
              blobs: { dir: config.uploadDir, hashes: blobs },
              tables: [
                { ...docs, role: "documents" as const },
                { ...chunks, role: "chunks" as const },
              ],
            };
          },
          signal,
        );
        // The journal is uploaded whole each time: compressed (SQLite pages shrink several times over).
        await pipeline(
          createReadStream(point.journalFile.slice(0, -3)),
          createGzip(),
          createWriteStream(point.journalFile),
        );
        await options.onStep?.("backup-captured", 0);
        const { manifest, targets: sent } = await uploadSnapshot(point, targets, {
          concurrency: config.backupConcurrency,
          rowsAt: async (table, version) => (await tableRowsAt(config.lancedbUri, table, version)).rows,
          onStep: options.onStep,
          signal,
        });
        const primary = sent[0] as TargetUploadResult;
        const result: BackupResult = {
          snapshot_id: manifest.snapshot_id,
          created_at: manifest.created_at,
          files_uploaded: primary.files_uploaded,
          bytes_uploaded: primary.bytes_uploaded,
          files_skipped: primary.files_skipped,
          total_files: manifest.total_files,
          total_bytes: manifest.total_bytes,
          tables: manifest.tables.map((t) => ({ name: t.name, version: t.version, rows: t.rows })),
          duration_ms: Date.now() - started,
          targets: sent,
        };
        const outcome: BackupOutcome = {
          ok: true,
          finished_at: new Date().toISOString(),
          snapshot_id: result.snapshot_id,
          created_at: result.created_at,
          bytes_uploaded: result.bytes_uploaded,
          total_bytes: result.total_bytes,
          duration_ms: result.duration_ms,
          tables: result.tables.map(({ name, version }) => ({ name, version })),
          error: null,
          code: null,
        };
        journal.setMeta(LAST_BACKUP_KEY, JSON.stringify(outcome));
        journal.setMeta(LAST_GOOD_BACKUP_KEY, JSON.stringify(outcome));
        return result;
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    },
  ).catch((err: unknown) => {
    if (!(err instanceof SyncError && err.code === "SYNC_E_BACKUP_BUSY")) recordFailure(ctx, err, started);
    throw err;
  });
}

function recordFailure(ctx: AppContext, err: unknown, started: number): void {
  const outcome: BackupOutcome = {
    ok: false,
    finished_at: new Date().toISOString(),
    snapshot_id: null,
    created_at: null,
    bytes_uploaded: 0,
    total_bytes: 0,
    duration_ms: Date.now() - started,
    tables: [],
    error: err instanceof Error ? err.message : String(err),
    code: err instanceof SyncError ? err.code : null,
  };
  try {
    ctx.journal.setMeta(LAST_BACKUP_KEY, JSON.stringify(outcome));
  } catch {
    // the journal is closing: the failure is still thrown to the caller
  }
}

/** A recorded {@link BackupOutcome} (`LAST_BACKUP_KEY` or `LAST_GOOD_BACKUP_KEY`), if any. */
export function readBackupOutcome(ctx: AppContext, key: string): BackupOutcome | undefined {
  const raw = ctx.journal.getMeta(key);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as BackupOutcome;
  } catch {
    return undefined;
  }
}

/** One snapshot as `backup list` shows it. */
export interface SnapshotSummary {
  snapshot_id: string;
  created_at: string;
  store_id: string | null;
  tables: Array<{ name: string; version: number; rows: number }>;
  total_files: number;
  total_bytes: number;
}

/** The complete snapshots on the primary target, oldest first. */
export async function listBackups(targets: readonly BackupTarget[]): Promise<SnapshotSummary[]> {
  const primary = requireTargets(targets);
  const out: SnapshotSummary[] = [];
  for (const id of await listSnapshotIds(primary)) out.push(summarize(await readManifest(primary, id)));
  return out;
}

/** A manifest as {@link listBackups} shows it. */
export function summarize(m: SnapshotManifest): SnapshotSummary {
  return {
    snapshot_id: m.snapshot_id,
    created_at: m.created_at,
    store_id: m.store_id,
    tables: m.tables.map((t) => ({ name: t.name, version: t.version, rows: t.rows })),
    total_files: m.total_files,
    total_bytes: m.total_bytes,
  };
}

/** Checks every snapshot on every target (primary and replica); see `verifySnapshots`. */
export async function verifyBackups(
  ctx: AppContext,
  targets: readonly BackupTarget[],
  options: { deep: boolean },
): Promise<VerifyReport[]> {
  requireTargets(targets);
  const out: VerifyReport[] = [];
  for (const t of targets) {
    out.push(await verifySnapshots(t, { deep: options.deep, concurrency: ctx.config.backupConcurrency }));
  }
  return out;
}

/**
 * Applies the retention policy on every target (see `pruneSnapshots`), holding the backup lease so that no
 * backup of this store uploads objects for a manifest not yet written meanwhile.
 */
export async function pruneBackups(
  ctx: AppContext,
  targets: readonly BackupTarget[],
  policy: { keepLast: number; keepDays: number },
): Promise<PruneReport[]> {
  requireTargets(targets);
  return withLock(
    ctx.journal,
    BACKUP_LOCK,
    {
      purpose: "backup prune",
      leaseMs: ctx.config.lockLeaseSeconds * 1000,
      waitMs: ctx.config.lockWaitSeconds * 1000,
      busyCode: "SYNC_E_BACKUP_BUSY",
    },
    async () => {
      const out: PruneReport[] = [];
      for (const t of targets) out.push(await pruneSnapshots(t, policy, { graceMs: 0 }));
      return out;
    },
  );
}

/**
 * The snapshot to restore from `target`: `snapshotId`, else the newest created at or before `at`, else the
 * newest. `SYNC_E_NOT_FOUND` when there is none.
 */
export async function pickSnapshot(
  target: BackupTarget,
  choice: { snapshotId?: string; at?: string },
): Promise<SnapshotManifest> {
  if (choice.snapshotId !== undefined) return readManifest(target, choice.snapshotId);
  const ids = await listSnapshotIds(target);
  if (choice.at !== undefined) {
    const at = Date.parse(choice.at);
    if (Number.isNaN(at)) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `--at ${choice.at}: expected a time such as 2026-11-30T09:00:00Z`,
      );
    }
    for (const id of [...ids].reverse()) {
      const m = await readManifest(target, id);
      if (Date.parse(m.created_at) <= at) return m;
    }
    throw new SyncError(
      "SYNC_E_NOT_FOUND",
      `no snapshot on ${target.location} was taken at or before ${choice.at}`,
    );
  }
  const newest = ids[ids.length - 1];
  if (newest === undefined) throw new SyncError("SYNC_E_NOT_FOUND", `no snapshot on ${target.location} yet`);
  return readManifest(target, newest);
}
