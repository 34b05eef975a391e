import { randomBytes } from "node:crypto";
import { SyncError } from "../errors/sync-error.js";
import { BackupObjectNotFound, type BackupTarget } from "./backup-target.js";

// Layout of a backup under the target's prefix:
//   objects/<sha256 first 2 hex>/<sha256>   every immutable file and journal copy, content-addressed
//   snapshots/<snapshot id>.json            one manifest per complete snapshot, written last
// Content addressing: Lance names manifests by version number, and a table restored to an earlier version and
// written again reuses those names with other bytes; a key derived from the bytes can never be overwritten
// with something else, and the same file shared by two snapshots (or two tables) is stored once.

/** Version of the manifest format written by this code. */
export const MANIFEST_FORMAT = 1;

/** Key prefix of the snapshot manifests. */
export const SNAPSHOTS_PREFIX = "snapshots/";
/** Key prefix of the content-addressed objects. */
export const OBJECTS_PREFIX = "objects/";

/** One file of a table as a snapshot holds it. */
export interface SnapshotFile {
  /** Path inside the table directory (`data/….lance`, `_versions/….manifest`), `/`-separated. */
  path: string;
  size: number;
  /** SHA-256 of the bytes, hex; the object key derives from it. */
  sha256: string;
  /** Modification time of the local file when it was hashed (lets the next backup skip re-reading it). */
  mtime_ms: number;
}

/** One table of a snapshot. */
export interface SnapshotTable {
  /** `documents` or `chunks`. */
  role: "documents" | "chunks";
  /** Table name (the directory is `<name>.lance`). */
  name: string;
  /** The version the snapshot captured: the restored table's latest version. */
  version: number;
  /** Rows at that version (checked by the restore drill). */
  rows: number;
  files: SnapshotFile[];
}

/** The snapshot manifest: written last, so that a snapshot exists only when everything it names was stored. */
export interface SnapshotManifest {
  format: number;
  snapshot_id: string;
  /** ISO 8601, the moment the consistent point was captured. */
  created_at: string;
  /** Store id of the tables (from the journal's store binding); null when none was ever recorded. */
  store_id: string | null;
  tables: SnapshotTable[];
  /**
   * The journal copy (SQLite online backup), taken before the table versions were read; `size` and `sha256`
   * are of the stored object, gzip-compressed when `encoding` is `gzip`.
   */
  journal: { size: number; sha256: string; encoding?: "gzip" };
  /** Bytes of pushed documents (`UPLOAD_DIR`) the journal's uploads refer to; named by their SHA-256. */
  blobs?: Array<{ size: number; sha256: string }>;
  /** Files and bytes the snapshot references (tables + journal). */
  total_files: number;
  total_bytes: number;
}

/** Key of the content-addressed object holding bytes with this SHA-256. */
export function objectKey(sha256: string): string {
  return `${OBJECTS_PREFIX}${sha256.slice(0, 2)}/${sha256}`;
}

/** Key of a snapshot's manifest. */
export function manifestKey(snapshotId: string): string {
  return `${SNAPSHOTS_PREFIX}${snapshotId}.json`;
}

/** A new snapshot id: UTC time to the millisecond (ids sort by time), then 6 random hex digits. */
export function newSnapshotId(at: Date = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(".", "");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

const SNAPSHOT_ID = /^\d{8}T\d{9}Z-[0-9a-f]{6}$/;

/** Throws `SYNC_E_INVALID_ARGUMENT` unless `id` looks like a snapshot id. */
export function assertSnapshotId(id: string): string {
  if (!SNAPSHOT_ID.test(id)) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `snapshot id "${id}" is not valid (expected e.g. 20261130T090041123Z-a1b2c3; see \`lancedb-sync backup list\`)`,
    );
  }
  return id;
}

/** Every object key a manifest references (tables and journal), without duplicates. */
export function referencedKeys(m: SnapshotManifest): Set<string> {
  const keys = new Set<string>([objectKey(m.journal.sha256)]);
  for (const t of m.tables) for (const f of t.files) keys.add(objectKey(f.sha256));
  for (const b of m.blobs ?? []) keys.add(objectKey(b.sha256));
  return keys;
}

/** Ids of the complete snapshots on `target`, oldest first. */
export async function listSnapshotIds(target: BackupTarget): Promise<string[]> {
  const objects = await target.list(SNAPSHOTS_PREFIX);
  return objects
    .map((o) => o.key.slice(SNAPSHOTS_PREFIX.length))
    .filter((name) => name.endsWith(".json") && SNAPSHOT_ID.test(name.slice(0, -5)))
    .map((name) => name.slice(0, -5))
    .sort();
}

/**
 * Reads and checks a snapshot's manifest. Throws `SYNC_E_NOT_FOUND` when the target has no such snapshot and
 * `SYNC_E_BACKUP_CORRUPT` when the manifest is not one.
 */
export async function readManifest(target: BackupTarget, snapshotId: string): Promise<SnapshotManifest> {
  let bytes: Uint8Array;
  try {
    bytes = await target.get(manifestKey(assertSnapshotId(snapshotId)));
  } catch (err) {
    if (err instanceof BackupObjectNotFound) {
      throw new SyncError("SYNC_E_NOT_FOUND", `no snapshot ${snapshotId} on ${target.location}`, {
        cause: err,
      });
    }
    throw err;
  }
  return parseManifest(bytes, `${target.location}${manifestKey(snapshotId)}`);
}

/** Parses manifest bytes; `SYNC_E_BACKUP_CORRUPT` naming `where` when they are not a valid manifest. */
export function parseManifest(bytes: Uint8Array, where: string): SnapshotManifest {
  let m: unknown;
  try {
    m = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (err) {
    throw corrupt(where, "not JSON", err);
  }
  const problem = manifestProblem(m);
  if (problem) throw corrupt(where, problem);
  return m as SnapshotManifest;
}

function manifestProblem(m: unknown): string | undefined {
  if (typeof m !== "object" || m === null) return "not an object";
  const o = m as Record<string, unknown>;
  if (o.format !== MANIFEST_FORMAT) return `format ${String(o.format)} is not ${MANIFEST_FORMAT}`;
  if (typeof o.snapshot_id !== "string" || !SNAPSHOT_ID.test(o.snapshot_id)) return "bad snapshot_id";
  if (typeof o.created_at !== "string" || Number.isNaN(Date.parse(o.created_at))) return "bad created_at";
  if (!isDigest(o.journal)) return "bad journal entry";
  const encoding = (o.journal as { encoding?: unknown }).encoding;
  if (encoding !== undefined && encoding !== "gzip")
    return `journal encoding ${String(encoding)} is not gzip`;
  if (o.blobs !== undefined && (!Array.isArray(o.blobs) || !o.blobs.every(isDigest)))
    return "bad blobs entry";
  if (!Array.isArray(o.tables) || o.tables.length !== 2) return "expected two tables";
  for (const t of o.tables as unknown[]) {
    const tt = t as Record<string, unknown>;
    if (tt.role !== "documents" && tt.role !== "chunks") return "bad table role";
    if (typeof tt.name !== "string" || !/^[A-Za-z0-9_-]+$/.test(tt.name)) return "bad table name";
    if (!Number.isInteger(tt.version) || !Number.isInteger(tt.rows))
      return `table ${tt.name}: bad version/rows`;
    if (!Array.isArray(tt.files)) return `table ${tt.name}: no files`;
    for (const f of tt.files as unknown[]) {
      const ff = f as Record<string, unknown>;
      if (typeof ff.path !== "string" || !safeRelativePath(ff.path) || !isDigest(ff))
        return `table ${tt.name}: bad file entry ${JSON.stringify(ff.path)}`;
    }
  }
  return undefined;
}

function isDigest(v: unknown): boolean {
  const d = v as { size?: unknown; sha256?: unknown } | null;
  return (
    typeof d === "object" &&
    d !== null &&
    Number.isInteger(d.size) &&
    (d.size as number) >= 0 &&
    typeof d.sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(d.sha256)
  );
}

/** A relative `/`-separated path that stays inside its directory (no `..`, no absolute path). */
export function safeRelativePath(p: string): boolean {
  return (
    p !== "" &&
    !p.startsWith("/") &&
    !p.includes("\\") &&
    p.split("/").every((s) => s !== "" && s !== "." && s !== "..")
  );
}

function corrupt(where: string, problem: string, cause?: unknown): SyncError {
  return new SyncError("SYNC_E_BACKUP_CORRUPT", `snapshot manifest ${where} is invalid: ${problem}`, {
    cause,
  });
}
