import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as lancedb from "@lancedb/lancedb";
import type { BackupTarget } from "../../src/backup/backup-target.js";
import { LocalDirTarget } from "../../src/backup/local-dir-target.js";
import { silentLogger } from "../../src/core/logger.js";
import { createSyncSystem, type SyncSystem, type SyncSystemOptions } from "../../src/index.js";
import { readTables } from "../integration/support.js";

export { readTables, writeCorpus } from "../integration/support.js";

/** A data directory: LanceDB, journal and uploads under `dir`. */
export interface DataDir {
  lancedbUri: string;
  stateDbPath: string;
  uploadDir: string;
}

/** The paths a `restoreBackup({ targetDir: dir })` (and the system on `dir`) use. */
export function dataDir(dir: string): DataDir {
  return {
    lancedbUri: join(dir, "lancedb"),
    stateDbPath: join(dir, "state.db"),
    uploadDir: join(dir, "uploads"),
  };
}

/** A started system on `dir` backing up to `targets`; the caller stops it. */
export async function openSystem(
  dir: string,
  targets: readonly BackupTarget[],
  extra: SyncSystemOptions = {},
): Promise<SyncSystem> {
  const sys = createSyncSystem({ ...dataDir(dir), logger: silentLogger, backupTargets: targets, ...extra });
  await sys.start();
  return sys;
}

/** Registers `root` as `userId`'s `local_filesystem` source `sourceId` (not synced yet). */
export async function addFolderSource(
  sys: Pick<SyncSystem, "sources">,
  userId: string,
  sourceId: string,
  root: string,
): Promise<void> {
  await sys.sources.add({ userId, sourceId, type: "local_filesystem", config: { watch_paths: [root] } });
}

/** A local-directory backup target at `dir`. */
export function localTarget(dir: string): LocalDirTarget {
  return new LocalDirTarget(dir);
}

/** Every row of both tables, sorted by id, with each chunk's vector as a plain array. */
export async function snapshotOfTables(uri: string): Promise<{
  docs: unknown[];
  chunks: unknown[];
  vectors: Record<string, number[]>;
}> {
  const { docs, chunks } = await readTables(uri);
  const db = await lancedb.connect(uri);
  const vectors: Record<string, number[]> = {};
  try {
    const t = await db.openTable("document_chunks");
    const rows = await t
      .query()
      .select(["chunk_id", "vector"])
      .limit(Math.max(1, (await t.countRows()) * 2))
      .toArray();
    for (const r of rows) vectors[String(r.chunk_id)] = Array.from(r.vector as ArrayLike<number>);
    t.close();
  } finally {
    db.close();
  }
  const by =
    <T>(k: keyof T) =>
    (a: T, b: T) =>
      String(a[k]) < String(b[k]) ? -1 : 1;
  return {
    docs: [...docs].sort(by("doc_id")),
    chunks: [...chunks].sort(by("chunk_id")),
    vectors,
  };
}

/** Every object file under a local target's directory, as key → SHA-256 of its bytes. */
export function targetObjects(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    const key = path
      .slice(root.length + 1)
      .split("\\")
      .join("/");
    out.set(key, createHash("sha256").update(readFileSync(path)).digest("hex"));
  }
  return out;
}

/** A sync result's counters that say "something was written". */
export function writes(r: {
  added: number;
  updated: number;
  moved: number;
  deleted: number;
  repaired: number;
  embedded_chunks: number;
}): number {
  return r.added + r.updated + r.moved + r.deleted + r.repaired + r.embedded_chunks;
}
