import { type ChunkFilters, parseMetadata } from "../core/document-store.js";
import { SyncError } from "../errors/sync-error.js";

/**
 * Pattern every source name and document id must match: letters, digits, `.`, `_`, `@`, `-`, `|`, `+`, `:`;
 * 1–128 chars. Every value is also escaped where it reaches a filter (`sqlString`), so the pattern is a second line.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@|+:-]{0,127}$/;

/**
 * Pattern every user id must match: the ids of identity providers as they come (`auth0|5f7c…`,
 * `google-oauth2|1234`, `ann+work@example.com`, UUIDs, `o'brien@example.com`, `"quoted"@example.com`): 1–256
 * characters, none of them a control character, `/`, `\` or whitespace other than an inner space, and not
 * starting with `-` (it would read as a command-line flag). Quotes are allowed: a user id reaches a filter only through `sqlString`, which
 * keeps any value one literal (proven against LanceDB's parser in test/integration/filter-lancedb.test.ts).
 */
export const USER_ID_PATTERN = /^(?![- ])(?:[^\s\p{Cc}/\\]| ){1,256}(?<! )$/u;

/**
 * Returns `value` when it is valid for `field` (a user id when `field` is `"user id"`: {@link USER_ID_PATTERN};
 * otherwise a source name or document id: {@link ID_PATTERN}); throws `SYNC_E_INVALID_ID` naming `field`.
 */
export function validateId(field: string, value: string): string {
  const user = field === "user id";
  if (typeof value !== "string" || !(user ? USER_ID_PATTERN : ID_PATTERN).test(value)) {
    throw new SyncError(
      "SYNC_E_INVALID_ID",
      user
        ? `${field} ${JSON.stringify(value)} is not valid: use 1-256 characters without control ` +
            'characters, "/", "\\", tabs or line breaks, not starting with "-" and not starting or ending with a space'
        : `${field} ${JSON.stringify(value)} is not valid: use 1-128 letters, digits, ".", "_", "@", "-", "|", "+" or ":"`,
    );
  }
  return value;
}

const COLUMN = /^[a-z_][a-z0-9_]*$/;

/**
 * A SQL string literal for a LanceDB filter: single quotes doubled, NUL rejected. Every user-supplied
 * value that reaches a `where` goes through this module, nowhere else.
 */
export function sqlString(value: string): string {
  if (value.includes("\0")) throw new SyncError("SYNC_E_INVALID_ARGUMENT", "filter value contains NUL");
  return `'${value.replaceAll("'", "''")}'`;
}

function column(name: string): string {
  if (!COLUMN.test(name))
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", `bad column name ${JSON.stringify(name)}`);
  return name;
}

/** `column = 'value'` with the value escaped. */
export function eq(col: string, value: string): string {
  return `${column(col)} = ${sqlString(value)}`;
}

/** `column IN ('a', 'b')` with every value escaped; `false` for an empty list. */
export function inList(col: string, values: readonly string[]): string {
  if (values.length === 0) return "false";
  return `${column(col)} IN (${values.map(sqlString).join(", ")})`;
}

/** The filter that scopes every query to one user; the id is validated, then escaped. */
export function userFilter(userId: string): string {
  return eq("user_id", validateId("user id", userId));
}

/** Joins filters with AND, each in parentheses. */
export function and(...filters: string[]): string {
  return filters.map((f) => `(${f})`).join(" AND ");
}

/**
 * The `processed_documents` filter of a search: the user, plus the `sourceIds` and `docIds` parts of `filters`
 * (metadata is matched in JS, see {@link metadataMatches}).
 */
export function documentFilter(userId: string, filters: ChunkFilters | undefined): string {
  const parts = [userFilter(userId)];
  if (filters?.sourceIds) parts.push(inList("source_id", filters.sourceIds));
  if (filters?.docIds) parts.push(inList("doc_id", filters.docIds));
  return and(...parts);
}

/**
 * The `document_chunks` filter of a search: {@link documentFilter}'s parts, and, when metadata filters were
 * resolved to the ids of the documents that match them, `doc_id IN (metadataDocIds)`.
 */
export function chunkFilter(
  userId: string,
  filters: ChunkFilters | undefined,
  metadataDocIds?: readonly string[],
): string {
  const base = documentFilter(userId, filters);
  return metadataDocIds === undefined ? base : and(base, inList("doc_id", metadataDocIds));
}

/**
 * Whether a document's `metadata` JSON has every key of `wanted` at its top level with exactly that value (see
 * `ChunkFilters.metadata`). Keys and values never reach SQL: metadata filters are resolved in JS, against
 * parsed JSON, to document ids that {@link chunkFilter} then escapes like any other id. A document whose
 * metadata does not parse matches no metadata filter.
 */
export function metadataMatches(
  json: string,
  wanted: Readonly<Record<string, string | number | boolean>>,
): boolean {
  const meta = parseMetadata(json);
  if (meta === undefined) return false;
  for (const [key, value] of Object.entries(wanted)) {
    if (!Object.hasOwn(meta, key)) return false;
    const stored = meta[key];
    if (stored === value) continue;
    const scalar = typeof stored === "number" || typeof stored === "boolean";
    if (typeof value === "string" && scalar && JSON.stringify(stored) === value) continue;
    return false;
  }
  return true;
}

/** True when `filters` has at least one metadata condition. */
export function hasMetadataFilter(filters: ChunkFilters | undefined): boolean {
  return filters?.metadata !== undefined && Object.keys(filters.metadata).length > 0;
}
