import type { Journal, UploadRecord } from "../../core/journal.js";
import type { FetchedItem, Source, SourceItemRef, SourceListing } from "../../core/source.js";
import { describeError, isSyncError, SyncError } from "../../errors/sync-error.js";
import type { BlobStore } from "./blob-store.js";
import { quoteForMessage } from "./upload-file-name.js";

/** Options of {@link UploadSource}. */
export interface UploadSourceOptions {
  /** The upload source's name, unique per user. */
  name: string;
  userId: string;
  /** Where the upload records live (read only: the app writes them when it ingests or deletes). */
  journal: Pick<Journal, "listUploads" | "getUpload">;
  /** Where the uploaded bytes live. */
  blobs: BlobStore;
}

/**
 * Documents pushed by a host application, as a {@link Source}: one item per upload record of (user, source
 * name) in the journal, its bytes in the {@link BlobStore}.
 *
 * - Keys are the caller's key, or the checked file name when the caller gave none (see `checkUploadKey`,
 *   `checkUploadName`).
 * - The fingerprint is the blob's content hash: re-pushing the same bytes under a key is `unchanged`,
 *   whatever its upload time; new bytes move it. `modifiedAt` is the upload time.
 * - `list` never reports warnings, incomplete prefixes or empty roots; a journal that cannot be read throws
 *   `SYNC_E_SOURCE_UNAVAILABLE` (nothing is deleted).
 * - `fetch` of a key without a record throws `SYNC_E_ITEM_GONE`; a record whose blob is missing or damaged
 *   throws `SYNC_E_READ_FAILED` naming key and hash (the document's rows stay, it is retried). It returns
 *   the upload's metadata.
 * - `confirmGone` confirms exactly the keys without an upload record; a missing blob is damage, not a
 *   deletion, and a key it cannot look up is not confirmed.
 *
 * Not in the contract: writing records or blobs (the app's `ingestDocument` / `deleteDocument` do), blob
 * garbage collection ({@link BlobStore.gc}).
 */
export class UploadSource implements Source {
  readonly type = "upload";
  readonly name: string;
  private readonly userId: string;
  private readonly journal: Pick<Journal, "listUploads" | "getUpload">;
  private readonly blobs: BlobStore;

  constructor(options: UploadSourceOptions) {
    this.name = options.name;
    this.userId = options.userId;
    this.journal = options.journal;
    this.blobs = options.blobs;
  }

  async list(signal?: AbortSignal): Promise<SourceListing> {
    signal?.throwIfAborted();
    let records: UploadRecord[];
    try {
      records = this.journal.listUploads(this.userId, this.name);
    } catch (err) {
      throw new SyncError(
        "SYNC_E_SOURCE_UNAVAILABLE",
        `upload: ${this.name}: uploads could not be listed: ${describeError(err)}`,
        { cause: err },
      );
    }
    return {
      items: records.map((r) => ({
        key: r.key,
        fingerprint: r.blobHash,
        sizeBytes: r.sizeBytes,
        modifiedAt: r.uploadedAt,
      })),
      warnings: [],
      incompletePrefixes: [],
      emptyRoots: [],
    };
  }

  async fetch(ref: SourceItemRef, signal?: AbortSignal): Promise<FetchedItem> {
    signal?.throwIfAborted();
    const record = this.lookUp(ref.key);
    if (record === undefined) {
      throw new SyncError(
        "SYNC_E_ITEM_GONE",
        `upload: ${this.name}: no document under key ${quoteForMessage(ref.key, 100)} (deleted since the listing)`,
      );
    }
    const shown = displayNameOf(record);
    let bytes: Uint8Array;
    try {
      bytes = await this.blobs.get(record.blobHash);
    } catch (err) {
      throw new SyncError(
        "SYNC_E_READ_FAILED",
        `upload: ${this.name}: document ${quoteForMessage(shown, 200)}: blob ${record.blobHash} ${
          isSyncError(err, "SYNC_E_ITEM_GONE")
            ? "is missing from the blob store (push the document again to repair it)"
            : `cannot be read: ${describeError(err)}`
        }`,
        { cause: err },
      );
    }
    signal?.throwIfAborted();
    return {
      bytes,
      fileName: record.fileName,
      displayName: shown,
      fingerprint: record.blobHash,
      metadata: record.metadata,
    };
  }

  async confirmGone(keys: readonly string[], signal?: AbortSignal): Promise<Set<string>> {
    const gone = new Set<string>();
    for (const key of keys) {
      signal?.throwIfAborted();
      try {
        if (this.journal.getUpload(this.userId, this.name, key) === undefined) gone.add(key);
      } catch {
        // cannot tell: the key is kept
      }
    }
    return gone;
  }

  private lookUp(key: string): UploadRecord | undefined {
    try {
      return this.journal.getUpload(this.userId, this.name, key);
    } catch (err) {
      throw new SyncError(
        "SYNC_E_READ_FAILED",
        `upload: ${this.name}: key ${quoteForMessage(key, 100)}: upload record could not be read: ${describeError(err)}`,
        { cause: err },
      );
    }
  }
}

/** How messages name an upload: its file name, or `key (fileName)` when the key says something else. */
function displayNameOf(record: UploadRecord): string {
  return record.key === record.fileName ? record.fileName : `${record.key} (${record.fileName})`;
}
