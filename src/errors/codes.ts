/**
 * The table of stable error codes. Codes never change meaning once released; messages may be reworded.
 * `status` is the HTTP status the API answers with; `retryable` says whether retrying the same input later
 * can succeed (an outage) or not (a corrupt file stays corrupt until it changes).
 */
export const ERROR_CODES = {
  SYNC_E_CONFIG_INVALID: { status: 500, retryable: false, message: "invalid configuration" },
  SYNC_E_INVALID_ARGUMENT: { status: 400, retryable: false, message: "invalid argument" },
  SYNC_E_INVALID_ID: { status: 400, retryable: false, message: "invalid identifier" },
  SYNC_E_NOT_FOUND: { status: 404, retryable: false, message: "not found" },
  SYNC_E_FILE_TOO_LARGE: { status: 413, retryable: false, message: "file exceeds the size limit" },
  SYNC_E_UNSUPPORTED_TYPE: { status: 415, retryable: false, message: "unsupported file type" },
  SYNC_E_CORRUPT_FILE: { status: 422, retryable: false, message: "file is corrupt or unreadable" },
  SYNC_E_ENCRYPTED_FILE: { status: 422, retryable: false, message: "file is encrypted" },
  SYNC_E_BINARY_CONTENT: { status: 422, retryable: false, message: "binary content where text was expected" },
  SYNC_E_DECODE_FAILED: { status: 422, retryable: false, message: "text could not be decoded" },
  SYNC_E_SOURCE_UNAVAILABLE: {
    status: 503,
    retryable: true,
    message: "source listing failed or its root is missing",
  },
  SYNC_E_SOURCE_BUSY: { status: 409, retryable: true, message: "another run is syncing this source" },
  SYNC_E_ITEM_GONE: { status: 404, retryable: false, message: "item disappeared before it could be read" },
  SYNC_E_READ_FAILED: { status: 500, retryable: true, message: "item could not be read" },
  SYNC_E_EMBEDDING_FAILED: { status: 502, retryable: true, message: "embedding request failed" },
  SYNC_E_EMBEDDING_REJECTED: {
    status: 422,
    retryable: false,
    message: "the embedder rejected this input (e.g. a chunk over the model's token limit)",
  },
  SYNC_E_EMBEDDER_MISMATCH: {
    status: 409,
    retryable: false,
    message: "table was built with a different embedder",
  },
  SYNC_E_BACKUP_UNAVAILABLE: {
    status: 503,
    retryable: true,
    message: "the backup store is unreachable or refused the request",
  },
  SYNC_E_BACKUP_OBJECT_MISSING: { status: 404, retryable: false, message: "a backup object is missing" },
  SYNC_E_BACKUP_CORRUPT: {
    status: 422,
    retryable: false,
    message: "a backup object does not match its manifest (size or SHA-256)",
  },
  SYNC_E_BACKUP_NOT_CONFIGURED: { status: 409, retryable: false, message: "no backup target is configured" },
  SYNC_E_BACKUP_BUSY: { status: 409, retryable: true, message: "another backup or restore is running" },
  SYNC_E_RESTORE_REFUSED: {
    status: 409,
    retryable: false,
    message: "restore refused: live data at the destination (use --force) or a process holds it",
  },
  SYNC_E_STORAGE: { status: 500, retryable: true, message: "storage operation failed" },
  SYNC_E_STORE_BUSY: {
    status: 409,
    retryable: true,
    message: "another writer (sync, compact, reset) holds the store's writer lock",
  },
  SYNC_E_STORE_CHANGED: {
    status: 409,
    retryable: true,
    message: "the store was reset or replaced while the run was writing",
  },
  SYNC_E_JOURNAL: { status: 500, retryable: true, message: "journal operation failed" },
  SYNC_E_MASS_DELETE_HELD: {
    status: 409,
    retryable: false,
    message: "deletions held: share of documents to delete exceeds the limit",
  },
  SYNC_E_S3_UNREACHABLE: { status: 503, retryable: true, message: "S3 endpoint or bucket unreachable" },
  SYNC_E_ALREADY_EXISTS: { status: 409, retryable: false, message: "already exists" },
  SYNC_E_STORE_DAMAGED: {
    status: 500,
    retryable: false,
    message: "a LanceDB table is damaged (a manifest or data file is unreadable or missing)",
  },
  SYNC_E_STORE_CONFLICT: {
    status: 409,
    retryable: true,
    message: "a LanceDB commit conflicted with a concurrent commit",
  },
  SYNC_E_INTERNAL: { status: 500, retryable: false, message: "internal error" },
  SYNC_E_SOURCE_TYPE: {
    status: 409,
    retryable: false,
    message: "the source is registered with another type (a source's type never changes)",
  },
  SYNC_E_FILENAME_INVALID: {
    status: 400,
    retryable: false,
    message: "file name is not allowed (empty, a path, or control characters)",
  },
  SYNC_E_SHUTTING_DOWN: { status: 503, retryable: true, message: "the system is stopping or stopped" },
  SYNC_E_INTERRUPTED: {
    status: 503,
    retryable: true,
    message: "the command was interrupted (SIGINT or SIGTERM)",
  },
  SYNC_E_PARSE_LIMIT: {
    status: 422,
    retryable: false,
    message: "parsing exceeded its time or memory limit",
  },
  SYNC_E_STORE_UPGRADE_NEEDED: {
    status: 409,
    retryable: true,
    message: "the tables have an older layout and must be upgraded under the writer lock",
  },
  SYNC_E_LAYOUT_TOO_NEW: {
    status: 409,
    retryable: false,
    message: "the tables were written by a newer lancedb-sync: upgrade lancedb-sync",
  },
  SYNC_E_UNAUTHORIZED: {
    status: 401,
    retryable: false,
    message: "a valid API key is required (Authorization: Bearer <key>, or X-API-Key)",
  },
  SYNC_E_FORBIDDEN: { status: 403, retryable: false, message: "this API key may not do that" },
  SYNC_E_ROOT_NOT_ALLOWED: {
    status: 403,
    retryable: false,
    message:
      "the path lies outside ALLOWED_ROOTS (filesystem sources added through the API must lie under them)",
  },
  SYNC_E_RATE_LIMITED: {
    status: 429,
    retryable: true,
    message: "too many requests: retry after Retry-After seconds",
  },
  SYNC_E_BODY_TOO_LARGE: { status: 413, retryable: false, message: "request body exceeds the size limit" },
  SYNC_E_SERVICE_UNREACHABLE: {
    status: 503,
    retryable: true,
    message: "the lancedb-sync service could not be reached",
  },
  SYNC_E_MIGRATION_MAPPING: {
    status: 400,
    retryable: false,
    message:
      "the legacy table's columns cannot be mapped (a column is missing, ambiguous or of the wrong type)",
  },
  SYNC_E_MIGRATION_SELF: {
    status: 400,
    retryable: false,
    message: "refused: the legacy table is one of this store's own tables",
  },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

/** One of the stable `SYNC_E_*` codes. */
export type ErrorCode = keyof typeof ERROR_CODES;
