import { SyncError } from "../errors/sync-error.js";
import { loadLanceDb } from "./load-lancedb.js";

/** A table as a backup sees it: its version and how many rows that version holds. */
export interface TableVersionRows {
  name: string;
  version: number;
  rows: number;
}

/**
 * Rows of `table` at `version` (read-only: a `checkout`, nothing written). The caller makes sure the version
 * cannot be cleaned up meanwhile (a backup holds the clean-up fence). Throws `SYNC_E_STORAGE` naming the
 * table and version when LanceDB cannot read it.
 */
export async function tableRowsAt(uri: string, table: string, version: number): Promise<TableVersionRows> {
  return withTable(
    uri,
    table,
    async (t) => {
      await t.checkout(version);
      return { name: table, version, rows: await t.countRows() };
    },
    `version ${version}`,
  );
}

/** The latest version of `table` at `uri` and its rows (read-only), e.g. of a table just restored. */
export async function latestTableRows(uri: string, table: string): Promise<TableVersionRows> {
  return withTable(
    uri,
    table,
    async (t) => ({ name: table, version: await t.version(), rows: await t.countRows() }),
    "latest version",
  );
}

async function withTable<T>(
  uri: string,
  table: string,
  fn: (t: import("@lancedb/lancedb").Table) => Promise<T>,
  what: string,
): Promise<T> {
  const lancedb = await loadLanceDb();
  let conn: import("@lancedb/lancedb").Connection | undefined;
  let t: import("@lancedb/lancedb").Table | undefined;
  try {
    conn = await lancedb.connect(uri);
    t = await conn.openTable(table);
    return await fn(t);
  } catch (err) {
    throw new SyncError(
      "SYNC_E_STORAGE",
      `lancedb: table "${table}" at ${uri}: cannot read its ${what}: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    t?.close();
    conn?.close();
  }
}
