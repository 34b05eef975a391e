import { randomUUID } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { BackupTarget } from "../backup/backup-target.js";
import { downloadSnapshot } from "../backup/restore-snapshot.js";
import type { SnapshotManifest } from "../backup/snapshot-manifest.js";
import type { Config } from "../config/load-config.js";
import { SyncError } from "../errors/sync-error.js";
import { acquireLock, type HeldLock, WRITER_LOCK } from "../storage/lease-lock.js";
import { SqliteJournal } from "../storage/sqlite-journal.js";
import { latestTableRows } from "../storage/table-versions.js";
import { pickSnapshot, requireTargets } from "./backups.js";
import { readBinding, STORE_BINDING_KEY, type StoreBinding, storeLocation } from "./store-binding.js";

/** Options of {@link restoreBackup}. */
export interface RestoreOptions {
  snapshotId?: string;
  /** Restore the newest snapshot taken at or before this time (ISO 8601). */
  at?: string;
  /** Restore into this directory (`<dir>/lancedb`, `<dir>/state.db`, `<dir>/uploads`) instead of the configured paths. */
  targetDir?: string;
  /** Replace live data at the destination. */
  force?: boolean;
}

/** What `lancedb-sync restore --json` prints. */
export interface RestoreResult {
  snapshot_id: string;
  created_at: string;
  lancedb_uri: string;
  state_db_path: string;
  upload_dir: string;
  files: number;
  bytes: number;
  tables: Array<{ name: string; version: number; rows: number }>;
  /** Runs the snapshot's journal had open (closed as `abandoned`) and leases it held (cleared). */
  runs_closed: number;
  leases_cleared: number;
  duration_ms: number;
}

/** Where a restore writes: a LanceDB directory and a journal file. */
export interface RestoreDestination {
  lancedbUri: string;
  stateDbPath: string;
  /** Pushed documents' blobs go here (added to what is there: they are content-addressed). */
  uploadDir: string;
}

/** The destination of a restore: the configured paths, or `<dir>/lancedb`, `<dir>/state.db`, `<dir>/uploads`. */
export function restoreDestination(config: Config, targetDir?: string): RestoreDestination {
  if (targetDir !== undefined) {
    const dir = resolve(targetDir);
    return {
      lancedbUri: join(dir, "lancedb"),
      stateDbPath: join(dir, "state.db"),
      uploadDir: join(dir, "uploads"),
    };
  }
  return {
    lancedbUri: resolve(config.lancedbUri),
    stateDbPath: resolve(config.stateDbPath),
    uploadDir: resolve(config.uploadDir),
  };
}

/**
 * Restores a snapshot (by id, by time, or the newest) from the primary target. Downloads into staging
 * directories next to the destination and verifies every file (size, SHA-256); checks that each restored
 * table opens at the snapshot's version with the snapshot's rows; clears the restored journal's leases, closes
 * its open runs and points its store record at the destination; and only then swaps the staging into place.
 * Refuses (`SYNC_E_RESTORE_REFUSED`) to replace existing tables or a journal with synced items without
 * `force`, and while a process holds the destination's writer lock or a run lock. A missing or corrupt object
 * fails with `SYNC_E_BACKUP_OBJECT_MISSING` / `SYNC_E_BACKUP_CORRUPT` naming it, and leaves the destination as
 * it was (the staging is removed).
 */
export async function restoreBackup(
  config: Config,
  targets: readonly BackupTarget[],
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const started = Date.now();
  const primary = requireTargets(targets);
  const dest = restoreDestination(config, options.targetDir);
  if (dest.lancedbUri.includes("://")) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", `restore: ${dest.lancedbUri} is not a local directory`);
  }
  if (options.snapshotId !== undefined && options.at !== undefined) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", "restore: give --snapshot or --at, not both");
  }
  const manifest = await pickSnapshot(primary, options);
  const names = manifest.tables.map((t) => t.name);
  const expected = [config.documentsTable, config.chunksTable];
  if (!expected.every((n) => names.includes(n))) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `snapshot ${manifest.snapshot_id} holds tables ${names.join(", ")}, not the configured ` +
        `${expected.join(", ")} (DOCUMENTS_TABLE / CHUNKS_TABLE)`,
    );
  }

  const live = openLiveJournal(dest.stateDbPath);
  let lock: HeldLock | undefined;
  try {
    if (live) lock = await holdDestination(live, config);
    refuseLiveData(dest, manifest, live, options.force === true);

    // Staging and moved-aside copies left by a restore that was killed (this one holds the destination).
    for (const [dir, name] of [
      [dirname(dest.lancedbUri), basename(dest.lancedbUri)],
      [dirname(dest.stateDbPath), basename(dest.stateDbPath)],
    ] as const) {
      for (const e of existsSync(dir) ? readdirSync(dir) : []) {
        if (e.startsWith(`.${name}.restore-`)) await rm(join(dir, e), { recursive: true, force: true });
      }
    }
    const tag = `${manifest.snapshot_id}-${process.pid}`;
    const stagingDb = join(dirname(dest.lancedbUri), `.${basename(dest.lancedbUri)}.restore-${tag}`);
    const stagingJournal = join(dirname(dest.stateDbPath), `.${basename(dest.stateDbPath)}.restore-${tag}`);
    await mkdir(dirname(stagingJournal), { recursive: true });
    let restored: {
      files: number;
      bytes: number;
      runs: number;
      leases: number;
      tables: RestoreResult["tables"];
    };
    try {
      const got = await downloadSnapshot(
        primary,
        manifest,
        { lancedbDir: stagingDb, journalFile: stagingJournal, blobDir: dest.uploadDir },
        config.backupConcurrency,
      );
      const tables = await checkTables(stagingDb, manifest);
      const fixed = fixJournal(stagingJournal, { ...config, lancedbUri: dest.lancedbUri }, manifest);
      restored = { ...got, ...fixed, tables };
      lock?.release();
      live?.close();
      await swapIntoPlace(dest, stagingDb, stagingJournal, names, tag);
    } finally {
      await rm(stagingDb, { recursive: true, force: true });
      for (const s of ["", "-wal", "-shm", ".gz"]) await rm(stagingJournal + s, { force: true });
    }
    return {
      snapshot_id: manifest.snapshot_id,
      created_at: manifest.created_at,
      lancedb_uri: dest.lancedbUri,
      state_db_path: dest.stateDbPath,
      upload_dir: dest.uploadDir,
      files: restored.files,
      bytes: restored.bytes,
      tables: restored.tables,
      runs_closed: restored.runs,
      leases_cleared: restored.leases,
      duration_ms: Date.now() - started,
    };
  } finally {
    lock?.release();
    live?.close();
  }
}

function openLiveJournal(path: string): SqliteJournal | undefined {
  if (!existsSync(path)) return undefined;
  return new SqliteJournal(path);
}

/**
 * Takes the destination's writer lock (no waiting), then every other lease its journal knows of (run locks, a
 * backup): a lease that a live process holds refuses the restore; one whose holder is gone is taken over.
 */
async function holdDestination(journal: SqliteJournal, config: Config): Promise<HeldLock> {
  const lock = await acquireLock(journal, WRITER_LOCK, {
    purpose: "restore",
    leaseMs: config.lockLeaseSeconds * 1000,
    waitMs: 0,
    busyCode: "SYNC_E_RESTORE_REFUSED",
  });
  const owner = `restore-${randomUUID()}`;
  for (const l of journal.listLeases()) {
    if (l.name === WRITER_LOCK) continue;
    const holder = journal.tryLease(l.name, owner, "restore", config.lockLeaseSeconds * 1000);
    if (holder) {
      lock.release();
      throw new SyncError(
        "SYNC_E_RESTORE_REFUSED",
        `restore refused: ${holder.purpose} (process ${holder.pid} on ${holder.host.split("/")[0]}) holds the ` +
          "data; stop it first",
      );
    }
  }
  return lock;
}

function refuseLiveData(
  dest: RestoreDestination,
  manifest: SnapshotManifest,
  live: SqliteJournal | undefined,
  force: boolean,
): void {
  if (force) return;
  const tables = manifest.tables
    .map((t) => join(dest.lancedbUri, `${t.name}.lance`))
    .filter((p) => existsSync(p));
  const items = live ? live.counts().items : 0;
  const other = existsSync(dest.lancedbUri) && readdirSync(dest.lancedbUri).length > 0 && tables.length === 0;
  if (tables.length > 0 || items > 0 || other) {
    const what = [
      ...tables,
      ...(items > 0 ? [`${dest.stateDbPath} (${items} synced items)`] : []),
      ...(other ? [dest.lancedbUri] : []),
    ];
    throw new SyncError(
      "SYNC_E_RESTORE_REFUSED",
      `restore refused: live data at ${what.join(", ")}; pass --force to replace it, or --target DIR to ` +
        "restore into a fresh directory",
    );
  }
}

async function checkTables(stagingDb: string, manifest: SnapshotManifest): Promise<RestoreResult["tables"]> {
  const out: RestoreResult["tables"] = [];
  for (const t of manifest.tables) {
    const got = await latestTableRows(stagingDb, t.name);
    if (got.version !== t.version || got.rows !== t.rows) {
      throw new SyncError(
        "SYNC_E_BACKUP_CORRUPT",
        `snapshot ${manifest.snapshot_id}: restored table ${t.name} is at version ${got.version} with ${got.rows} ` +
          `rows, expected version ${t.version} with ${t.rows} rows`,
      );
    }
    out.push({ name: t.name, version: got.version, rows: got.rows });
  }
  return out;
}

/**
 * Makes the restored journal ready to use: its leases (the backup's own, the writer lock of the moment) are
 * cleared, runs it had open are closed as `abandoned`, and its store record names the destination (same store
 * id, the snapshot's versions), so the next run finds the store it expects and re-processes nothing.
 */
function fixJournal(
  path: string,
  config: Config,
  manifest: SnapshotManifest,
): { runs: number; leases: number } {
  const journal = new SqliteJournal(path);
  try {
    let leases = 0;
    for (const l of journal.listLeases()) if (journal.clearLease(l.name)) leases++;
    const runs = journal.abandonRuns();
    const binding = readBinding(journal);
    const version = (role: string) => manifest.tables.find((t) => t.role === role)?.version ?? 0;
    if (binding) {
      const next: StoreBinding = {
        location: storeLocation(config),
        storeId: binding.storeId,
        docsVersion: Math.min(binding.docsVersion, version("documents")),
        chunksVersion: Math.min(binding.chunksVersion, version("chunks")),
      };
      journal.setMeta(STORE_BINDING_KEY, JSON.stringify(next));
    }
    return { runs, leases };
  } finally {
    journal.db.pragma("wal_checkpoint(TRUNCATE)");
    journal.close();
  }
}

/**
 * Moves the current tables and journal aside, the restored ones in, then removes what was moved aside. A crash
 * in between leaves `.<name>.replaced-<tag>` entries beside the destination and a restore to run again.
 */
async function swapIntoPlace(
  dest: RestoreDestination,
  stagingDb: string,
  stagingJournal: string,
  tables: string[],
  tag: string,
): Promise<void> {
  await mkdir(dest.lancedbUri, { recursive: true });
  await mkdir(dirname(dest.stateDbPath), { recursive: true });
  const aside: string[] = [];
  const moveAside = async (p: string): Promise<void> => {
    if (!existsSync(p)) return;
    const to = join(dirname(p), `.${basename(p)}.replaced-${tag}`);
    await rename(p, to);
    aside.push(to);
  };
  for (const t of tables) await moveAside(join(dest.lancedbUri, `${t}.lance`));
  for (const s of ["-wal", "-shm", ""]) await moveAside(dest.stateDbPath + s);
  for (const t of tables) await rename(join(stagingDb, `${t}.lance`), join(dest.lancedbUri, `${t}.lance`));
  await rename(stagingJournal, dest.stateDbPath);
  for (const p of aside) await rm(p, { recursive: true, force: true });
}
