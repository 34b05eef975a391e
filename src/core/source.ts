/** One item as a listing reports it: cheap to obtain, without reading content. */
export interface SourceItemRef {
  /** Stable key of the item within its source (fs: absolute POSIX path; Notion: page id). */
  key: string;
  /** Version marker that moves whenever content may have changed (fs: size, mtime, ctime, inode). */
  fingerprint: string;
  /** Size in bytes when known without reading. */
  sizeBytes?: number;
  /** Last modification time, ISO 8601, when known (the engine re-reads items modified near a run's start). */
  modifiedAt?: string;
}

/** Content of one item, fetched on demand. */
export interface FetchedItem {
  bytes: Uint8Array;
  /** File name used for type detection (extension). */
  fileName: string;
  /**
   * How messages name the item, when the source knows better than `fileName` (fs: its path relative to the
   * folder holding its root, e.g. `notes/2024/bad.docx`, so that two `bad.docx` are told apart).
   */
  displayName?: string;
  /** Fingerprint observed while fetching, when the source can tell (guards against edits mid-read). */
  fingerprint?: string;
  /**
   * Per-item metadata from the source (an upload's metadata; a Notion page's ids): merged over what
   * extraction found into `processed_documents.metadata`, and returned with search hits.
   */
  metadata?: Record<string, unknown>;
  /** Where a person can open the item (a Notion page URL), when the source knows one. */
  url?: string;
}

/** A successful listing: every item found, and what could not be listed. */
export interface SourceListing {
  /** The items; keys must be unique (the engine drops repeats with a warning). */
  items: SourceItemRef[];
  /** Problems that did not stop the listing (an unreadable subfolder, a symlink loop, an undecodable name). */
  warnings: string[];
  /**
   * Key prefixes under which the listing is incomplete (an unreadable subfolder): items the journal knows
   * there are neither processed nor deleted this run. A prefix is a whole key or ends with `/`.
   */
  incompletePrefixes: string[];
  /**
   * Key prefixes of roots that listed no item at all. A root that is empty now but under which the journal
   * knows items (an unmounted mount point) makes the source unavailable: nothing is deleted.
   */
  emptyRoots: string[];
}

/**
 * A place documents live. `list` must either return a listing or throw: a listing that fails or whose root
 * is missing throws `SYNC_E_SOURCE_UNAVAILABLE`, and the engine then deletes nothing. A problem below the
 * root (one unreadable folder, a symlink loop) is a warning plus an incomplete prefix, never a throw. Only an
 * item absent from a *successful* listing, and not under an incomplete prefix, may become a deletion.
 * Keys are unique within one listing.
 * `fetch` throws `SYNC_E_ITEM_GONE` when the item vanished since the listing (the engine skips it: the next
 * listing decides), `SYNC_E_FILE_TOO_LARGE` when it exceeds the size limit, and fails — never blocks — on
 * an item that is not a regular file (a FIFO or device swapped in since the listing).
 * Not in the contract: ordering of the listing, live change events (a later interface adds them).
 */
export interface Source {
  /** Connector type, e.g. `fs`. */
  readonly type: string;
  /** Source name, unique per user. */
  readonly name: string;
  list(signal?: AbortSignal): Promise<SourceListing>;
  fetch(ref: SourceItemRef, signal?: AbortSignal): Promise<FetchedItem>;
  /**
   * Of `keys`, those the source confirms are gone (fs: `lstat` finds nothing; Notion: 404 or in trash). A key
   * it cannot answer for (an error, a timeout) is not in the result: it is kept, never deleted. A source
   * without this method has every key absent from a successful full listing confirmed, and none in a partial
   * run.
   */
  confirmGone?(keys: readonly string[], signal?: AbortSignal): Promise<Set<string>>;
  /**
   * How coarse the listing's `modifiedAt` is (ms): items modified less than this before the previous full
   * run's start are re-read even when their fingerprint did not move (Notion's minute-precise
   * `last_edited_time`). Default: the engine's (2 s for whole-second timestamps).
   */
  readonly racyWindowMs?: number;
  /**
   * For a poll that need not list everything: the keys changed since the cursor `state` (as stored after the
   * last run), and the cursor to store once a partial run over them succeeded. Undefined when there is no
   * usable cursor (a full run is needed). Throws when the source cannot answer (the poll fails, nothing is
   * deleted). The partial run deletes only what the source confirms gone.
   */
  listChanges?(
    state: Record<string, unknown> | undefined,
    signal?: AbortSignal,
  ): Promise<SourceChanges | undefined>;
  /** The cursor to store after a successful full run of this instance (undefined: none). */
  listedState?(): Record<string, unknown> | undefined;
}

/** What {@link Source.listChanges} found. */
export interface SourceChanges {
  keys: string[];
  /** The cursor to store once the partial run over `keys` succeeded. */
  state: Record<string, unknown>;
}
