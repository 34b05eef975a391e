import type { SourceRecord } from "../core/journal.js";
import { retypeError } from "../core/journal.js";
import { SyncError } from "../errors/sync-error.js";
import { validateId } from "../storage/filter.js";
import { acquireLock, runLockName } from "../storage/lease-lock.js";
import type { AppContext } from "./app-context.js";

/** A source as the API, the CLI and the library show it (snake_case, as stored). */
export interface SourceView {
  user_id: string;
  source_id: string;
  type: string;
  config: Record<string, unknown>;
  /** Seconds between scheduled runs (the default when none was set). */
  poll_interval: number;
  /** Whether `poll_interval` is the configured default. */
  poll_interval_default: boolean;
  enabled: boolean;
  healthy: boolean;
  last_error: string | null;
  last_run_at: string | null;
  created_at: string | null;
  updated_at: string | null;
}

/** Input of {@link addSource}. */
export interface AddSourceInput {
  userId: string;
  /** Unique per user: letters, digits, `.`, `_`, `-`, `@`, `|`, `+`, `:` (see `validateId`). */
  sourceId: string;
  /** A registered type or alias (`local_filesystem`, `fs`, `upload`). */
  type: string;
  /** Type-specific settings (`local_filesystem`: `watch_paths`, `file_patterns`, `ignore_patterns`, `follow_symlinks`). */
  config?: Record<string, unknown>;
  /** Seconds between scheduled runs; default `DEFAULT_POLL_INTERVAL`. */
  pollInterval?: number;
  enabled?: boolean;
}

/** What {@link removeSource} removed. */
export interface RemoveSourceResult {
  user_id: string;
  source_id: string;
  /** Rows deleted from the store (0 with `keepDocuments`). */
  documents: number;
  chunks: number;
  /** Journal entries forgotten. */
  items: number;
  failures: number;
  uploads: number;
  kept_documents: boolean;
}

/** A record as shown to users, with the default poll interval filled in. */
export function sourceView(record: SourceRecord, defaultPollSeconds = 60): SourceView {
  return {
    user_id: record.userId,
    source_id: record.name,
    type: record.type,
    config: record.config,
    poll_interval: record.pollInterval ?? defaultPollSeconds,
    poll_interval_default: record.pollInterval === null || record.pollInterval === undefined,
    enabled: record.enabled !== false,
    healthy: record.healthy !== false,
    last_error: record.lastError ?? null,
    last_run_at: record.lastRunAt ?? null,
    created_at: record.createdAt ?? null,
    updated_at: record.updatedAt ?? null,
  };
}

/**
 * Registers a new source: the type (or alias) must be registered, and its config passes the type's checks
 * (`SYNC_E_INVALID_ARGUMENT` naming the field). A source id the user already has is `SYNC_E_ALREADY_EXISTS`
 * (`SYNC_E_SOURCE_TYPE` when it is of another type): a source is never silently re-typed or reconfigured.
 */
export async function addSource(ctx: AppContext, input: AddSourceInput): Promise<SourceView> {
  const userId = validateId("user id", input.userId);
  const sourceId = validateId("source id", input.sourceId);
  const type = ctx.registry.get(String(input.type));
  const existing = ctx.journal.getSource(userId, sourceId);
  if (existing) {
    if (existing.type !== type.type)
      throw retypeError({ userId, name: sourceId, type: type.type }, existing.type);
    throw new SyncError("SYNC_E_ALREADY_EXISTS", `user "${userId}" already has a source "${sourceId}"`);
  }
  const poll = input.pollInterval;
  checkPollInterval(poll);
  const others = ctx.journal.listSources(userId).filter((s) => s.type === type.type);
  const config = type.normalizeConfig(input.config ?? {}, { userId, sourceId, others });
  ctx.journal.upsertSource({
    userId,
    name: sourceId,
    type: type.type,
    config,
    pollInterval: poll ?? null,
    enabled: input.enabled ?? true,
  });
  return sourceView(
    ctx.journal.getSource(userId, sourceId) as SourceRecord,
    ctx.config.defaultPollIntervalSeconds,
  );
}

/** Input of {@link updateSource}: only the fields given change. */
export interface UpdateSourceInput {
  userId: string;
  sourceId: string;
  /** Replaces the type-specific settings (checked like {@link addSource}'s). */
  config?: Record<string, unknown>;
  /** Seconds between scheduled runs; `null` returns to `DEFAULT_POLL_INTERVAL`. */
  pollInterval?: number | null;
  enabled?: boolean;
}

/**
 * Changes a registered source's config, poll interval or enabled flag (its type never changes). A new config
 * passes the type's checks like {@link addSource}'s; `SYNC_E_NOT_FOUND` for an unknown source. Documents a
 * narrower config no longer covers are deleted by the source's next full run (the source confirms them gone).
 */
export function updateSource(ctx: AppContext, input: UpdateSourceInput): SourceView {
  const userId = validateId("user id", input.userId);
  const sourceId = validateId("source id", input.sourceId);
  const existing = ctx.journal.getSource(userId, sourceId);
  if (!existing) throw new SyncError("SYNC_E_NOT_FOUND", `user "${userId}" has no source "${sourceId}"`);
  checkPollInterval(input.pollInterval ?? undefined);
  if (input.enabled !== undefined && typeof input.enabled !== "boolean") {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `enabled: expected true or false, got ${String(input.enabled)}`,
    );
  }
  let config = existing.config;
  if (input.config !== undefined) {
    const type = ctx.registry.get(existing.type);
    const others = ctx.journal
      .listSources(userId)
      .filter((s) => s.type === existing.type && s.name !== sourceId);
    config = type.normalizeConfig(input.config, { userId, sourceId, others });
  }
  ctx.journal.upsertSource({
    ...existing,
    config,
    pollInterval: input.pollInterval === undefined ? existing.pollInterval : input.pollInterval,
    enabled: input.enabled ?? existing.enabled,
  });
  return sourceView(
    ctx.journal.getSource(userId, sourceId) as SourceRecord,
    ctx.config.defaultPollIntervalSeconds,
  );
}

function checkPollInterval(poll: number | undefined): void {
  if (poll !== undefined && (!Number.isInteger(poll) || poll < 1 || poll > 86_400)) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `poll_interval: expected whole seconds in 1..86400, got ${poll}`,
    );
  }
}

/**
 * Removes a source: its rows in the store (unless `keepDocuments`: they stay searchable, orphaned, and can be
 * deleted one by one), then its journal items, failures, uploads, runs and run lease. Holds the source's run
 * lease meanwhile (`SYNC_E_SOURCE_BUSY` when another process is syncing it) and the writer lock for the
 * store rows. Its items are marked `pending` and its rows deleted before the journal forgets it: a crash in
 * between leaves a registered source whose next run writes its documents again (run the remove again to
 * finish it), never items recorded as synced without rows.
 */
export async function removeSource(
  ctx: AppContext,
  record: SourceRecord,
  keepDocuments: boolean,
): Promise<RemoveSourceResult> {
  const { userId, name } = record;
  const lock = await acquireLock(ctx.journal, runLockName(userId, name), {
    purpose: `remove of ${userId}/${name}`,
    leaseMs: ctx.config.lockLeaseSeconds * 1000,
    waitMs: 0,
    busyCode: "SYNC_E_SOURCE_BUSY",
  });
  try {
    let rows = { documents: 0, chunks: 0 };
    if (!keepDocuments) {
      const store = await ctx.openStore();
      // Items first become `pending`: a crash after the rows went but before the journal forgot the source
      // leaves a source whose next run writes its documents again, never items recorded as synced without rows.
      const keys = [...ctx.journal.listItems(userId, name).keys()];
      rows = await ctx.withWriterLock(`remove of ${userId}/${name}`, async () => {
        ctx.journal.demoteItems(userId, name, keys);
        return store.removeSource(userId, name);
      });
    }
    lock.release();
    const forgotten = ctx.journal.removeSource(userId, name);
    return {
      user_id: userId,
      source_id: name,
      documents: rows.documents,
      chunks: rows.chunks,
      items: forgotten.items,
      failures: forgotten.failures,
      uploads: forgotten.uploads,
      kept_documents: keepDocuments,
    };
  } finally {
    lock.release();
  }
}
