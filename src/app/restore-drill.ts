import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BackupTarget } from "../backup/backup-target.js";
import type { Config } from "../config/load-config.js";
import type { Logger } from "../core/logger.js";
import { SyncError } from "../errors/sync-error.js";
import { openAppContext } from "./app-context.js";
import { restoreBackup } from "./restore-backup.js";
import { searchDocuments } from "./search-documents.js";

/** What `lancedb-sync restore --drill --json` prints. */
export interface DrillResult {
  snapshot_id: string;
  created_at: string;
  /** Files downloaded, each checked against the manifest's size and SHA-256. */
  files_verified: number;
  bytes: number;
  /** Rows of each restored table: the snapshot's and what the restored table holds (equal, or the drill fails). */
  tables: Array<{ name: string; version: number; rows: number; expected_rows: number }>;
  /** A vector search of one user's documents in the restored store (null when it holds no document). */
  search: { user_id: string; query: string; hits: number } | null;
  restore_ms: number;
  duration_ms: number;
  ok: boolean;
}

/**
 * Restores a snapshot (the newest, or `snapshotId`) into a temporary directory, checks every file (size,
 * SHA-256), each table's version and rows against the manifest, runs a sample search of the restored store,
 * reports the time taken and removes the directory. Touches nothing of the live store.
 */
export async function restoreDrill(
  config: Config,
  targets: readonly BackupTarget[],
  logger: Logger,
  options: { snapshotId?: string } = {},
): Promise<DrillResult> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), "lancedb-sync-drill-"));
  try {
    const restored = await restoreBackup(config, targets, { snapshotId: options.snapshotId, targetDir: dir });
    const restoreMs = Date.now() - started;
    const ctx = openAppContext(
      {
        ...config,
        lancedbUri: restored.lancedb_uri,
        stateDbPath: restored.state_db_path,
        uploadDir: restored.upload_dir,
      },
      logger,
    );
    try {
      const store = await ctx.readStore();
      if (!store)
        throw new SyncError("SYNC_E_STORAGE", `restore drill: the restored store at ${dir} has no tables`);
      const counts = await store.countRows();
      const tables = restored.tables.map((t) => ({
        name: t.name,
        version: t.version,
        rows: t.name === config.documentsTable ? counts.documents : counts.chunks,
        expected_rows: t.rows,
      }));
      let search: DrillResult["search"] = null;
      for (const source of ctx.journal.listSources()) {
        const [doc] = await store.listUserDocuments(source.userId, { limit: 1 });
        if (!doc) continue;
        const query = doc.title || doc.item_key;
        const hits = await searchDocuments(ctx, { userId: source.userId, query, mode: "vector", limit: 3 });
        search = { user_id: source.userId, query, hits: hits.length };
        break;
      }
      const ok = tables.every((t) => t.rows === t.expected_rows) && (search === null || search.hits > 0);
      return {
        snapshot_id: restored.snapshot_id,
        created_at: restored.created_at,
        files_verified: restored.files,
        bytes: restored.bytes,
        tables,
        search,
        restore_ms: restoreMs,
        duration_ms: Date.now() - started,
        ok,
      };
    } finally {
      await ctx.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
