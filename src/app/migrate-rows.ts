import { basename, extname } from "node:path";
import type { ChunkRow, DocumentRow } from "../core/document-store.js";
import { hashContent, makeChunkId, makeDocId } from "../core/ids.js";
import { chunkText } from "../pipeline/chunk-text.js";
import type { LegacyKeyRow, LegacyRow } from "../storage/legacy-table.js";

/** Why a legacy row was not migrated (the keys of the report's `skipped`). */
export type SkipReason =
  | "no_user_id"
  | "invalid_user_id"
  | "no_document_id"
  | "outside_root"
  | "empty_text"
  | "duplicate_chunk_id"
  | "wrong_vector_width"
  | "unparseable_metadata"
  | "embedding_rejected";

/** Skipped rows by reason: how many, and up to five example row ids. */
export type SkippedRows = Partial<Record<SkipReason, { count: number; examples: string[] }>>;

/** Most example row ids reported per reason. */
const MAX_EXAMPLES = 5;

/** Records that `row` was skipped for `reason`. */
export function skip(skipped: SkippedRows, reason: SkipReason, row: LegacyKeyRow): void {
  const entry = skipped[reason] ?? { count: 0, examples: [] };
  skipped[reason] = entry;
  entry.count++;
  if (entry.examples.length < MAX_EXAMPLES) entry.examples.push(rowLabel(row));
}

/** How a report names a row: its id column, else LanceDB's row id at the pinned version. */
export function rowLabel(row: LegacyKeyRow): string {
  return row.id ?? `_rowid:${row.rowId}`;
}

/** One document of the legacy table: its user, its key in the target source, and its rows. */
export interface LegacyDocument {
  userId: string;
  /** Key in the target source (a `local_filesystem` key — an absolute path — with `--root`). */
  key: string;
  rows: LegacyKeyRow[];
}

/** A legacy document's rows that passed every check, as chunks still without vectors. */
export interface BuiltDocument {
  doc: DocumentRow;
  chunks: ChunkRow[];
  /** Legacy vectors by chunk ordinal (only when kept); a chunk without one is embedded. */
  legacyVectors: Map<number, Float32Array>;
  /** SHA-256 of the document's texts and metadata (its content hash unless a file under `--root` gives one). */
  legacyHash: string;
  /** Newest timestamp of its rows (ISO), when the table has one. */
  newest: string | null;
  /** Rows that became chunks. */
  rowsUsed: number;
}

/** Settings of {@link buildDocument}. */
export interface BuildSettings {
  sourceName: string;
  sourceType: string;
  /** Vectors of this width are kept (undefined: legacy vectors are not kept). */
  keepWidth: number | undefined;
  chunkSize: number;
  chunkOverlap: number;
  ingestedAt: string;
}

const MIME: Record<string, string> = {
  ".md": "text/markdown",
  ".markdown": "text/markdown",
  ".txt": "text/plain",
  ".html": "text/html",
  ".htm": "text/html",
  ".pdf": "application/pdf",
  ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  ".json": "application/json",
  ".csv": "text/csv",
};

/**
 * Checks the rows of one legacy document and turns those that pass into a document row and chunk rows under
 * stable ids (`makeDocId(user, source, key)`, chunk ordinals 0…n-1 in legacy order). Rows are ordered by their
 * chunk index (then row id); each failing row is recorded in `skipped`: empty text, a repeated chunk index or
 * id, unparseable metadata, and — when vectors are kept — a vector of another width or with a non-finite
 * value. A document made of one row without a kept vector is split by the chunker when its text is longer
 * than a chunk. Returns undefined when no row passed.
 */
export function buildDocument(
  legacy: LegacyDocument,
  rows: readonly LegacyRow[],
  settings: BuildSettings,
  skipped: SkippedRows,
): BuiltDocument | undefined {
  const ordered = [...rows].sort(
    (a, b) =>
      (a.ordinal ?? Number.POSITIVE_INFINITY) - (b.ordinal ?? Number.POSITIVE_INFINITY) ||
      (a.rowId < b.rowId ? -1 : a.rowId > b.rowId ? 1 : 0),
  );
  const seenOrdinals = new Set<number>();
  const seenIds = new Set<string>();
  const kept: Array<{ row: LegacyRow; metadata: Record<string, unknown> }> = [];
  for (const row of ordered) {
    if (row.text === null || row.text.trim() === "") {
      skip(skipped, "empty_text", row);
      continue;
    }
    if ((row.ordinal !== null && seenOrdinals.has(row.ordinal)) || (row.id !== null && seenIds.has(row.id))) {
      skip(skipped, "duplicate_chunk_id", row);
      continue;
    }
    const metadata = parseLegacyMetadata(row.metadata);
    if (metadata === undefined) {
      skip(skipped, "unparseable_metadata", row);
      continue;
    }
    if (settings.keepWidth !== undefined && row.vector !== null) {
      if (row.vector.length !== settings.keepWidth || !row.vector.every(Number.isFinite)) {
        skip(skipped, "wrong_vector_width", row);
        continue;
      }
    }
    if (row.ordinal !== null) seenOrdinals.add(row.ordinal);
    if (row.id !== null) seenIds.add(row.id);
    kept.push({ row, metadata });
  }
  const [first] = kept;
  if (!first) return undefined;
  const { userId, key } = legacy;
  const docId = makeDocId(userId, settings.sourceName, key);
  const metadata = first.metadata;
  const metadataJson = JSON.stringify(metadata);
  const title = first.row.title ?? basename(key);
  const legacyVectors = new Map<number, Float32Array>();
  let pieces: Array<{ text: string; start: number; end: number }>;
  const single = kept.length === 1 && (settings.keepWidth === undefined || first.row.vector === null);
  if (single && first.row.text && first.row.text.length > settings.chunkSize) {
    pieces = chunkText(first.row.text, { size: settings.chunkSize, overlap: settings.chunkOverlap });
  } else {
    let pos = 0;
    pieces = kept.map(({ row }, i) => {
      const text = row.text as string;
      const piece = { text, start: pos, end: pos + text.length };
      pos = piece.end + 1;
      if (settings.keepWidth !== undefined && row.vector !== null) legacyVectors.set(i, row.vector);
      return piece;
    });
  }
  const texts = pieces.map((p) => p.text);
  const legacyHash = hashContent(JSON.stringify({ texts, metadata }));
  const newest = kept.reduce<string | null>(
    (m, { row }) => (row.timestamp !== null && (m === null || row.timestamp > m) ? row.timestamp : m),
    null,
  );
  const doc: DocumentRow = {
    doc_id: docId,
    user_id: userId,
    source_type: settings.sourceType,
    source_id: settings.sourceName,
    item_key: key,
    title,
    mime_type: MIME[extname(key).toLowerCase()] ?? "text/plain",
    size_bytes: texts.reduce((n, t) => n + Buffer.byteLength(t), 0),
    content_hash: legacyHash,
    chunk_count: pieces.length,
    modified_at: newest ?? settings.ingestedAt,
    ingested_at: settings.ingestedAt,
    metadata: metadataJson,
    url: "",
  };
  const chunks = pieces.map(
    (p, ordinal): ChunkRow => ({
      chunk_id: makeChunkId(docId, ordinal),
      doc_id: docId,
      user_id: userId,
      ordinal,
      text: p.text,
      text_hash: hashContent(p.text),
      start: p.start,
      end: p.end,
      vector: new Float32Array(0),
      title,
      source_id: settings.sourceName,
      item_key: key,
      url: "",
      metadata: metadataJson,
    }),
  );
  return { doc, chunks, legacyVectors, legacyHash, newest, rowsUsed: kept.length };
}

/** Legacy metadata as an object: a JSON object string, a struct, or nothing (`{}`); undefined when unparseable. */
export function parseLegacyMetadata(value: unknown): Record<string, unknown> | undefined {
  if (value === null || value === undefined) return {};
  if (typeof value === "string") {
    if (value.trim() === "") return {};
    try {
      const parsed: unknown = JSON.parse(value);
      if (parsed === null) return {};
      return typeof parsed === "object" && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  }
  return typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
