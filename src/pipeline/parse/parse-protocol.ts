import type { ChunkTextOptions, TextChunk } from "../chunk-text.js";
import type { DetectedType } from "../extract/detect-type.js";
import type { ExtractedDocument } from "../extract/extracted-document.js";

/** One item sent to a parser worker. `bytes` is transferred, not copied. */
export interface ParseRequest {
  id: number;
  bytes: Uint8Array;
  fileName: string;
  type: DetectedType;
  maxExtractedBytes: number;
  /** When set, the worker also chunks the text (so a large document is never chunked on the main thread). */
  chunking?: ChunkTextOptions;
}

/**
 * A parser worker's answer to the {@link ParseRequest} with the same `id`, or its first message, `ready`,
 * once its modules are loaded.
 */
export type ParseResponse =
  | { ready: true }
  | { id: number; ok: true; doc: ExtractedDocument; chunks?: TextChunk[] }
  | { id: number; ok: false; code: string; message: string };
