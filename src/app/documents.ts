import { type DocumentRow, parseMetadata } from "../core/document-store.js";
import { makeDocId } from "../core/ids.js";
import type { SourceRecord } from "../core/journal.js";
import { retypeError } from "../core/journal.js";
import { SyncError } from "../errors/sync-error.js";
import { checkUploadKey, checkUploadName, UPLOAD_EXTENSIONS } from "../sources/upload/upload-file-name.js";
import { validateId } from "../storage/filter.js";
import type { AppContext } from "./app-context.js";
import { crashHook } from "./crash-hook.js";
import type { SourceRunResult } from "./run-source.js";

/** Source that `ingestDocument` pushes to when no `sourceId` is given. */
export const DEFAULT_UPLOAD_SOURCE = "uploads";

/** Largest metadata object accepted with a pushed document (as JSON, in bytes). */
const MAX_METADATA_BYTES = 64 * 1024;

/** A document pushed by a host application. */
export interface IngestInput {
  userId: string;
  bytes: Uint8Array;
  /** A bare file name whose extension names the type (`report.pdf`); paths and control characters are refused. */
  filename: string;
  /** Merged into the document's metadata and returned with its search hits. */
  metadata?: Record<string, unknown>;
  /** The document's key in its source; default: the file name. Pushing to a key again replaces its document. */
  key?: string;
  /** Upload source to push to (created when missing); default `uploads`. */
  sourceId?: string;
}

/** What {@link ingestDocument} did. */
export interface IngestResult {
  doc_id: string;
  source_id: string;
  key: string;
  /** `unchanged`: the same bytes and metadata under that key were already indexed; nothing was parsed or embedded. */
  status: "added" | "updated" | "unchanged";
  chunks: number;
}

/** Runs a partial run of a source through the caller's queue (so it never races a run of the same source). */
export type RunChanges = (
  record: SourceRecord,
  keys: readonly string[],
  options?: { allowMassDelete?: boolean },
) => Promise<SourceRunResult>;

/**
 * Pushes one document through the same pipeline as any source. Checks come first and store nothing when they
 * fail: the file name (`SYNC_E_FILENAME_INVALID`), its type (`SYNC_E_UNSUPPORTED_TYPE`), its size
 * (`SYNC_E_FILE_TOO_LARGE`), key and metadata (`SYNC_E_INVALID_ARGUMENT`). Then the bytes are stored durably
 * in the blob store (content-addressed), the upload is recorded, and a partial run of the upload source
 * applies it. A document that cannot be processed (corrupt, encrypted) is rolled back to what was there
 * before and its error thrown; one that failed for a passing reason (an embedder outage) stays recorded and
 * is retried by later runs, and the retryable error is thrown. A crash at any point loses nothing: a stored
 * blob without a record is garbage-collected, a record without an index entry is applied by the next run.
 */
export async function ingestDocument(
  ctx: AppContext,
  input: IngestInput,
  run: RunChanges,
): Promise<IngestResult> {
  const { journal, config } = ctx;
  const userId = validateId("user id", input.userId);
  const sourceId = validateId("source id", input.sourceId ?? DEFAULT_UPLOAD_SOURCE);
  if (!(input.bytes instanceof Uint8Array)) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      "bytes: expected a Uint8Array (or Buffer) of the document",
    );
  }
  const fileName = checkUploadName(String(input.filename ?? ""), {
    maxFileBytes: config.maxFileBytes,
    sizeBytes: input.bytes.length,
    supportedExtensions: UPLOAD_EXTENSIONS,
  });
  const key = input.key === undefined ? fileName : checkUploadKey(input.key);
  const metadata = checkMetadata(input.metadata);
  let record = journal.getSource(userId, sourceId);
  if (record && record.type !== "upload")
    throw retypeError({ userId, name: sourceId, type: "upload" }, record.type);
  const docId = makeDocId(userId, sourceId, key);
  const { hash, sizeBytes } = await ctx.blobs.put(input.bytes);
  crashHook(config)?.("blob-stored", 0);
  if (!record) {
    journal.upsertSource({ userId, name: sourceId, type: "upload", config: {} });
    record = journal.getSource(userId, sourceId) as SourceRecord;
  }
  const prev = journal.getUpload(userId, sourceId, key);
  const item = journal.getItem(userId, sourceId, key);
  const sameUpload =
    prev !== undefined &&
    prev.blobHash === hash &&
    prev.fileName === fileName &&
    JSON.stringify(prev.metadata) === JSON.stringify(metadata);
  if (sameUpload && item?.status === "synced" && item.contentHash === hash) {
    const doc = await (await ctx.openStore()).getDocument(userId, docId);
    if (doc) return { doc_id: docId, source_id: sourceId, key, status: "unchanged", chunks: doc.chunk_count };
  }
  journal.putUpload({
    userId,
    sourceName: sourceId,
    key,
    blobHash: hash,
    fileName,
    sizeBytes,
    metadata,
    uploadedAt: new Date().toISOString(),
  });
  crashHook(config)?.("upload-recorded", 0);
  // Same bytes with new metadata (or file name): the document row must be rewritten (no re-embedding).
  if (item && item.contentHash === hash) journal.demoteItems(userId, sourceId, [key]);
  const result = await run(record, [key]);
  const failure = result.failures.find((f) => f.key === key);
  if (failure) {
    if (!failure.retryable) {
      if (prev) journal.putUpload(prev);
      else journal.deleteUpload(userId, sourceId, key);
      journal.clearFailures(userId, sourceId, [key]);
    }
    throw new SyncError(failure.code as never, failure.error, { retryable: failure.retryable === true });
  }
  const doc = await (await ctx.openStore()).getDocument(userId, docId);
  const wrote = result.added + result.updated + result.moved + result.repaired > 0;
  // `updated` only when a version of it was indexed before (an upload recorded by a failed call was not).
  const status = !wrote ? "unchanged" : item && item.contentHash !== "" ? "updated" : "added";
  return { doc_id: docId, source_id: sourceId, key, status, chunks: doc?.chunk_count ?? 0 };
}

/** What {@link deleteDocument} removed. */
export interface DeleteResult {
  doc_id: string;
  source_id: string;
  key: string;
  deleted: true;
}

/**
 * Removes one document of any type from the index. An upload is forgotten with its record (its blob is
 * collected later). A document of a source with a live origin (`local_filesystem`) is removed only when the
 * source confirms the item is gone: a file that still exists is refused with `SYNC_E_INVALID_ARGUMENT` —
 * the next sync would bring it back; delete the file, or add an ignore pattern to the source. Rows whose
 * source is no longer registered (removed with `--keep-documents`) are deleted directly.
 * `SYNC_E_NOT_FOUND` when the user has no such document (another user's id is not found either).
 */
export async function deleteDocument(
  ctx: AppContext,
  userIdIn: string,
  docIdIn: string,
  run: RunChanges,
): Promise<DeleteResult> {
  const userId = validateId("user id", userIdIn);
  const docId = validateId("document id", docIdIn);
  const store = await ctx.openStore();
  const doc = await store.getDocument(userId, docId);
  if (!doc) throw new SyncError("SYNC_E_NOT_FOUND", `user "${userId}" has no document ${docId}`);
  const out: DeleteResult = { doc_id: docId, source_id: doc.source_id, key: doc.item_key, deleted: true };
  const record = ctx.journal.getSource(userId, doc.source_id);
  if (!record) {
    await ctx.withWriterLock(`delete ${docId}`, () =>
      store.applyBatch({ upserts: [], replaceDocIds: [], deleteDocIds: [docId] }),
    );
    return out;
  }
  if (record.type === "upload") {
    ctx.journal.deleteUpload(userId, record.name, doc.item_key);
  } else {
    const source = ctx.sourceOf(record);
    const gone = source.confirmGone ? await source.confirmGone([doc.item_key]) : new Set<string>();
    if (!gone.has(doc.item_key)) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `document ${docId} is ${doc.item_key} of ${record.type} source "${record.name}", which still has it: ` +
          "the next sync would bring it back; delete it at its origin, or add an ignore pattern to the source",
      );
    }
  }
  const result = await run(record, [doc.item_key], { allowMassDelete: true });
  if (result.deleted === 0 && (await store.getDocument(userId, docId))) {
    throw new SyncError(
      "SYNC_E_STORAGE",
      `document ${docId} could not be deleted: ${result.warnings.join("; ")}`,
    );
  }
  return out;
}

function checkMetadata(metadata: unknown): Record<string, unknown> {
  if (metadata === undefined || metadata === null) return {};
  if (typeof metadata !== "object" || Array.isArray(metadata)) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", "metadata: expected a JSON object");
  }
  let json: string;
  try {
    json = JSON.stringify(metadata);
  } catch (err) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `metadata: not serialisable as JSON (${(err as Error).message})`,
    );
  }
  if (Buffer.byteLength(json) > MAX_METADATA_BYTES) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `metadata: ${Buffer.byteLength(json)} bytes as JSON, at most ${MAX_METADATA_BYTES}`,
    );
  }
  return JSON.parse(json) as Record<string, unknown>;
}

/** A document as the library, the CLI and the API show it: `metadata` an object, `url` or null (as in hits). */
export type DocumentView = Omit<DocumentRow, "metadata" | "url"> & {
  metadata: Record<string, unknown>;
  url: string | null;
};

/** The {@link DocumentView} of a stored row (metadata that is not a JSON object shows as `{}`). */
export function documentView(d: DocumentRow): DocumentView {
  return { ...d, metadata: parseMetadata(d.metadata) ?? {}, url: d.url === "" ? null : d.url };
}
