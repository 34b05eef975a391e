import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** What a look at one table's directory shows, without loading LanceDB. */
export interface TableProbe {
  /** Latest committed version, from the manifest file names. */
  version: number;
  /** Inode of the table directory: a copy or a re-created table has another. */
  ino: number;
}

/** Both tables, or `missing` when either directory (or its `_versions`) is absent. */
export type StoreProbe = { docs: TableProbe; chunks: TableProbe } | "missing";

const U64_MAX = 18446744073709551615n;
const MANIFEST = /^(\d+)\.manifest$/;

/**
 * Reads the latest version and the directory identity of both tables of a local LanceDB store from the file
 * system alone (a directory listing of each `_versions`), so that a run with nothing to do can tell that the
 * store is still the one the journal knows without loading LanceDB. Returns undefined for object-store URIs
 * (the caller then opens the store). Manifests are named `N.manifest` (V1) or `(2^64-1-N).manifest`, zero
 * padded to 20 digits (V2).
 */
export function probeStore(uri: string, documentsTable: string, chunksTable: string): StoreProbe | undefined {
  if (uri.includes("://")) return undefined;
  const docs = probeTable(join(uri, `${documentsTable}.lance`));
  const chunks = probeTable(join(uri, `${chunksTable}.lance`));
  return docs && chunks ? { docs, chunks } : "missing";
}

function probeTable(dir: string): TableProbe | undefined {
  let names: string[];
  let ino: number;
  try {
    ino = statSync(dir).ino;
    names = readdirSync(join(dir, "_versions"));
  } catch {
    return undefined;
  }
  let version = 0;
  for (const name of names) {
    const m = MANIFEST.exec(name);
    if (!m) continue;
    const n = BigInt(m[1] as string);
    const v = m[1]?.length === 20 && n > 1n << 63n ? U64_MAX - n : n;
    if (v > BigInt(version)) version = Number(v);
  }
  return version > 0 ? { version, ino } : undefined;
}
