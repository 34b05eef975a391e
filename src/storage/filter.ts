import { SyncError } from "../errors/sync-error.js";

/** Pattern every user id and source name must match: letters, digits, `.`, `_`, `@`, `-`; 1–128 chars. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/** Returns `value` when it is a valid user id / source name; throws `SYNC_E_INVALID_ID` naming `field`. */
export function validateId(field: string, value: string): string {
  if (typeof value !== "string" || !ID_PATTERN.test(value)) {
    throw new SyncError(
      "SYNC_E_INVALID_ID",
      `${field} ${JSON.stringify(value)} is not valid: use 1-128 letters, digits, ".", "_", "@" or "-"`,
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
