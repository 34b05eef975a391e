import type { TableHealth } from "../core/document-store.js";
import { DEFAULT_HASHING_DIMENSIONS, hashingEmbedderId } from "../pipeline/embed/hashing-embedder.js";
import { openAIEmbedderId } from "../pipeline/embed/openai-embedder.js";
import { validateId } from "../storage/filter.js";
import { type AppContext, storeOptions } from "./app-context.js";

/** The status report of `lancedb-sync status --json` (and later `GET /api/v1/status`). */
export interface StatusReport {
  documents: number;
  chunks: number;
  failed: number;
  pending: number;
  embedder: string;
  table_embedder: string | null;
  tables: TableHealth[];
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
}

/** The configured embedder's id as far as it is known without asking a server. */
export function describeEmbedder(config: AppContext["config"]): string {
  const e = config.embedding;
  if (e.provider === "hashing") return hashingEmbedderId(e.dimensions ?? DEFAULT_HASHING_DIMENSIONS);
  return openAIEmbedderId(e.model, e.dimensions ?? "?");
}

/** Gathers status without creating tables or checking the embedder (status must work when those fail). */
export async function collectStatus(ctx: AppContext, userId?: string): Promise<StatusReport> {
  if (userId !== undefined) validateId("user id", userId);
  const { config, journal } = ctx;
  const { LanceDbStore } = await import("../storage/lancedb-store.js");
  const store = new LanceDbStore(storeOptions(config));
  let rows = { documents: 0, chunks: 0 };
  let tables: TableHealth[] = [];
  let tableEmbedder: string | null = null;
  if (await store.openExisting()) {
    try {
      rows = await store.countRows(userId);
      tables = await store.health();
      tableEmbedder = (await store.embedderId()) ?? null;
    } finally {
      await store.close();
    }
  }
  const counts = journal.counts(userId);
  const failures = journal.listFailures(userId);
  const [run] = journal.lastRuns(1, userId);
  return {
    ...rows,
    failed: counts.failures,
    pending: counts.pending,
    embedder: describeEmbedder(config),
    table_embedder: tableEmbedder,
    tables,
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
  };
}
