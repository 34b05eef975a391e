import { constants } from "node:buffer";
import type { ContentProcessor } from "../core/content-processor.js";
import { SyncError } from "../errors/sync-error.js";
import { chunkText } from "./chunk-text.js";
import type { ParsedDocument, ParseJob, ParsePool } from "./parse/parse-pool.js";

/** Longest string V8 can make (`0x1fffffe8` UTF-16 units on 64-bit Node 20). */
const MAX_STRING_LENGTH = constants.MAX_STRING_LENGTH;

/**
 * Plain text and Markdown up to this size are decoded and chunked on the calling thread (about 4 ms per MB:
 * cheaper than a round trip to a worker); larger ones in a parser worker, so a big file never holds the
 * event loop.
 */
export const INLINE_TEXT_MAX_BYTES = 1024 * 1024;

/** Options of {@link createContentProcessor}. */
export interface ContentProcessorOptions {
  maxFileBytes: number;
  chunkSize: number;
  chunkOverlap: number;
  /** Largest total uncompressed size of a DOCX's zip parts in bytes (`MAX_EXTRACTED_MB`); default 256 MB. */
  maxExtractedBytes?: number;
  /** Time limit of parsing one HTML, PDF or DOCX item in ms (`PARSE_TIMEOUT_SECONDS`); default 120 s. */
  parseTimeoutMs?: number;
  /** Heap limit of a parser worker in MB (`PARSE_MEMORY_MB`); default 1024. */
  parseMemoryMb?: number;
  /** Parser workers at most (`MAX_CONCURRENT_PROCESSING`); default 5. */
  parseWorkers?: number;
}

/** A {@link ContentProcessor} that owns parser worker threads; `close` stops them. */
export type ClosableContentProcessor = ContentProcessor & {
  /** Stops the parser workers (idle ones never keep the process alive, so calling this is optional). */
  close(): Promise<void>;
};

const MB = 1024 * 1024;

/**
 * The default {@link ContentProcessor}: detect the type, extract text, chunk it with offsets. The title is
 * the one found in the content, else the file name. Plain text and Markdown up to
 * {@link INLINE_TEXT_MAX_BYTES} are decoded and chunked on the calling thread (fast, linear); larger ones,
 * and all HTML, PDF and DOCX, are parsed and chunked in worker threads ({@link ParsePool}) under
 * `parseTimeoutMs` and `parseMemoryMb`, and a DOCX's zip directory is checked against `maxExtractedBytes`
 * before it is sent there.
 */
export function createContentProcessor(options: ContentProcessorOptions): ClosableContentProcessor {
  let extractor: Promise<typeof import("./extract/extract-document.js")> | undefined;
  let pool: Promise<ParsePool> | undefined;
  const maxExtractedBytes = options.maxExtractedBytes ?? 256 * MB;
  const getPool = (): Promise<ParsePool> => {
    pool ??= import("./parse/parse-pool.js").then(
      ({ ParsePool }) =>
        new ParsePool({
          size: options.parseWorkers ?? 5,
          memoryMb: options.parseMemoryMb ?? 1024,
          timeoutMs: options.parseTimeoutMs ?? 120_000,
          maxExtractedBytes,
        }),
    );
    return pool;
  };
  const chunking = { size: options.chunkSize, overlap: options.chunkOverlap };
  const processor: ContentProcessor = async (item, signal) => {
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
    const { checkFileSize, extractDetected } = await extractor;
    const { detectType } = await import("./extract/detect-type.js");
    checkFileSize(item.bytes, item.fileName, options.maxFileBytes);
    const type = await detectType(item.bytes, item.fileName);
    let doc: ParsedDocument;
    if ((type.kind === "txt" || type.kind === "md") && item.bytes.length <= INLINE_TEXT_MAX_BYTES) {
      doc = await extractDetected(item.bytes, item.fileName, type, { maxExtractedBytes });
    } else {
      if (type.kind === "docx") {
        // Cheap (the zip directory only), and a bomb then never costs a worker.
        const { checkZipDirectory } = await import("./extract/zip-guard.js");
        checkZipDirectory(item.bytes, item.fileName, { maxExtractedBytes });
      }
      const p = await getPool();
      const job: ParseJob = { bytes: item.bytes, fileName: item.fileName, type, chunking };
      if (signal !== undefined) job.signal = signal;
      doc = await p.parse(job);
    }
    const chunks = doc.chunks ?? chunkText(doc.text, chunking);
    const metadata: Record<string, unknown> = { file_name: item.fileName, text_length: doc.text.length };
    if (doc.encoding) metadata.encoding = doc.encoding;
    const prepared = { title: doc.title || item.fileName, mimeType: doc.mimeType, chunks, metadata };
    return doc.warnings === undefined ? prepared : { ...prepared, warnings: doc.warnings };
  };
  return Object.assign(processor, {
    async close() {
      const p = pool;
      pool = undefined;
      if (p !== undefined) await (await p).close();
    },
  });
}
