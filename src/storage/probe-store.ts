import { statSync } from "node:fs";
import { join } from "node:path";
import { manifestVersions } from "./lance-files.js";

/** What a look at one table's directory shows, without loading LanceDB. */
export interface TableProbe {
  /** Latest committed version, from the manifest file names. */
  version: number;
  /** Path of that version's manifest. */
  manifest: string;
  /** Inode of the table directory: a copy or a re-created table has another. */
  ino: number;
}

/** Both tables, or `missing` when either directory (or its `_versions`) is absent. */
export type StoreProbe = { docs: TableProbe; chunks: TableProbe } | "missing";

/**
 * Reads the latest version and the directory identity of both tables of a local LanceDB store from the file
 * system alone (a directory listing of each `_versions`), so that a run with nothing to do can tell that the
 * store is still the one the journal knows without loading LanceDB. Returns undefined for object-store URIs
 * (the caller then opens the store).
 */
export function probeStore(uri: string, documentsTable: string, chunksTable: string): StoreProbe | undefined {
  if (uri.includes("://")) return undefined;
  const docs = probeTable(uri, documentsTable);
  const chunks = probeTable(uri, chunksTable);
  return docs && chunks ? { docs, chunks } : "missing";
}

function probeTable(uri: string, table: string): TableProbe | undefined {
  let ino: number;
  try {
    ino = statSync(join(uri, `${table}.lance`)).ino;
  } catch {
    return undefined;
  }
  const [newest] = manifestVersions(uri, table);
  return newest && newest.version > 0 ? { version: newest.version, manifest: newest.file, ino } : undefined;
}
