import type { ContentChunk, ContentProcessor, PreparedContent } from "../../src/core/content-processor.js";
import type { FetchedItem } from "../../src/core/source.js";
import { SyncError } from "../../src/errors/sync-error.js";

/** Splits `text` into consecutive chunks of `size` characters (the last may be shorter). */
export function fixedChunks(text: string, size: number): ContentChunk[] {
  const out: ContentChunk[] = [];
  for (let start = 0; start < text.length; start += size) {
    const end = Math.min(start + size, text.length);
    out.push({ ordinal: out.length, text: text.slice(start, end), start, end });
  }
  return out;
}

/**
 * A {@link ContentProcessor} that decodes UTF-8 and cuts fixed-size chunks. Content starting with `CORRUPT`
 * throws `SYNC_E_CORRUPT_FILE`; content starting with `OUTAGE` throws the retryable `SYNC_E_READ_FAILED`. Counts calls and remembers the processed file names.
 */
export class FixedChunkProcessor {
  calls = 0;
  fileNames: string[] = [];

  constructor(readonly size = 16) {}

  readonly process: ContentProcessor = async (item: FetchedItem): Promise<PreparedContent> => {
    this.calls++;
    this.fileNames.push(item.fileName);
    const text = new TextDecoder().decode(item.bytes);
    if (text.startsWith("CORRUPT")) {
      throw new SyncError("SYNC_E_CORRUPT_FILE", `${item.fileName}: corrupt content`);
    }
    if (text.startsWith("OUTAGE")) throw new SyncError("SYNC_E_READ_FAILED", `${item.fileName}: I/O error`);
    return {
      title: item.fileName,
      mimeType: "text/plain",
      chunks: fixedChunks(text, this.size),
      metadata: { length: text.length },
    };
  };

  resetCounters(): void {
    this.calls = 0;
    this.fileNames = [];
  }
}
