import { SyncError } from "../errors/sync-error.js";

/** What the journal knows of one item of a source. */
export interface ItemState {
  key: string;
  docId: string;
  /** Fingerprint at the last successful apply; empty when unknown (forces a read and hash). */
  fingerprint: string;
  /** SHA-256 of the item's bytes at the last successful apply; empty when never applied. */
  contentHash: string;
  /** `pending`: an apply was started and may not have finished; the next run must redo or delete it. */
  status: "synced" | "pending";
}

/** A failure record of one item. */
export interface FailureState {
  userId: string;
  sourceName: string;
  key: string;
  fingerprint: string;
  attempts: number;
  code: string;
  error: string;
  firstFailedAt: string;
  lastFailedAt: string;
  /** The last error was retryable (an outage): the item is retried with backoff and never given up. */
  retryable: boolean;
}

/** A registered source and its configuration. */
export interface SourceRecord {
  userId: string;
  /** The source's id, unique per user (`source_id` in the API and the tables). */
  name: string;
  /** Registered type (`local_filesystem`, `upload`, `notion`, `migrated`); never changes once recorded. */
  type: string;
  /** Type-specific settings; never secrets (a token is named by the variable or file that holds it). */
  config: Record<string, unknown>;
  /** Seconds between scheduled runs; null or absent: the configured `DEFAULT_POLL_INTERVAL`. */
  pollInterval?: number | null;
  /** Disabled sources are not scheduled; an explicit sync still runs them. Default true. */
  enabled?: boolean;
  /** Per-source state kept by its connector between runs (a Notion cursor); set with `setSourceState`. */
  state?: Record<string, unknown>;
  createdAt?: string;
  updatedAt?: string;
  lastRunAt?: string | null;
  healthy?: boolean;
  lastError?: string | null;
  /**
   * The store epoch at which this source's items were last checked against the store (-1: never). When the
   * store's epoch is newer (the store was found missing, replaced or behind), the next run verifies them.
   */
  storeEpoch?: number;
}

/** A document pushed through `ingestDocument`: which content-addressed blob holds its bytes. */
export interface UploadRecord {
  userId: string;
  /** The upload source's name. */
  sourceName: string;
  /** The document's key in its source (the caller's key, else the sanitised file name). */
  key: string;
  /** SHA-256 (hex) of the bytes: the blob's name, and the item's fingerprint. */
  blobHash: string;
  /** Sanitised file name (its extension decides the parser). */
  fileName: string;
  sizeBytes: number;
  /** Caller's metadata, merged into the document row. */
  metadata: Record<string, unknown>;
  uploadedAt: string;
}

/** Who holds a lease, for messages and `status`. */
export interface LeaseHolder {
  name: string;
  owner: string;
  purpose: string;
  pid: number;
  host: string;
  acquiredAt: string;
  /** Epoch milliseconds after which the lease may be taken over. */
  expiresAt: number;
}

/** What {@link Journal.removeSource} removed. */
export interface RemovedSource {
  items: number;
  failures: number;
  uploads: number;
  runs: number;
}

/** Statistics of one run, as the CLI prints them. */
export interface RunStats {
  added: number;
  updated: number;
  moved: number;
  deleted: number;
  unchanged: number;
  failed: number;
  held_deletions: number;
  embedded_chunks: number;
  reused_chunks: number;
  listed: number;
  /** Items re-processed because the store lacked (or had other) rows for them than the journal recorded. */
  repaired: number;
}

/** What a run covered: a whole listing (`full`) or given keys only (`changes`). */
export type RunKind = "full" | "changes";

/** One run as recorded. */
export interface RunRecord {
  runId: number;
  userId: string;
  sourceName: string;
  startedAt: string;
  finishedAt: string | null;
  /**
   * `abandoned`: its process died (found `running` with no live run lock by a later run); `interrupted`: it
   * was stopped through its abort signal (Ctrl-C, SIGTERM, a stop), having recorded what it wrote.
   */
  status: "running" | "succeeded" | "partial" | "failed" | "abandoned" | "interrupted";
  /** `full`: a reconciliation over a whole listing; `changes`: a partial run over given keys. */
  kind: RunKind;
  stats: RunStats | null;
  error: string | null;
}

/**
 * Durable bookkeeping of sync state (SQLite in production). Methods are synchronous and each is atomic.
 * Items are keyed by (user, source name, item key).
 */
export interface Journal {
  /**
   * Registers a source or updates its config (and `pollInterval` / `enabled` when given; absent keeps them).
   * Throws `SYNC_E_SOURCE_TYPE` when the source exists with another type: a type never changes.
   */
  upsertSource(source: SourceRecord): void;
  /**
   * Forgets a source with its items, failures, uploads, runs and run lease, in one transaction; the rows of
   * its documents in the store are the caller's business. Unknown sources remove nothing.
   */
  removeSource(userId: string, name: string): RemovedSource;
  /** Replaces the connector state of a registered source (see {@link SourceRecord.state}). */
  setSourceState(userId: string, name: string, state: Record<string, unknown>): void;
  getSource(userId: string, name: string): SourceRecord | undefined;
  listSources(userId?: string): SourceRecord[];
  setSourceHealth(userId: string, name: string, healthy: boolean, error: string | null): void;
  listItems(userId: string, name: string): Map<string, ItemState>;
  /** One item of a source, without reading the others. */
  getItem(userId: string, name: string, key: string): ItemState | undefined;
  /** Marks items as `pending` before their documents are written (inserting new ones). */
  markPending(userId: string, name: string, items: ReadonlyArray<{ key: string; docId: string }>): void;
  /** After a successful apply: stores item states as `synced` and forgets `deletedKeys`. */
  commitItems(
    userId: string,
    name: string,
    items: readonly ItemState[],
    deletedKeys: readonly string[],
  ): void;
  /**
   * Forces items to be re-read and re-written by the next pass: status `pending`, fingerprint and content
   * hash cleared (used when the store lacks their rows). Unknown keys are ignored.
   */
  demoteItems(userId: string, name: string, keys: readonly string[]): void;
  /** Records that this source's items were checked against the store at `epoch`. */
  markSourceVerified(userId: string, name: string, epoch: number): void;
  /**
   * Start time (ISO) of the source's last full run that listed successfully (`succeeded` or `partial`);
   * partial runs (`changes`) do not count.
   */
  lastRunStart(userId: string, name: string): string | undefined;
  listFailures(userId?: string, name?: string): FailureState[];
  recordFailure(
    userId: string,
    name: string,
    key: string,
    fingerprint: string,
    code: string,
    error: string,
    retryable?: boolean,
  ): void;
  clearFailures(userId: string, name: string, keys: readonly string[]): void;
  /** Removes failure records; returns how many. */
  cleanupFailures(userId?: string, name?: string): number;
  /** Records a run as `running`; returns its id. `kind` defaults to `full`. */
  startRun(userId: string, name: string, kind?: RunKind): number;
  finishRun(runId: number, status: RunRecord["status"], stats: RunStats | null, error: string | null): void;
  lastRuns(limit: number, userId?: string): RunRecord[];
  /** Marks runs still `running` (of one source, or of every source without a live run lease) `abandoned`. */
  abandonRuns(userId?: string, name?: string): number;
  /** Keeps the newest `keep` finished runs of each source and deletes older ones; returns how many went. */
  pruneRuns(keep: number): number;
  /** Items, pending items and failures: of every user, of one, or of one source of one (`name` needs `userId`). */
  counts(userId?: string, name?: string): { items: number; pending: number; failures: number };

  /**
   * The store epoch: bumped whenever the store is found missing, replaced or behind the journal, and by
   * `reset`. A run that began under one epoch must not write under another.
   */
  storeEpoch(): number;
  /** Increments the store epoch; returns the new one. */
  bumpStoreEpoch(): number;
  /**
   * Forgets every item, failure and setting but the store epoch, which it bumps (used by `reset`); sources,
   * uploads and runs stay, and every source counts as verified at the new epoch. Returns the new epoch.
   */
  forgetAll(): number;
  /** A recorded setting, e.g. `embedder_id`. */
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;

  /**
   * Takes or renews the lease `name` for `owner` until `leaseMs` from now, atomically. Returns undefined on
   * success, or the holder when another owner holds an unexpired lease (one whose process is known dead on
   * this host does not count).
   */
  tryLease(name: string, owner: string, purpose: string, leaseMs: number): LeaseHolder | undefined;
  /** Extends a lease still held by `owner`; false when it was lost. */
  renewLease(name: string, owner: string, leaseMs: number): boolean;
  /** Releases a lease held by `owner`; a no-op when it no longer holds it. */
  releaseLease(name: string, owner: string): void;
  /** Removes a lease whoever holds it; returns the holder it removed. */
  clearLease(name: string): LeaseHolder | undefined;
  /** Every lease, expired ones included. */
  listLeases(): LeaseHolder[];

  /** Records (or replaces) which blob holds an uploaded document. */
  putUpload(upload: UploadRecord): void;
  getUpload(userId: string, name: string, key: string): UploadRecord | undefined;
  /** Uploads of one source, by key. */
  listUploads(userId: string, name: string): UploadRecord[];
  /** Forgets one upload; false when it was not recorded. */
  deleteUpload(userId: string, name: string, key: string): boolean;
  /** Hashes of every blob some upload refers to (blobs outside this set may be removed). */
  referencedBlobs(): Set<string>;
  /**
   * Writes a consistent copy of the journal (every committed transaction) to `path` while it stays in use;
   * journals that cannot be copied (in-memory fakes) leave it out, and backups then refuse.
   */
  backupTo?(path: string): Promise<void>;
  close(): void;
}

/** `SYNC_E_SOURCE_TYPE`: a source may not be registered again under another type. */
export function retypeError(s: Pick<SourceRecord, "userId" | "name" | "type">, recorded: string): SyncError {
  return new SyncError(
    "SYNC_E_SOURCE_TYPE",
    `source "${s.name}" of user "${s.userId}" is a ${recorded} source, not ${s.type}: a source's type never ` +
      "changes (remove it first, or choose another name)",
  );
}
