import type { ChunkRow, DocumentRow } from "./document-store.js";
import { hashContent, makeChunkId, makeDocId } from "./ids.js";
import type { ItemState } from "./journal.js";
import type { PreparedWrite } from "./prepare-item.js";
import type { Source } from "./source.js";

/** Rows of one write batch, their journal states, and the chunk texts that need vectors. */
export interface BatchRows {
  upserts: { doc: DocumentRow; chunks: ChunkRow[] }[];
  /** Documents whose existing rows (if any) must be replaced. */
  replaceDocIds: string[];
  states: ItemState[];
  /** Chunk text by text hash: what needs a vector. */
  texts: Map<string, string>;
}

const NO_VECTOR = new Float32Array(0);

/**
 * Turns prepared writes into document and chunk rows under stable ids. Vectors are left empty for the
 * caller to fill from the cache or the embedder. A write replaces existing rows when the journal knew the
 * item or `replaceAll` is set.
 */
export function buildRows(
  writes: readonly PreparedWrite[],
  ctx: { userId: string; source: Source; ingestedAt: string; replaceAll: boolean },
): BatchRows {
  const { userId, source, ingestedAt, replaceAll } = ctx;
  const out: BatchRows = { upserts: [], replaceDocIds: [], states: [], texts: new Map() };
  for (const w of writes) {
    const docId = makeDocId(userId, source.name, w.ref.key);
    if (w.prev || replaceAll) out.replaceDocIds.push(docId);
    const { title, mimeType, chunks, metadata } = w.content;
    const doc: DocumentRow = {
      doc_id: docId,
      user_id: userId,
      source_type: source.type,
      source_id: source.name,
      item_key: w.ref.key,
      title,
      mime_type: mimeType,
      size_bytes: w.size,
      content_hash: w.hash,
      chunk_count: chunks.length,
      modified_at: w.ref.modifiedAt ?? ingestedAt,
      ingested_at: ingestedAt,
      metadata: JSON.stringify({ ...metadata, ...w.item.metadata }),
      url: w.item.url ?? "",
    };
    const rows = chunks.map((c): ChunkRow => {
      const textHash = hashContent(c.text);
      out.texts.set(textHash, c.text);
      return {
        chunk_id: makeChunkId(docId, c.ordinal),
        doc_id: docId,
        user_id: userId,
        ordinal: c.ordinal,
        text: c.text,
        text_hash: textHash,
        start: c.start,
        end: c.end,
        vector: NO_VECTOR,
        title,
        source_id: source.name,
        item_key: w.ref.key,
        url: doc.url,
        metadata: doc.metadata,
      };
    });
    out.upserts.push({ doc, chunks: rows });
    out.states.push({
      key: w.ref.key,
      docId,
      fingerprint: w.fingerprint,
      contentHash: w.hash,
      status: "synced",
    });
  }
  return out;
}
