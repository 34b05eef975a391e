import type { Schema } from "apache-arrow";
import { arrow } from "./arrow.js";
import { DIMENSIONS_KEY, EMBEDDER_ID_KEY } from "./table-keys.js";

export { DIMENSIONS_KEY, EMBEDDER_ID_KEY, STORE_ID_KEY } from "./table-keys.js";

const { Field, FixedSizeList, Float32, Float64, Int32, Utf8 } = arrow;

/**
 * Schema-metadata key holding the table layout version of lancedb-sync (a table upgraded in place records it in
 * the `doc_id` field's metadata instead, which LanceDB can update; see {@link layoutOf}).
 */
export const LAYOUT_KEY = "lancedb_sync.layout";
/**
 * Current table layout version. 2 added `url` to both tables and `metadata` to chunks (a copy of the
 * document's, so that a search hit is one query).
 */
export const LAYOUT_VERSION = "2";

/**
 * Layout version of a table: the `doc_id` field's record (written by an upgrade), else the schema's (written at
 * creation), else 1 (tables made before layouts were recorded).
 */
export function layoutOf(schema: Schema): number {
  const recorded =
    schema.fields.find((f) => f.name === "doc_id")?.metadata.get(LAYOUT_KEY) ??
    schema.metadata.get(LAYOUT_KEY);
  const n = Number(recorded ?? "1");
  return Number.isInteger(n) && n > 0 ? n : Number.POSITIVE_INFINITY;
}

const utf8 = (name: string) => new Field(name, new Utf8(), false);

/** Arrow schema of `processed_documents`. */
export function documentsSchema(): Schema {
  return new arrow.Schema(
    [
      utf8("doc_id"),
      utf8("user_id"),
      utf8("source_type"),
      utf8("source_id"),
      utf8("item_key"),
      utf8("title"),
      utf8("mime_type"),
      new Field("size_bytes", new Float64(), false),
      utf8("content_hash"),
      new Field("chunk_count", new Int32(), false),
      utf8("modified_at"),
      utf8("ingested_at"),
      utf8("metadata"),
      utf8("url"),
    ],
    new Map([[LAYOUT_KEY, LAYOUT_VERSION]]),
  );
}

/** Arrow schema of `document_chunks` for vectors of `dimensions` floats made by `embedderId`. */
export function chunksSchema(embedderId: string, dimensions: number): Schema {
  return new arrow.Schema(
    [
      utf8("chunk_id"),
      utf8("doc_id"),
      utf8("user_id"),
      new Field("ordinal", new Int32(), false),
      utf8("text"),
      utf8("text_hash"),
      new Field("start", new Int32(), false),
      new Field("end", new Int32(), false),
      new Field("vector", new FixedSizeList(dimensions, new Field("item", new Float32(), true)), false),
      utf8("title"),
      utf8("source_id"),
      utf8("item_key"),
      utf8("url"),
      utf8("metadata"),
    ],
    new Map([
      [EMBEDDER_ID_KEY, embedderId],
      [DIMENSIONS_KEY, String(dimensions)],
      [LAYOUT_KEY, LAYOUT_VERSION],
    ]),
  );
}
