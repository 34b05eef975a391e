import { SyncError } from "../errors/sync-error.js";

/** One stored object as a target lists it. */
export interface BackupObjectInfo {
  /** Key relative to the target's prefix, `/`-separated, never starting with `/`. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** Last modification time, ISO 8601, when the target reports one. */
  modifiedAt?: string;
}

/** What `putIfAbsent` uploads: a local file (streamed, multipart when large) or bytes in memory. */
export type BackupBody = { file: string } | { bytes: Uint8Array };

/** Outcome of `putIfAbsent`: `created` when this call stored the object, `exists` when it was already there. */
export type PutResult = "created" | "exists";

/** Per-call options of a {@link BackupTarget} method. */
export interface BackupCallOptions {
  /**
   * Aborts the call: it rejects with the signal's reason (an `AbortError`), not a `SyncError`. An upload
   * aborted before it completed leaves no object.
   */
  signal?: AbortSignal;
}

/**
 * Where backups are kept (litestream-style replica client): an S3 bucket + prefix, or a local directory.
 * Keys are relative to the target's own prefix. Objects are immutable once written: `putIfAbsent` never
 * overwrites a complete object, and a failed or interrupted upload never leaves a complete-looking one.
 * Every method that names a missing object throws {@link BackupObjectNotFound}; any other failure is a
 * `SyncError` with code `SYNC_E_BACKUP_UNAVAILABLE` (retryable: the store is unreachable or refused).
 */
export interface BackupTarget {
  /** Human-readable location for messages and status, e.g. `s3://bucket/prefix/` or `file:///backups/`. */
  readonly location: string;
  /** Every object whose key starts with `prefix` (all pages), in no particular order. */
  list(prefix: string, options?: BackupCallOptions): Promise<BackupObjectInfo[]>;
  /** The object's size; throws {@link BackupObjectNotFound} when absent. */
  head(key: string, options?: BackupCallOptions): Promise<BackupObjectInfo>;
  /** The whole object in memory (manifests, small files); throws {@link BackupObjectNotFound}. */
  get(key: string, options?: BackupCallOptions): Promise<Uint8Array>;
  /** Streams the object into `path` (created or replaced); throws {@link BackupObjectNotFound}. */
  download(key: string, path: string, options?: BackupCallOptions): Promise<void>;
  /**
   * Stores `body` under `key` unless an object is already there (then `exists`, and nothing is written).
   * Where the store has no conditional PUT the check is a HEAD first: safe because keys of immutable files
   * are unique, and a racing writer would write the same bytes.
   */
  putIfAbsent(key: string, body: BackupBody, options?: BackupCallOptions): Promise<PutResult>;
  /** Removes the object; removing an absent one is not an error. */
  delete(key: string, options?: BackupCallOptions): Promise<void>;
}

/** Thrown by a {@link BackupTarget} for an object that is not there. */
export class BackupObjectNotFound extends SyncError {
  /** The missing key, relative to the target's prefix. */
  readonly key: string;
  constructor(key: string, location: string, options?: { cause?: unknown }) {
    super("SYNC_E_BACKUP_OBJECT_MISSING", `backup object ${key} is missing from ${location}`, options);
    this.key = key;
  }
}
