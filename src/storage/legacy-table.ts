import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Connection, Table } from "@lancedb/lancedb";
import type { Table as ArrowTable } from "apache-arrow";
import { SyncError } from "../errors/sync-error.js";
import { wrap } from "./lance-errors.js";
import { loadLanceDb } from "./load-lancedb.js";
// Not table-schemas.js: that loads apache-arrow, which every CLI start would then pay for.
import { EMBEDDER_ID_KEY, STORE_ID_KEY } from "./table-keys.js";

/** What a legacy column can stand for. */
export const LEGACY_FIELDS = [
  "text",
  "vector",
  "user",
  "doc",
  "ordinal",
  "metadata",
  "timestamp",
  "title",
  "id",
] as const;

/** One field of a migrated row (see {@link LEGACY_FIELDS}). */
export type LegacyField = (typeof LEGACY_FIELDS)[number];

/** Field → the legacy column that holds it (exact spelling as in the table). */
export type LegacyMapping = Partial<Record<LegacyField, string>>;

/** A column of the legacy table: its name and Arrow type as text. */
export interface LegacyColumn {
  name: string;
  type: string;
}

/**
 * Column names each field is detected under, in order of preference. Names are compared case-insensitively
 * and without `_`, spaces or other punctuation (`Chunk Index`, `chunk_index` and `chunkIndex` are one name).
 */
const CANDIDATES: Record<LegacyField, readonly string[]> = {
  text: ["text", "content", "chunk_text", "chunk", "page_content", "body"],
  vector: ["vector", "embedding", "embeddings"],
  user: ["user_id", "owner", "owner_id", "user"],
  doc: ["doc_id", "document_id", "filename", "file_name", "path", "file_path", "source"],
  ordinal: ["chunk_index", "chunk_idx", "ordinal", "chunk_number", "position"],
  metadata: ["metadata", "meta"],
  timestamp: ["updated_at", "modified_at", "last_modified", "created_at", "timestamp", "ingested_at"],
  title: ["title"],
  id: ["id", "chunk_id", "row_id", "uuid"],
};

function fold(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/**
 * The mapping of `columns`: `overrides` (column → field, from `--map`) first, then every other field by
 * {@link CANDIDATES}; a column stands for one field at most. Throws `SYNC_E_INVALID_ARGUMENT` for an unknown
 * field, and `SYNC_E_MIGRATION_MAPPING` when an override names no column, two columns fold to one detected
 * name (give `--map`), a text/id column is not a string or a vector column not a list, or no text column is
 * found.
 */
export function resolveMapping(
  columns: readonly LegacyColumn[],
  overrides: Readonly<Record<string, string>> = {},
): LegacyMapping {
  const mapping: LegacyMapping = {};
  const used = new Set<string>();
  const names = columns.map((c) => c.name).join(", ");
  for (const [column, fieldIn] of Object.entries(overrides)) {
    const field = fieldIn.toLowerCase() as LegacyField;
    if (!LEGACY_FIELDS.includes(field)) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `--map ${column}=${fieldIn}: unknown field "${fieldIn}" (known: ${LEGACY_FIELDS.join(", ")})`,
      );
    }
    const found =
      columns.find((c) => c.name === column) ??
      columns.filter((c) => c.name.toLowerCase() === column.toLowerCase()).at(0);
    if (!found) {
      throw new SyncError(
        "SYNC_E_MIGRATION_MAPPING",
        `--map ${column}=${fieldIn}: the table has no column "${column}" (its columns: ${names})`,
      );
    }
    mapping[field] = found.name;
    used.add(found.name);
  }
  for (const field of LEGACY_FIELDS) {
    if (mapping[field] !== undefined) continue;
    for (const candidate of CANDIDATES[field]) {
      const hits = columns.filter((c) => !used.has(c.name) && fold(c.name) === fold(candidate));
      if (hits.length > 1) {
        throw new SyncError(
          "SYNC_E_MIGRATION_MAPPING",
          `columns ${hits.map((h) => `"${h.name}"`).join(" and ")} could each be the ${field}: choose one with ` +
            `--map "${hits[0]?.name}=${field}"`,
        );
      }
      const [hit] = hits;
      if (hit) {
        mapping[field] = hit.name;
        used.add(hit.name);
        break;
      }
    }
  }
  if (mapping.text === undefined) {
    throw new SyncError(
      "SYNC_E_MIGRATION_MAPPING",
      `no text column found (looked for ${CANDIDATES.text.join(", ")}; its columns: ${names}): ` +
        'name it with --map "<column>=text"',
    );
  }
  const typeOf = (f: LegacyField) => columns.find((c) => c.name === mapping[f])?.type ?? "";
  if (!/utf8/i.test(typeOf("text"))) {
    throw new SyncError(
      "SYNC_E_MIGRATION_MAPPING",
      `text column "${mapping.text}" holds ${typeOf("text")}, not strings`,
    );
  }
  if (mapping.vector !== undefined && !/list/i.test(typeOf("vector"))) {
    throw new SyncError(
      "SYNC_E_MIGRATION_MAPPING",
      `vector column "${mapping.vector}" holds ${typeOf("vector")}, not a list of numbers`,
    );
  }
  return mapping;
}

/** The keys of one row: enough to group rows into documents without reading text or vectors. */
export interface LegacyKeyRow {
  /** LanceDB's row id at the pinned version (stable while the version is). */
  rowId: bigint;
  user: string | null;
  doc: string | null;
  ordinal: number | null;
  id: string | null;
}

/** One row with every mapped field. `metadata` is as stored: a JSON string, an object (struct), or null. */
export interface LegacyRow extends LegacyKeyRow {
  text: string | null;
  vector: Float32Array | null;
  metadata: unknown;
  /** ISO 8601, when a timestamp column is mapped and set. */
  timestamp: string | null;
  title: string | null;
}

/** A LanceDB identifier as a projection expression: backquoted, so any case and spaces work. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}

/** Whether two database URIs name the same place (local paths compared after resolving). */
export function sameDatabase(a: string, b: string): boolean {
  const norm = (u: string) => (u.includes("://") ? u.replace(/\/+$/, "") : resolve(u));
  return norm(a) === norm(b);
}

/**
 * A table of another application, read only, at one version: every read sees that version whatever is
 * committed meanwhile, so paging is stable and a migration can resume. Nothing here writes.
 */
export class LegacyTableReader {
  private constructor(
    private readonly conn: Connection,
    private readonly table: Table,
    /** The pinned version. */
    readonly version: number,
    readonly columns: readonly LegacyColumn[],
    /** True when the schema carries lancedb-sync's own keys (a table this system wrote). */
    readonly writtenByLanceDbSync: boolean,
  ) {}

  /**
   * Opens `name` in the database at `uri` at `version` (default: the newest). `SYNC_E_NOT_FOUND` when a local
   * `uri` does not exist (nothing is created), or the database has no such table (naming the tables it has) or
   * no such version.
   */
  static async open(uri: string, name: string, version?: number): Promise<LegacyTableReader> {
    // Connecting creates a missing local directory: a mistyped path must not leave one behind.
    if (!uri.includes("://") && !existsSync(uri)) {
      throw new SyncError("SYNC_E_NOT_FOUND", `there is no LanceDB database at ${uri}`);
    }
    const lancedb = await loadLanceDb();
    const conn = await wrap(`connect ${uri}`, () => lancedb.connect(uri));
    try {
      const names = await wrap("list tables", () => conn.tableNames());
      if (!names.includes(name)) {
        throw new SyncError(
          "SYNC_E_NOT_FOUND",
          `the database at ${uri} has no table "${name}" (its tables: ${names.join(", ") || "none"})`,
        );
      }
      const table = await wrap("open table", () => conn.openTable(name), name);
      if (version !== undefined) {
        try {
          await table.checkout(version);
        } catch (err) {
          table.close();
          throw new SyncError(
            "SYNC_E_NOT_FOUND",
            `table "${name}" at ${uri} has no version ${version} any more (cleaned up?): migrate it afresh`,
            { cause: err },
          );
        }
      } else {
        await table.checkout(await table.version());
      }
      const schema = await wrap("read schema", () => table.schema(), name);
      const columns = schema.fields.map((f) => ({ name: f.name, type: String(f.type) }));
      const meta = schema.metadata;
      const ours = meta.has(STORE_ID_KEY) || meta.has(EMBEDDER_ID_KEY);
      return new LegacyTableReader(conn, table, await table.version(), columns, ours);
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  /** Rows at the pinned version. */
  rowCount(): Promise<number> {
    return wrap("count rows", () => this.table.countRows(), this.table.name);
  }

  /**
   * The key columns of every row, `pageRows` at a time (offset and limit at the pinned version, so the pages
   * neither overlap nor skip). `user`, `doc`, `ordinal` and `id` are null when unmapped or unset.
   */
  async *scanKeys(mapping: LegacyMapping, pageRows = 20_000): AsyncGenerator<LegacyKeyRow[]> {
    const total = await this.rowCount();
    const select = projection(mapping, ["user", "doc", "ordinal", "id"]);
    for (let offset = 0; offset < total; offset += pageRows) {
      const page = await wrap(
        "read rows",
        () => this.table.query().select(select).withRowId().offset(offset).limit(pageRows).toArrow(),
        this.table.name,
      );
      yield toRows(page).map(keyRow);
    }
  }

  /** Every mapped field of the rows `rowIds` (in no particular order). */
  async take(rowIds: readonly bigint[], mapping: LegacyMapping): Promise<LegacyRow[]> {
    if (rowIds.length === 0) return [];
    const select = projection(mapping, LEGACY_FIELDS);
    const page = await wrap(
      "read rows",
      () => this.table.takeRowIds(rowIds).select(select).withRowId().toArrow(),
      this.table.name,
    );
    return toRows(page).map((r) => ({
      ...keyRow(r),
      text: r.text === null || r.text === undefined ? null : String(r.text),
      vector: toVector(r.vector),
      metadata: toPlain(r.metadata),
      timestamp: toIso(r.timestamp),
      title: r.title === null || r.title === undefined ? null : String(r.title),
    }));
  }

  close(): void {
    this.table.close();
    this.conn.close();
  }
}

/** `{ field: \`column\` }` of the mapped fields among `fields`; at least one column (LanceDB needs one). */
function projection(mapping: LegacyMapping, fields: readonly LegacyField[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    const column = mapping[f];
    if (column !== undefined) out[f] = quoteIdentifier(column);
  }
  if (Object.keys(out).length === 0 && mapping.text !== undefined) out.text = quoteIdentifier(mapping.text);
  return out;
}

function toRows(page: ArrowTable): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const names = page.schema.fields.map((f) => f.name);
  const cols = names.map((n) => page.getChild(n));
  for (let i = 0; i < page.numRows; i++) {
    const row: Record<string, unknown> = {};
    for (const [j, n] of names.entries()) row[n] = cols[j]?.get(i);
    out.push(row);
  }
  return out;
}

function keyRow(r: Record<string, unknown>): LegacyKeyRow {
  return {
    rowId: BigInt(r._rowid as bigint | number),
    user: scalarText(r.user),
    doc: scalarText(r.doc),
    ordinal: r.ordinal === null || r.ordinal === undefined ? null : Number(r.ordinal),
    id: scalarText(r.id),
  };
}

function scalarText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  return String(toPlain(v));
}

function toVector(v: unknown): Float32Array | null {
  if (v === null || v === undefined) return null;
  const arr = (v as { toArray?: () => ArrayLike<number> }).toArray?.() ?? (v as ArrayLike<number>);
  // A copy: the Arrow buffer is shared by the whole batch.
  return arr instanceof Float32Array ? arr.slice() : Float32Array.from(arr);
}

/** An Arrow value as plain JSON-able data (structs and maps become objects, lists arrays). */
function toPlain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number(v);
  if (typeof v !== "object") return v;
  if (v instanceof Date) return v.toISOString();
  const json = (v as { toJSON?: () => unknown }).toJSON;
  if (typeof json === "function") {
    const plain = json.call(v);
    if (plain !== v) return toPlain(plain);
  }
  if (Array.isArray(v)) return v.map(toPlain);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, Number);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = toPlain(x);
  return out;
}

function toIso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "number" || typeof v === "bigint") {
    const d = new Date(Number(v));
    return Number.isNaN(d.getTime()) ? null : d.toISOString();
  }
  const d = new Date(String(v));
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
