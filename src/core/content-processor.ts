import type { FetchedItem } from "./source.js";

/** A chunk of extracted text with its character offsets into that text. */
export interface ContentChunk {
  ordinal: number;
  text: string;
  start: number;
  end: number;
}

/** The result of extracting and chunking one item. */
export interface PreparedContent {
  title: string;
  mimeType: string;
  chunks: ContentChunk[];
  metadata: Record<string, unknown>;
  /** Problems that did not stop the item (e.g. invalid bytes replaced while decoding); reported by the run. */
  warnings?: string[];
}

/**
 * Extracts and chunks one fetched item. Throws a `SyncError` naming the item and the cause when the item
 * cannot be processed (corrupt, encrypted, binary, too large); the engine records it as a failed item.
 */
export type ContentProcessor = (item: FetchedItem, signal?: AbortSignal) => Promise<PreparedContent>;
