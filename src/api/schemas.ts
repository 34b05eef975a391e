import { ID_PATTERN, USER_ID_PATTERN } from "../storage/filter.js";

/**
 * JSON schemas shared by the routes: inputs are closed (`additionalProperties: false`, so an unknown field is a
 * 400), outputs list every field they send (Fastify serialises exactly what a response schema declares).
 * Free-form objects (source configs, metadata, run stats) stay open.
 */

/** A user id, source id or document id (the pattern of `validateId`). */
export const ID = { type: "string", pattern: ID_PATTERN.source } as const;

/** A user id an admin key names (user keys may only name their own). */
export const USER_ID = {
  type: "string",
  pattern: USER_ID_PATTERN.source,
  description: "Admin keys: the user to act for. User keys may omit it or give their own id (else 403).",
} as const;

/** A boolean query flag (query strings are not coerced: `true` or `false`, spelled out). */
export const QUERY_FLAG = { type: "string", enum: ["true", "false"] } as const;

/** A non-negative integer in a query string. */
export const QUERY_INT = { type: "string", pattern: "^[0-9]{1,9}$" } as const;

const STR = { type: "string" } as const;
const INT = { type: "integer" } as const;
const NUM = { type: "number" } as const;
const BOOL = { type: "boolean" } as const;
const NULLABLE_STR = { type: ["string", "null"] } as const;
const FREE_OBJECT = { type: "object", additionalProperties: true } as const;

/** `{ error: { code, message } }`: every error response. */
export const API_ERROR = {
  type: "object",
  description:
    "An error: `code` is a stable SYNC_E_* code (see docs/errors.md), `message` says what and why.",
  additionalProperties: false,
  required: ["error"],
  properties: {
    error: {
      type: "object",
      additionalProperties: false,
      required: ["code", "message"],
      properties: { code: STR, message: STR },
    },
  },
} as const;

/** Response schemas for `ok` (status → schema) plus the error schema for every 4xx and 5xx. */
export function responses(ok: Record<number, unknown>): Record<string, unknown> {
  return { ...ok, "4xx": API_ERROR, "5xx": API_ERROR };
}

/** A closed object schema whose listed properties are all required. */
export function closed(properties: Record<string, unknown>, description?: string): Record<string, unknown> {
  return {
    type: "object",
    additionalProperties: false,
    required: Object.keys(properties),
    properties,
    ...(description ? { description } : {}),
  };
}

/** `SourceView`. */
export const SOURCE_VIEW = closed({
  user_id: STR,
  source_id: STR,
  type: STR,
  config: FREE_OBJECT,
  poll_interval: INT,
  poll_interval_default: BOOL,
  enabled: BOOL,
  healthy: BOOL,
  last_error: NULLABLE_STR,
  last_run_at: NULLABLE_STR,
  created_at: NULLABLE_STR,
  updated_at: NULLABLE_STR,
});

/** `JobTicket`: the run that serves a request. */
export const JOB_TICKET = closed(
  {
    job_id: STR,
    user_id: STR,
    source_id: STR,
    kind: { type: "string", enum: ["full", "changes"] },
    state: { type: "string", enum: ["queued", "running"] },
    joined: BOOL,
  },
  "The run serving the request: a new one, or the queued one it joined (`joined`).",
);

/** `SourceRunResult`: what a finished run did. */
export const RUN_RESULT = closed({
  source: STR,
  source_type: STR,
  kind: { type: "string", enum: ["full", "changes"] },
  run_id: INT,
  duration_ms: NUM,
  listed: INT,
  added: INT,
  updated: INT,
  moved: INT,
  deleted: INT,
  unchanged: INT,
  failed: INT,
  repaired: INT,
  held_deletions: INT,
  embedded_chunks: INT,
  reused_chunks: INT,
  given_up: INT,
  retry_later: INT,
  failures: {
    type: "array",
    items: {
      type: "object",
      additionalProperties: false,
      required: ["key", "code", "error"],
      properties: { key: STR, code: STR, error: STR, retryable: BOOL },
    },
  },
  warnings: { type: "array", items: STR },
});

/** `RunActivity`: a run in progress or queued. */
export const RUN_ACTIVITY = closed({
  job_id: STR,
  user_id: STR,
  source_id: STR,
  source_type: STR,
  kind: { type: "string", enum: ["full", "changes"] },
  state: { type: "string", enum: ["queued", "running"] },
  queued_at: STR,
  started_at: NULLABLE_STR,
  done: INT,
  total: INT,
  keys: { type: ["integer", "null"] },
});

/** `JobRecord`: a finished job. */
export const JOB_RECORD = closed({
  job_id: STR,
  user_id: STR,
  source_id: STR,
  kind: { type: "string", enum: ["full", "changes"] },
  reason: STR,
  state: { type: "string", enum: ["succeeded", "failed"] },
  run_id: { type: ["integer", "null"] },
  started_at: NULLABLE_STR,
  finished_at: STR,
  result: { anyOf: [{ type: "null" }, RUN_RESULT] },
  error: {
    anyOf: [{ type: "null" }, closed({ code: STR, message: STR })],
  },
});

/** A failed item of the status report. */
export const FAILURE = closed({
  user_id: STR,
  source: STR,
  key: STR,
  code: STR,
  error: STR,
  attempts: INT,
});

/** `TableHealth`. */
export const TABLE_HEALTH = closed({
  name: STR,
  rows: INT,
  version: INT,
  versions: INT,
  fragments: INT,
  smallFragments: INT,
});

/** `SourceMonitorState`. */
export const MONITOR = closed({
  user_id: STR,
  source_id: STR,
  type: STR,
  enabled: BOOL,
  watching: BOOL,
  watch_error: NULLABLE_STR,
  next_poll_at: NULLABLE_STR,
  last_event_at: NULLABLE_STR,
});

/** The five service gauges (also on `/metrics`). */
export const SERVICE_METRICS = closed(
  {
    pending_syncs: { type: "integer", description: "Runs running or queued." },
    failed_syncs: { type: "integer", description: "Items whose last sync failed (failure records)." },
    local_db_available: { type: "integer", enum: [0, 1] },
    s3_sync_available: {
      type: "integer",
      enum: [0, 1],
      description:
        "1 when a backup target is configured and answered the last backup (or none was tried yet).",
    },
    sources_monitored: { type: "integer", description: "Sources with a live schedule or watcher." },
  },
  "The service gauges; for a user key, counted over that user's sources and runs.",
);

/** `DocumentView`. */
export const DOCUMENT_VIEW = closed({
  doc_id: STR,
  user_id: STR,
  source_type: STR,
  source_id: STR,
  item_key: STR,
  title: STR,
  mime_type: STR,
  size_bytes: INT,
  content_hash: STR,
  chunk_count: INT,
  modified_at: STR,
  ingested_at: STR,
  metadata: FREE_OBJECT,
  url: NULLABLE_STR,
});

/** `SearchHit`: the fields the CLI's `search --json` prints. */
export const SEARCH_HIT = closed({
  doc_id: STR,
  chunk_id: STR,
  item_key: STR,
  source_id: STR,
  title: STR,
  text: STR,
  start: INT,
  end: INT,
  score: NUM,
  metadata: FREE_OBJECT,
  url: NULLABLE_STR,
});
