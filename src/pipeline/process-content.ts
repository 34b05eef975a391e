import { constants } from "node:buffer";
import type { ContentProcessor } from "../core/content-processor.js";
import { SyncError } from "../errors/sync-error.js";
import { chunkText } from "./chunk-text.js";

/** Longest string V8 can make (`0x1fffffe8` UTF-16 units on 64-bit Node 20). */
const MAX_STRING_LENGTH = constants.MAX_STRING_LENGTH;

/** Options of {@link createContentProcessor}. */
export interface ContentProcessorOptions {
  maxFileBytes: number;
  chunkSize: number;
  chunkOverlap: number;
}

/**
 * The default {@link ContentProcessor}: detect the type, extract text, chunk it with offsets. The title is
 * the one found in the content, else the file name.
 */
export function createContentProcessor(options: ContentProcessorOptions): ContentProcessor {
  let extractor: Promise<typeof import("./extract/extract-document.js")> | undefined;
  return async (item) => {
    // A text this long cannot be held as one JavaScript string (UTF-8 never decodes to more UTF-16 units than
    // it has bytes, so anything smaller always fits). Checked first: decoding it would take minutes to fail.
    if (item.bytes.length > MAX_STRING_LENGTH) {
      throw new SyncError(
        "SYNC_E_FILE_TOO_LARGE",
        `${item.fileName}: ${Math.round(item.bytes.length / 2 ** 20)} MiB is more text than JavaScript can hold in one ` +
          `string (${Math.floor(MAX_STRING_LENGTH / 2 ** 20)} MiB); split the file`,
      );
    }
    // Loaded on first use, so a run where nothing changed does not load the parsers.
    extractor ??= import("./extract/extract-document.js");
    const { extractDocument } = await extractor;
    const doc = await extractDocument(item.bytes, item.fileName, { maxBytes: options.maxFileBytes });
    const chunks = chunkText(doc.text, { size: options.chunkSize, overlap: options.chunkOverlap });
    const metadata: Record<string, unknown> = { file_name: item.fileName, text_length: doc.text.length };
    if (doc.encoding) metadata.encoding = doc.encoding;
    return { title: doc.title || item.fileName, mimeType: doc.mimeType, chunks, metadata };
  };
}
