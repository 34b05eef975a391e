import { describeError, isSyncError } from "../errors/sync-error.js";
import type { ContentProcessor, PreparedContent } from "./content-processor.js";
import type { Candidate } from "./detect-changes.js";
import { hashContent } from "./ids.js";
import type { ItemState } from "./journal.js";
import type { Source, SourceItemRef } from "./source.js";

/** One item of this run that failed, as reported. */
export interface ItemFailure {
  key: string;
  code: string;
  error: string;
  /** Retrying the same content later can succeed (an outage), so the item is never given up for good. */
  retryable?: boolean;
}

/** A candidate whose content changed: extracted and chunked, ready to be embedded and written. */
export interface PreparedWrite {
  kind: "write";
  ref: SourceItemRef;
  prev: ItemState | undefined;
  fingerprint: string;
  hash: string;
  size: number;
  content: PreparedContent;
  /** The source's own metadata and URL of the item (see `FetchedItem`). */
  item: { metadata?: Record<string, unknown>; url?: string };
}

/** What reading one candidate gave: a fingerprint-only update, a write, a failure, or an item gone since the listing. */
export type Prepared =
  | { kind: "touch"; state: ItemState }
  | PreparedWrite
  | { kind: "failed"; ref: SourceItemRef; prev: ItemState | undefined; failure: ItemFailure }
  | { kind: "gone"; ref: SourceItemRef };

/**
 * Reads and hashes one candidate; processes it only when its content hash differs from the journal's.
 * Never throws for a bad item (the failure is returned, naming the item); rethrows only on abort. An item
 * that vanished since the listing (`SYNC_E_ITEM_GONE`) is `gone`, not failed.
 */
export async function prepareItem(
  source: Source,
  process: ContentProcessor,
  c: Candidate,
  signal: AbortSignal | undefined,
): Promise<Prepared> {
  // Set once fetched: messages of the content processor start with the bare file name, renamed below.
  let names: { fileName: string; displayName: string } | undefined;
  try {
    const fetched = await source.fetch(c.ref, signal);
    names = { fileName: fetched.fileName, displayName: fetched.displayName ?? c.ref.key };
    const hash = hashContent(fetched.bytes);
    const fingerprint = fetched.fingerprint ?? c.ref.fingerprint;
    if (c.prev && c.prev.status === "synced" && c.prev.contentHash === hash) {
      return { kind: "touch", state: { ...c.prev, fingerprint } };
    }
    const content = await process(fetched, signal);
    return {
      kind: "write",
      ref: c.ref,
      prev: c.prev,
      fingerprint,
      hash,
      size: fetched.bytes.length,
      content,
      item: { metadata: fetched.metadata, url: fetched.url },
    };
  } catch (err) {
    if (signal?.aborted) throw err;
    // Vanished since the listing: not a failure; the next listing decides whether it is a deletion.
    if (isSyncError(err, "SYNC_E_ITEM_GONE")) return { kind: "gone", ref: c.ref };
    if (isStringTooLong(err)) {
      const failure = {
        key: c.ref.key,
        code: "SYNC_E_FILE_TOO_LARGE",
        error: `${names?.displayName ?? c.ref.key}: its text is longer than the longest string JavaScript can hold`,
      };
      return { kind: "failed", ref: c.ref, prev: c.prev, failure };
    }
    const code = isSyncError(err) ? err.code : "SYNC_E_INTERNAL";
    const error = names
      ? nameItem(describeError(err), names.fileName, names.displayName)
      : isSyncError(err)
        ? describeError(err)
        : `${c.ref.key}: ${describeError(err)}`;
    const failure: ItemFailure = { key: c.ref.key, code, error };
    if (isSyncError(err) && err.retryable) failure.retryable = true;
    return { kind: "failed", ref: c.ref, prev: c.prev, failure };
  }
}

/** V8's "Invalid string length" RangeError, or Node's `ERR_STRING_TOO_LONG`. */
function isStringTooLong(err: unknown): boolean {
  if (err instanceof RangeError && /string length/i.test(err.message)) return true;
  return (err as { code?: unknown } | null)?.code === "ERR_STRING_TOO_LONG";
}

/**
 * A failure message of a fetched item, naming it by `displayName` (e.g. `notes/2024/bad.docx`) rather than the
 * bare `fileName` the content processor starts its messages with, so two `bad.docx` are told apart. A
 * message that names neither gets the display name in front.
 */
function nameItem(message: string, fileName: string, displayName: string): string {
  if (message.startsWith(`${fileName}: `)) return `${displayName}${message.slice(fileName.length)}`;
  if (message.includes(displayName)) return message;
  return `${displayName}: ${message}`;
}
