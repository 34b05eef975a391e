import type { ContentProcessor } from "../core/content-processor.js";
import { chunkText } from "./chunk-text.js";

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
