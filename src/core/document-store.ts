import type { Embedder } from "./embedder.js";

/** One row of `processed_documents`. */
export interface DocumentRow {
  doc_id: string;
  user_id: string;
  source_type: string;
  source_id: string;
  item_key: string;
  title: string;
  mime_type: string;
  size_bytes: number;
  content_hash: string;
  chunk_count: number;
  modified_at: string;
  ingested_at: string;
  /** JSON object as a string. */
  metadata: string;
}

/** One row of `document_chunks`. */
export interface ChunkRow {
  chunk_id: string;
  doc_id: string;
  user_id: string;
  ordinal: number;
  text: string;
  text_hash: string;
  start: number;
  end: number;
  vector: Float32Array;
  title: string;
  source_id: string;
  item_key: string;
}

/** One write batch: applied as a handful of commits whatever its size. */
export interface ApplyBatch {
  /** Documents to write with all of their chunks (replacing any chunks they had). */
  upserts: ReadonlyArray<{ doc: DocumentRow; chunks: readonly ChunkRow[] }>;
  /** Ids among `upserts` whose rows may already exist (known before, or left by an interrupted run). */
  replaceDocIds: readonly string[];
  /** Documents to remove with their chunks. */
  deleteDocIds: readonly string[];
}

/** Table figures for status and metrics. */
export interface TableHealth {
  name: string;
  rows: number;
  version: number;
  versions: number;
  fragments: number;
  smallFragments: number;
}

/**
 * The vector store (LanceDB in production). Every write is keyed by stable ids, so replaying a batch after
 * a crash leaves the same rows: chunks are replaced before their document row, and deleted before it.
 * Not in the contract: transactions across the two tables (ordering plus the journal's `pending` state
 * make a crash at any point recoverable instead).
 */
export interface DocumentStore {
  /** Creates the tables for `embedder` or checks that existing ones were built with it. */
  open(embedder: Pick<Embedder, "id" | "dimensions">): Promise<void>;
  /**
   * Vectors already stored for these chunk text hashes (the embedding cache). With `userId`, only that
   * user's chunks are consulted, so a cache hit never tells one user what another stores.
   */
  lookupVectors(textHashes: readonly string[], userId?: string): Promise<Map<string, Float32Array>>;
  applyBatch(batch: ApplyBatch): Promise<void>;
  /** True when both tables have no rows: a first run then skips cache lookups and replace-deletes. */
  isEmpty(): Promise<boolean>;
  /** Document rows of one source of one user (to rebuild a lost journal, and to verify it against the store). */
  listDocuments(userId: string, sourceId: string): Promise<DocumentRow[]>;
  /** Number of chunk rows per document of one source of one user (documents without chunks are absent). */
  chunkCounts(userId: string, sourceId: string): Promise<Map<string, number>>;
  /**
   * Keeps lookup structures (scalar indices) current after a run that wrote; optional, cheap when nothing
   * needs doing. Failures here must not fail the run: they only cost speed.
   */
  maintain?(): Promise<void>;
  health(): Promise<TableHealth[]>;
  close(): Promise<void>;
}
