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
}

/** A registered source and its configuration. */
export interface SourceRecord {
  userId: string;
  name: string;
  type: string;
  config: Record<string, unknown>;
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

/** One run as recorded. */
export interface RunRecord {
  runId: number;
  userId: string;
  sourceName: string;
  startedAt: string;
  finishedAt: string | null;
  /** `abandoned`: its process died (found `running` with no live run lock by a later run). */
  status: "running" | "succeeded" | "partial" | "failed" | "abandoned";
  stats: RunStats | null;
  error: string | null;
}

/**
 * Durable bookkeeping of sync state (SQLite in production). Methods are synchronous and each is atomic.
 * Items are keyed by (user, source name, item key).
 */
export interface Journal {
  upsertSource(source: SourceRecord): void;
  getSource(userId: string, name: string): SourceRecord | undefined;
  listSources(userId?: string): SourceRecord[];
  setSourceHealth(userId: string, name: string, healthy: boolean, error: string | null): void;
  listItems(userId: string, name: string): Map<string, ItemState>;
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
  /** Start time (ISO) of the source's last run that listed successfully (`succeeded` or `partial`). */
  lastRunStart(userId: string, name: string): string | undefined;
  listFailures(userId?: string, name?: string): FailureState[];
  recordFailure(
    userId: string,
    name: string,
    key: string,
    fingerprint: string,
    code: string,
    error: string,
  ): void;
  clearFailures(userId: string, name: string, keys: readonly string[]): void;
  /** Removes failure records; returns how many. */
  cleanupFailures(userId?: string, name?: string): number;
  startRun(userId: string, name: string): number;
  finishRun(runId: number, status: RunRecord["status"], stats: RunStats | null, error: string | null): void;
  lastRuns(limit: number, userId?: string): RunRecord[];
  close(): void;
}
