import type { TableHealth } from "../core/document-store.js";
import { describeError, isSyncError } from "../errors/sync-error.js";
import { DEFAULT_HASHING_DIMENSIONS, hashingEmbedderId } from "../pipeline/embed/hashing-embedder.js";
import { openAIEmbedderId } from "../pipeline/embed/openai-embedder.js";
import { validateId } from "../storage/filter.js";
import type { AppContext } from "./app-context.js";
import { type BackupStatus, collectBackupStatus } from "./backup-status.js";
import { bindingHolds, compareStore, readBinding, type StoreState } from "./store-binding.js";

/** The status report of `lancedb-sync status --json` (and later `GET /api/v1/status`). */
export interface StatusReport {
  documents: number;
  chunks: number;
  failed: number;
  pending: number;
  embedder: string;
  table_embedder: string | null;
  /**
   * Whether the local LanceDB could be read just now (false when opening it failed: a damaged table, an
   * unreadable directory). Checked on every call: a store that recovers reports true again.
   */
  local_db_available: boolean;
  /** Store-wide figures; empty in a per-user report (they would tell about other users' data). */
  tables: TableHealth[];
  /**
   * Whether the store is the one the journal's items were written to: `ok`, `new` (nothing synced yet),
   * `missing`, `replaced`, `behind` or `unrecorded` (the next sync re-processes what is missing), or `damaged`
   * (a table's files are unreadable: `lancedb-sync doctor --repair`) or `unavailable` (the store could not be
   * opened at all), with why.
   */
  store: { state: string; detail: string | null };
  sources: Array<{
    user_id: string;
    name: string;
    type: string;
    healthy: boolean;
    last_error: string | null;
  }>;
  last_run: {
    run_id: number;
    user_id: string;
    source: string;
    status: string;
    started_at: string;
    finished_at: string | null;
    stats: unknown;
    error: string | null;
  } | null;
  failures: Array<{
    user_id: string;
    source: string;
    key: string;
    code: string;
    error: string;
    attempts: number;
  }>;
  /** Backups: recovery point, last result, `s3_sync_available`, `pending_syncs` (store-wide reports only). */
  backup?: BackupStatus;
}

/** The configured embedder's id as far as it is known without asking a server. */
export function describeEmbedder(config: AppContext["config"]): string {
  const e = config.embedding;
  if (e.provider === "hashing") return hashingEmbedderId(e.dimensions ?? DEFAULT_HASHING_DIMENSIONS);
  return openAIEmbedderId(e.model, e.dimensions ?? "?");
}

/** Gathers status without creating tables or checking the embedder (status must work when those fail). */
export async function collectStatus(
  ctx: AppContext,
  userId?: string,
  backupConfigured?: boolean,
): Promise<StatusReport> {
  if (userId !== undefined) validateId("user id", userId);
  const { config, journal } = ctx;
  let rows = { documents: 0, chunks: 0 };
  let tables: TableHealth[] = [];
  let tableEmbedder: string | null = null;
  const binding = readBinding(journal);
  const hasItems = journal.counts().items > 0;
  let storeState: StoreState | { state: "damaged" | "unavailable"; detail: string } = bindingHolds(
    config,
    binding,
  )
    ? { state: "ok" }
    : { state: "new" };
  let available = true;
  try {
    const store = await ctx.readStore();
    if (store) {
      rows = await store.countRows(userId);
      if (userId === undefined) tables = await store.health();
      tableEmbedder = (await store.embedderId()) ?? null;
      if (storeState.state !== "ok") storeState = await compareStore(config, store, binding, hasItems, true);
    } else if (hasItems) {
      storeState = {
        state: "missing",
        detail: `a table is missing at ${config.lancedbUri}, but the journal has synced items`,
      };
    }
  } catch (err) {
    // A damaged table must not take status down: report it, with the figures that could be read.
    available = false;
    if (isSyncError(err, "SYNC_E_STORE_DAMAGED")) storeState = { state: "damaged", detail: err.message };
    else storeState = { state: "unavailable", detail: describeError(err) };
  }
  journal.abandonRuns();
  const counts = journal.counts(userId);
  const failures = journal.listFailures(userId);
  const [run] = journal.lastRuns(1, userId);
  return {
    ...rows,
    failed: counts.failures,
    pending: counts.pending,
    embedder: describeEmbedder(config),
    local_db_available: available,
    table_embedder: tableEmbedder,
    tables,
    store: { state: storeState.state, detail: "detail" in storeState ? storeState.detail : null },
    sources: journal.listSources(userId).map((s) => ({
      user_id: s.userId,
      name: s.name,
      type: s.type,
      healthy: s.healthy ?? true,
      last_error: s.lastError ?? null,
    })),
    last_run: run
      ? {
          run_id: run.runId,
          user_id: run.userId,
          source: run.sourceName,
          status: run.status,
          started_at: run.startedAt,
          finished_at: run.finishedAt,
          stats: run.stats,
          error: run.error,
        }
      : null,
    failures: failures.map((f) => ({
      user_id: f.userId,
      source: f.sourceName,
      key: f.key,
      code: f.code,
      error: f.error,
      attempts: f.attempts,
    })),
    ...(userId === undefined ? { backup: collectBackupStatus(ctx, backupConfigured) } : {}),
  };
}
