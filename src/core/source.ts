/** One item as a listing reports it: cheap to obtain, without reading content. */
export interface SourceItemRef {
  /** Stable key of the item within its source (fs: absolute POSIX path; Notion: page id). */
  key: string;
  /** Version marker that moves whenever content may have changed (fs: size, mtime, inode). */
  fingerprint: string;
  /** Size in bytes when known without reading. */
  sizeBytes?: number;
  /** Last modification time, ISO 8601, when known. */
  modifiedAt?: string;
}

/** Content of one item, fetched on demand. */
export interface FetchedItem {
  bytes: Uint8Array;
  /** File name used for type detection (extension). */
  fileName: string;
  /** Fingerprint observed while fetching, when the source can tell (guards against edits mid-read). */
  fingerprint?: string;
}

/**
 * A place documents live. `list` must either return the complete listing or throw: a listing that fails or
 * whose root is missing throws `SYNC_E_SOURCE_UNAVAILABLE`, and the engine then deletes nothing. Only an item
 * absent from a *successful* listing may become a deletion. `fetch` throws `SYNC_E_ITEM_GONE` when the item
 * vanished since the listing, `SYNC_E_FILE_TOO_LARGE` when it exceeds the size limit.
 * Not in the contract: ordering of the listing, live change events (a later interface adds them).
 */
export interface Source {
  /** Connector type, e.g. `fs`. */
  readonly type: string;
  /** Source name, unique per user. */
  readonly name: string;
  list(signal?: AbortSignal): Promise<SourceItemRef[]>;
  fetch(ref: SourceItemRef, signal?: AbortSignal): Promise<FetchedItem>;
}
