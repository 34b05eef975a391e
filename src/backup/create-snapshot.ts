import { stat } from "node:fs/promises";
import { join } from "node:path";
import { mapConcurrent } from "../core/map-concurrent.js";
import { isSyncError, SyncError } from "../errors/sync-error.js";
import type { BackupTarget } from "./backup-target.js";
import { hashFile, type ListedTable } from "./lance-table-files.js";
import {
  listSnapshotIds,
  MANIFEST_FORMAT,
  manifestKey,
  OBJECTS_PREFIX,
  objectKey,
  readManifest,
  type SnapshotFile,
  type SnapshotManifest,
  type SnapshotTable,
} from "./snapshot-manifest.js";

/** What was captured under the writer lock: the journal copy, then each table's version and files. */
export interface CapturedPoint {
  snapshotId: string;
  createdAt: string;
  storeId: string | null;
  /** The journal copy, gzip-compressed (a temporary file the caller removes afterwards). */
  journalFile: string;
  tables: Array<ListedTable & { role: "documents" | "chunks" }>;
  /** Pushed documents' blobs the journal copy refers to: `<dir>/<hash[0:2]>/<hash>`. */
  blobs?: { dir: string; hashes: string[] };
}

/** Where the upload is: files hashed, the `n`-th file stored by this backup, the manifest about to be written (n = 0). */
export type SnapshotStep = "backup-hashed" | "backup-file" | "backup-manifest";

/** Options of {@link uploadSnapshot}. */
export interface UploadSnapshotOptions {
  /** Uploads in flight at once per target. */
  concurrency: number;
  /** Rows of a table at a version (read through LanceDB by the caller). */
  rowsAt(table: string, version: number): Promise<number>;
  /** Called at each step (test crash points, tests); awaited. */
  onStep?(step: SnapshotStep, n: number): void | Promise<void>;
  signal?: AbortSignal;
}

/** What one target received. */
export interface TargetUploadResult {
  location: string;
  files_uploaded: number;
  bytes_uploaded: number;
  /** Files already there (found in the target's newest snapshot, or by the store). */
  files_skipped: number;
}

/** Outcome of {@link uploadSnapshot}: the manifest and what each target received (primary first). */
export interface UploadSnapshotResult {
  manifest: SnapshotManifest;
  targets: TargetUploadResult[];
}

/**
 * Uploads a captured point to every target, then its manifest last: hashes each file (reusing the hash of a
 * file the newest snapshot already holds with the same path, size and modification time, so unchanged files
 * are not re-read), stores each file once under its content-addressed key (`putIfAbsent`, never overwriting;
 * what one listing of the target shows with the right size is skipped), then the journal copy, then the
 * manifest. A failure at any point leaves no manifest: no snapshot. Runs
 * without the writer lock; the caller keeps the files from being cleaned up meanwhile (the backup fence).
 */
export async function uploadSnapshot(
  point: CapturedPoint,
  targets: readonly BackupTarget[],
  options: UploadSnapshotOptions,
): Promise<UploadSnapshotResult> {
  const primary = targets[0];
  if (!primary) throw new SyncError("SYNC_E_BACKUP_NOT_CONFIGURED", "no backup target is configured");
  const known = new Map<string, SnapshotFile>();
  for (const m of await Promise.all(targets.map((t) => newestManifest(t)))) {
    for (const t of m?.tables ?? []) for (const f of t.files) known.set(`${t.name}/${f.path}`, f);
  }

  const tables: SnapshotTable[] = [];
  for (const t of point.tables) {
    const files = await mapConcurrent(t.files, options.concurrency, async (f): Promise<SnapshotFile> => {
      options.signal?.throwIfAborted();
      const seen = known.get(`${t.name}/${f.path}`);
      if (seen && seen.size === f.size && seen.mtime_ms === f.mtimeMs) return { ...seen };
      const { sha256, size } = await hashFile(join(t.dir, f.path)).catch((err: unknown) => {
        throw new SyncError(
          "SYNC_E_STORAGE",
          `backup: read ${join(t.dir, f.path)}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      });
      if (size !== f.size) {
        throw new SyncError(
          "SYNC_E_STORAGE",
          `backup: ${join(t.dir, f.path)} changed while it was read (${f.size} -> ${size} bytes): immutable table ` +
            "files must not change; try again",
        );
      }
      return { path: f.path, size, sha256, mtime_ms: f.mtimeMs };
    });
    const rows = await options.rowsAt(t.name, t.version);
    tables.push({ role: t.role, name: t.name, version: t.version, rows, files });
  }
  const journal = { ...(await hashFile(point.journalFile)), encoding: "gzip" as const };
  // Blobs are named by the SHA-256 of their bytes: no need to read them (a restore checks them).
  const blobDir = point.blobs?.dir ?? "";
  const blobs = await mapConcurrent(point.blobs?.hashes ?? [], options.concurrency, async (sha256) => {
    const path = join(blobDir, sha256.slice(0, 2), sha256);
    const s = await stat(path).catch((err: unknown) => {
      throw new SyncError(
        "SYNC_E_STORAGE",
        `backup: pushed document blob ${path}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    });
    return { sha256, size: s.size };
  });
  await options.onStep?.("backup-hashed", 0);

  const manifest: SnapshotManifest = {
    format: MANIFEST_FORMAT,
    snapshot_id: point.snapshotId,
    created_at: point.createdAt,
    store_id: point.storeId,
    tables,
    journal,
    ...(point.blobs ? { blobs } : {}),
    total_files: tables.reduce((n, t) => n + t.files.length, 0) + 1 + blobs.length,
    total_bytes:
      tables.reduce((n, t) => n + t.files.reduce((b, f) => b + f.size, 0), 0) +
      journal.size +
      blobs.reduce((n, b) => n + b.size, 0),
  };

  const results: TargetUploadResult[] = [];
  let stored = 0;
  for (const target of targets) {
    // One listing instead of a request per file: what is there with the right size is skipped; an object of
    // the wrong size (damaged) is removed and stored again; a deleted one is stored again.
    const present = new Map((await target.list(OBJECTS_PREFIX)).map((o) => [o.key, o.size]));
    const result: TargetUploadResult = {
      location: target.location,
      files_uploaded: 0,
      bytes_uploaded: 0,
      files_skipped: 0,
    };
    const queued = new Set<string>();
    const uploads: Array<{ sha256: string; size: number; file: string }> = [];
    const plan = (u: { sha256: string; size: number; file: string }): void => {
      if (queued.has(u.sha256) || present.get(objectKey(u.sha256)) === u.size) {
        result.files_skipped++;
        return;
      }
      queued.add(u.sha256);
      uploads.push(u);
    };
    for (const [ti, t] of tables.entries()) {
      const dir = (point.tables[ti] as ListedTable).dir;
      for (const f of t.files) plan({ sha256: f.sha256, size: f.size, file: join(dir, f.path) });
    }
    for (const b of blobs) plan({ ...b, file: join(blobDir, b.sha256.slice(0, 2), b.sha256) });
    plan({ sha256: journal.sha256, size: journal.size, file: point.journalFile });
    await mapConcurrent(uploads, options.concurrency, async (u) => {
      options.signal?.throwIfAborted();
      const key = objectKey(u.sha256);
      if (present.has(key)) await target.delete(key);
      const outcome = await target.putIfAbsent(key, { file: u.file });
      if (outcome === "created") {
        result.files_uploaded++;
        result.bytes_uploaded += u.size;
        await options.onStep?.("backup-file", ++stored);
      } else result.files_skipped++;
    });
    await options.onStep?.("backup-manifest", 0);
    const body = new TextEncoder().encode(`${JSON.stringify(manifest, null, 1)}\n`);
    await target.putIfAbsent(manifestKey(manifest.snapshot_id), { bytes: body });
    results.push(result);
  }
  return { manifest, targets: results };
}

/** The newest complete snapshot's manifest on `target`, or undefined when it has none. */
export async function newestManifest(target: BackupTarget): Promise<SnapshotManifest | undefined> {
  const ids = await listSnapshotIds(target);
  const id = ids[ids.length - 1];
  if (id === undefined) return undefined;
  try {
    return await readManifest(target, id);
  } catch (err) {
    if (isSyncError(err, "SYNC_E_BACKUP_CORRUPT")) return undefined;
    throw err;
  }
}
