import { SyncError } from "../errors/sync-error.js";
import type { BackupTarget } from "./backup-target.js";
import {
  listSnapshotIds,
  manifestKey,
  OBJECTS_PREFIX,
  readManifest,
  referencedKeys,
  type SnapshotManifest,
} from "./snapshot-manifest.js";

/** Which snapshots {@link pruneSnapshots} keeps: the newest `keepLast`, and every one younger than `keepDays`. */
export interface PrunePolicy {
  keepLast: number;
  keepDays: number;
}

/** Outcome of {@link pruneSnapshots} on one target. */
export interface PruneReport {
  location: string;
  kept: string[];
  removed_snapshots: string[];
  removed_objects: number;
  removed_bytes: number;
}

/**
 * Removes the snapshots the policy does not keep, then every object no kept snapshot references. Manifests
 * go first, so an interrupted prune never leaves a snapshot whose objects are gone. At least one snapshot is
 * always kept. Objects newer than `graceMs` are left alone: a backup running now may be uploading them for a
 * manifest not yet written.
 */
export async function pruneSnapshots(
  target: BackupTarget,
  policy: PrunePolicy,
  options: { now?: Date; graceMs?: number } = {},
): Promise<PruneReport> {
  if (!Number.isInteger(policy.keepLast) || policy.keepLast < 1) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `--keep-last ${policy.keepLast}: expected an integer >= 1`,
    );
  }
  if (!Number.isFinite(policy.keepDays) || policy.keepDays < 0) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", `--keep-days ${policy.keepDays}: expected a number >= 0`);
  }
  const now = options.now ?? new Date();
  const graceMs = options.graceMs ?? 6 * 3_600_000;
  const ids = await listSnapshotIds(target);
  const manifests = new Map<string, SnapshotManifest>();
  for (const id of ids) manifests.set(id, await readManifest(target, id));
  const cutoff = now.getTime() - policy.keepDays * 86_400_000;
  const kept = ids.filter(
    (id, i) =>
      i >= ids.length - policy.keepLast ||
      Date.parse((manifests.get(id) as SnapshotManifest).created_at) >= cutoff,
  );
  const removed = ids.filter((id) => !kept.includes(id));
  for (const id of removed) await target.delete(manifestKey(id));
  const needed = new Set<string>();
  for (const id of kept) for (const k of referencedKeys(manifests.get(id) as SnapshotManifest)) needed.add(k);
  const report: PruneReport = {
    location: target.location,
    kept,
    removed_snapshots: removed,
    removed_objects: 0,
    removed_bytes: 0,
  };
  for (const o of await target.list(OBJECTS_PREFIX)) {
    if (needed.has(o.key)) continue;
    const at = o.modifiedAt ? Date.parse(o.modifiedAt) : Number.NaN;
    if (Number.isFinite(at) && now.getTime() - at < graceMs) continue;
    await target.delete(o.key);
    report.removed_objects++;
    report.removed_bytes += o.size;
  }
  return report;
}
