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
  /** Where a person can open the item (a Notion page URL); `''` when the source knows none. */
  url: string;
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
  /** The document's `url`, copied onto each chunk so that a search hit needs no second query. */
  url: string;
  /** The document's `metadata` JSON, copied onto each chunk for the same reason. */
  metadata: string;
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

/** Which store this is, and how far its tables have come (see {@link DocumentStore.identity}). */
export interface StoreIdentity {
  /** A random id recorded in the store itself; `""` when asked read-only before one was recorded. */
  storeId: string;
  docsVersion: number;
  chunksVersion: number;
}

/** Table figures for status and metrics. */
export interface TableHealth {
  name: string;
  rows: number;
  version: number;
  versions: number;
  fragments: number;
  smallFragments: number;
  /**
   * The chunks table has reached the store's vector index threshold but has no vector index yet: `compact`
   * builds it (the service's compaction runs for it). Absent: not known, or not applicable.
   */
  needsVectorIndex?: boolean;
}

/** How a store answers a {@link ChunkQuery}: by vector, by its full-text index, or both fused by rank. */
export type ChunkSearchMode = "vector" | "fts" | "hybrid";

/**
 * Narrows a search; every given part is ANDed with the others and with the user scope. An empty list matches
 * nothing (as `IN ()` would); an absent one does not narrow.
 */
export interface ChunkFilters {
  /** Only chunks of these sources (source names). */
  sourceIds?: readonly string[];
  /** Only chunks of these documents. */
  docIds?: readonly string[];
  /**
   * Only chunks of documents whose metadata has each key at the top level with exactly this value. A string
   * matches a stored string equal to it, or a stored number or boolean whose JSON text it is (`"2024"` matches
   * `2024`, as a value typed on a command line must); a number or boolean matches only the same value of that
   * type. Nested objects and arrays never match. No patterns, no case folding.
   */
  metadata?: Readonly<Record<string, string | number | boolean>>;
}

/** One search over one user's chunks. */
export interface ChunkQuery {
  /** Results are always limited to this user's chunks (validated, then escaped). */
  userId: string;
  /** `fts` and `hybrid` need the full-text index ({@link DocumentStore.fullTextReady}); `vector` and `hybrid` need `vector`. */
  mode: ChunkSearchMode;
  /** The query text (full-text and hybrid modes). */
  text: string;
  /** The query's vector (vector and hybrid modes). */
  vector?: Float32Array;
  /** Id of the embedder that made `vector`: a store built with another refuses with `SYNC_E_EMBEDDER_MISMATCH`. */
  embedderId?: string;
  /** Most hits returned. */
  limit: number;
  filters?: ChunkFilters;
}

/** One chunk found by {@link DocumentStore.search}. */
export interface ChunkHit {
  doc_id: string;
  chunk_id: string;
  item_key: string;
  source_id: string;
  title: string;
  text: string;
  start: number;
  end: number;
  /** Higher is better: 1 − cosine distance (vector), BM25 (fts), RRF relevance (a store's hybrid; `searchChunks` fuses by score). */
  score: number;
  /** The document's metadata (an empty object when it has none). */
  metadata: Record<string, unknown>;
  /** Where a person can open the document, or null when the source knows no URL. */
  url: string | null;
}

/** Options of {@link DocumentStore.listUserDocuments}. */
export interface ListDocumentsOptions {
  /** Only this source's documents. */
  sourceId?: string;
  /** At most this many rows (default: all). */
  limit?: number;
  /** Rows to skip first, in the stable order (default 0). */
  offset?: number;
}

/**
 * The vector store (LanceDB in production). Every write is keyed by stable ids, so replaying a batch after
 * a crash leaves the same rows: chunks are replaced before their document row, and deleted before it.
 * Not in the contract: transactions across the two tables (ordering plus the journal's `pending` state
 * make a crash at any point recoverable instead).
 */
export interface DocumentStore {
  /**
   * Opens existing tables for reading without creating anything (status, `fts` search); false when they do
   * not exist. A store opened this way is not for writing.
   */
  openExisting(): Promise<boolean>;
  /**
   * The store's random id and the current version of each table. The id is recorded in the store on the
   * first call (a write) unless `readOnly`, which then reports `""`. A copy of the store carries the id;
   * re-created tables get a new one: the journal uses both to tell a store that was replaced or restored.
   */
  identity(readOnly?: boolean): Promise<StoreIdentity>;
  /**
   * Creates the tables for `embedder` or checks that existing ones were built with it
   * (`SYNC_E_EMBEDDER_MISMATCH` otherwise). `rebindEmpty`: tables of another embedder that hold no chunk are
   * re-bound to this one. `upgrade`: tables of an older layout get the new columns (a write; without it,
   * `SYNC_E_STORE_UPGRADE_NEEDED`).
   */
  open(
    embedder: Pick<Embedder, "id" | "dimensions">,
    options?: { rebindEmpty?: boolean; upgrade?: boolean },
  ): Promise<void>;
  /**
   * Vectors already stored for these chunk text hashes (the embedding cache). With `userId`, only that
   * user's chunks are consulted, so a cache hit never tells one user what another stores. `nearDocIds`: documents
   * whose chunks likely hold most of the hashes (the old rows of documents being replaced); a store may read
   * those rows first and look up only the rest across the table. The result is the same either way.
   */
  lookupVectors(
    textHashes: readonly string[],
    userId?: string,
    nearDocIds?: readonly string[],
  ): Promise<Map<string, Float32Array>>;
  /**
   * Of these chunk text hashes, those the store holds: exactly the keys {@link lookupVectors} would return with
   * the same arguments, without reading a vector (for a `recomputable` embedder).
   */
  storedTextHashes(
    textHashes: readonly string[],
    userId?: string,
    nearDocIds?: readonly string[],
  ): Promise<Set<string>>;
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
  /** Rows of documents and chunks, of one user only when `userId` is given. */
  countRows(userId?: string): Promise<{ documents: number; chunks: number }>;
  /** Embedder id recorded with the chunks table (undefined when none is). */
  embedderId(): Promise<string | undefined>;
  /**
   * Whether `fts` and `hybrid` queries can be answered (the full-text index exists). Read-only: nothing here or
   * in {@link search} builds an index or takes a lock; `maintain` and `compact` build it.
   */
  fullTextReady(): Promise<boolean>;
  /**
   * Best chunks of one user for `query`, best first, at most `query.limit`. Read-only. Fails with
   * `SYNC_E_INVALID_ID` for an invalid user id before querying, and `SYNC_E_INVALID_ARGUMENT` when the mode
   * lacks what it needs (a vector; the full-text index).
   */
  search(query: ChunkQuery): Promise<ChunkHit[]>;
  /** One document row of one user, or undefined. */
  getDocument(userId: string, docId: string): Promise<DocumentRow | undefined>;
  /** Document rows of one user, ordered by source id, then item key, then doc id (stable for paging). */
  listUserDocuments(userId: string, options?: ListDocumentsOptions): Promise<DocumentRow[]>;
  /** Deletes every row of one source of one user, chunks first, then documents; returns the rows removed. */
  removeSource(userId: string, sourceId: string): Promise<{ documents: number; chunks: number }>;
  /**
   * Compacts both tables, folds new rows into (or builds) the full-text index when there are chunk rows, and
   * removes versions older than `retentionHours` (0 also removes files no version references). A write that
   * may delete files: the caller holds the writer lock, so no other writer has uncommitted files meanwhile.
   * `skipCleanup`: compacts and re-indexes but deletes no file (a backup in progress still reads them).
   */
  compact(options: {
    retentionHours: number;
    skipCleanup?: boolean;
  }): Promise<{ before: TableHealth[]; after: TableHealth[] }>;
  /**
   * Drops both tables, returning the names of those that existed; works on a store that was never opened, or
   * whose tables cannot be read. Leaves the store closed. A write: call it under the writer lock.
   */
  drop(): Promise<string[]>;
  close(): Promise<void>;
}

/** The object a `metadata` column holds; undefined when it is not a JSON object (empty, malformed, an array). */
export function parseMetadata(json: unknown): Record<string, unknown> | undefined {
  if (typeof json !== "string") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}
