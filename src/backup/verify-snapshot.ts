import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mapConcurrent } from "../core/map-concurrent.js";
import { isSyncError } from "../errors/sync-error.js";
import { BackupObjectNotFound, type BackupTarget } from "./backup-target.js";
import { hashFile } from "./lance-table-files.js";
import {
  listSnapshotIds,
  OBJECTS_PREFIX,
  objectKey,
  readManifest,
  type SnapshotManifest,
} from "./snapshot-manifest.js";

/** One problem found by {@link verifySnapshots}. */
export interface VerifyProblem {
  snapshot_id: string;
  /** The object key (or the manifest's). */
  key: string;
  /** What it holds: `<table>.lance/<path>`, `journal`, `manifest`. */
  holds: string;
  problem: "missing" | "size" | "sha256" | "manifest";
  detail: string;
}

/** Outcome of {@link verifySnapshots} on one target. */
export interface VerifyReport {
  location: string;
  deep: boolean;
  snapshots: number;
  objects_checked: number;
  bytes_read: number;
  problems: VerifyProblem[];
}

/**
 * Checks every snapshot on `target` (or only `snapshotIds`): each object its manifest names is present with
 * the right size (one listing); with `deep`, each one is read again and its SHA-256 compared. Problems are
 * reported, not thrown; an unreachable store throws `SYNC_E_BACKUP_UNAVAILABLE`.
 */
export async function verifySnapshots(
  target: BackupTarget,
  options: { deep: boolean; concurrency: number; snapshotIds?: readonly string[] },
): Promise<VerifyReport> {
  const ids = options.snapshotIds ?? (await listSnapshotIds(target));
  const report: VerifyReport = {
    location: target.location,
    deep: options.deep,
    snapshots: ids.length,
    objects_checked: 0,
    bytes_read: 0,
    problems: [],
  };
  const present = new Map((await target.list(OBJECTS_PREFIX)).map((o) => [o.key, o.size]));
  const deepResult = new Map<string, Promise<string | undefined>>();
  for (const id of ids) {
    let m: SnapshotManifest;
    try {
      m = await readManifest(target, id);
    } catch (err) {
      if (!isSyncError(err, "SYNC_E_BACKUP_CORRUPT") && !isSyncError(err, "SYNC_E_NOT_FOUND")) throw err;
      report.problems.push({
        snapshot_id: id,
        key: `snapshots/${id}.json`,
        holds: "manifest",
        problem: "manifest",
        detail: err.message,
      });
      continue;
    }
    const entries = [{ ...m.journal, holds: "journal" }];
    for (const t of m.tables)
      for (const f of t.files) entries.push({ ...f, holds: `${t.name}.lance/${f.path}` });
    await mapConcurrent(entries, options.concurrency, async (e) => {
      const key = objectKey(e.sha256);
      report.objects_checked++;
      const size = present.get(key);
      const base = { snapshot_id: id, key, holds: e.holds };
      if (size === undefined) {
        report.problems.push({
          ...base,
          problem: "missing",
          detail: `${key} is missing from ${target.location}`,
        });
        return;
      }
      if (size !== e.size) {
        report.problems.push({
          ...base,
          problem: "size",
          detail: `${key} has ${size} bytes, expected ${e.size}`,
        });
        return;
      }
      if (!options.deep) return;
      let check = deepResult.get(key);
      if (!check) {
        check = readDigest(target, key).then((d) => {
          report.bytes_read += e.size;
          return d;
        });
        deepResult.set(key, check);
      }
      const digest = await check;
      if (digest === undefined) {
        report.problems.push({
          ...base,
          problem: "missing",
          detail: `${key} is missing from ${target.location}`,
        });
      } else if (digest !== e.sha256) {
        report.problems.push({
          ...base,
          problem: "sha256",
          detail: `${key} has SHA-256 ${digest}, expected ${e.sha256}`,
        });
      }
    });
  }
  return report;
}

/** SHA-256 of an object, read through a temporary file (objects may be large); undefined when missing. */
async function readDigest(target: BackupTarget, key: string): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), "lancedb-sync-verify-"));
  try {
    const file = join(dir, "object");
    await target.download(key, file);
    return (await hashFile(file)).sha256;
  } catch (err) {
    if (err instanceof BackupObjectNotFound) return undefined;
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
