import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { mapConcurrent } from "../core/map-concurrent.js";
import { SyncError } from "../errors/sync-error.js";
import { BackupObjectNotFound, type BackupTarget } from "./backup-target.js";
import { hashFile } from "./lance-table-files.js";
import { objectKey, type SnapshotManifest } from "./snapshot-manifest.js";

/** Where {@link downloadSnapshot} puts a snapshot: a LanceDB directory and a journal file. */
export interface StagingPaths {
  /** Directory that receives `<table>.lance/` of each table. */
  lancedbDir: string;
  /** File that receives the journal copy. */
  journalFile: string;
  /** Directory that receives pushed documents' blobs (`<hash[0:2]>/<hash>`; existing ones are kept). */
  blobDir: string;
}

/** Outcome of {@link downloadSnapshot}. */
export interface DownloadResult {
  files: number;
  bytes: number;
}

/**
 * Downloads every file of `manifest` from `target` into `paths` (at most `concurrency` at once) and checks each
 * one's size and SHA-256 against the manifest. Throws `SYNC_E_BACKUP_OBJECT_MISSING` or
 * `SYNC_E_BACKUP_CORRUPT` naming the object and the table file it holds; the caller removes the staging
 * directory then. Nothing is written outside `paths`.
 */
export async function downloadSnapshot(
  target: BackupTarget,
  manifest: SnapshotManifest,
  paths: StagingPaths,
  concurrency: number,
): Promise<DownloadResult> {
  const gzipped = manifest.journal.encoding === "gzip";
  const jobs: Array<{ sha256: string; size: number; dest: string; what: string; blob?: true }> = [
    {
      sha256: manifest.journal.sha256,
      size: manifest.journal.size,
      dest: gzipped ? `${paths.journalFile}.gz` : paths.journalFile,
      what: "the journal copy",
    },
  ];
  for (const t of manifest.tables) {
    for (const f of t.files) {
      jobs.push({
        sha256: f.sha256,
        size: f.size,
        dest: join(paths.lancedbDir, `${t.name}.lance`, ...f.path.split("/")),
        what: `${t.name}.lance/${f.path}`,
      });
    }
  }
  for (const b of manifest.blobs ?? []) {
    const dest = join(paths.blobDir, b.sha256.slice(0, 2), b.sha256);
    if (await isFile(dest, b.size)) continue;
    jobs.push({ sha256: b.sha256, size: b.size, dest, what: `pushed document blob ${b.sha256}`, blob: true });
  }
  const dirs = new Set(jobs.map((j) => dirname(j.dest)));
  for (const d of dirs) await mkdir(d, { recursive: true });
  let bytes = 0;
  await mapConcurrent(jobs, concurrency, async (j) => {
    const key = objectKey(j.sha256);
    // Blobs go straight into the shared upload directory: through a temporary name, so none is ever partial.
    const into = j.blob ? `${j.dest}.restore-${process.pid}` : j.dest;
    try {
      await target.download(key, into);
    } catch (err) {
      if (into !== j.dest) await rm(into, { force: true });
      if (err instanceof BackupObjectNotFound) {
        throw new SyncError(
          "SYNC_E_BACKUP_OBJECT_MISSING",
          `snapshot ${manifest.snapshot_id}: object ${key} (${j.what}) is missing from ${target.location}`,
          { cause: err },
        );
      }
      throw err;
    }
    const got = await hashFile(into);
    if (got.size !== j.size || got.sha256 !== j.sha256) {
      if (into !== j.dest) await rm(into, { force: true });
      throw new SyncError(
        "SYNC_E_BACKUP_CORRUPT",
        `snapshot ${manifest.snapshot_id}: object ${key} (${j.what}) on ${target.location} is corrupt: ` +
          `${got.size} bytes with SHA-256 ${got.sha256.slice(0, 12)}…, expected ${j.size} bytes with ` +
          `${j.sha256.slice(0, 12)}…`,
      );
    }
    if (into !== j.dest) await rename(into, j.dest);
    bytes += got.size;
  });
  if (gzipped) {
    await pipeline(
      createReadStream(`${paths.journalFile}.gz`),
      createGunzip(),
      createWriteStream(paths.journalFile),
    );
    await rm(`${paths.journalFile}.gz`, { force: true });
  }
  return { files: jobs.length, bytes };
}

async function isFile(path: string, size: number): Promise<boolean> {
  try {
    return (await stat(path)).size === size;
  } catch {
    return false;
  }
}
