import { closeSync, fstatSync, openSync, readdirSync, readSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SyncError } from "../errors/sync-error.js";

// Lance dataset files read without LanceDB (cheap, and safe where LanceDB 0.31 would panic).

/** Versions of a local table from its `_versions` manifest names, newest first (V1 and V2 names). */
export function manifestVersions(uri: string, table: string): Array<{ version: number; file: string }> {
  if (uri.includes("://")) return [];
  let names: string[];
  try {
    names = readdirSync(join(uri, `${table}.lance`, "_versions"));
  } catch {
    return [];
  }
  const out: Array<{ version: number; file: string }> = [];
  for (const name of names) {
    const m = /^(\d+)\.manifest$/.exec(name);
    if (!m) continue;
    const n = BigInt(m[1] as string);
    const v = m[1]?.length === 20 && n > 1n << 63n ? U64_MAX - n : n;
    out.push({ version: Number(v), file: join(uri, `${table}.lance`, "_versions", name) });
  }
  return out.sort((a, b) => b.version - a.version);
}

const U64_MAX = 18446744073709551615n;

/**
 * Checks the framing of a Lance manifest file without LanceDB: the `LANC` footer, and that the lengths it
 * stores lie inside the file. LanceDB 0.31 *panics* on a manifest whose lengths point past its end (a Rust
 * backtrace on stderr, "Panic in async function"), so a local table's newest manifest is checked before it is
 * opened. Returns what is wrong, or undefined.
 */
export function manifestProblem(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const size = fstatSync(fd).size;
    if (size < 20) return `${size} bytes, too short for a manifest`;
    const footer = Buffer.alloc(16);
    readSync(fd, footer, 0, 16, size - 16);
    if (footer.toString("latin1", 12, 16) !== "LANC") return "no LANC footer";
    const pos = footer.readBigUInt64LE(0);
    if (pos + 4n > BigInt(size - 16)) return `manifest offset ${pos} lies outside the file`;
    const word = Buffer.alloc(4);
    for (const at of [0, Number(pos)]) {
      readSync(fd, word, 0, 4, at);
      if (at + 4 + word.readUInt32LE(0) > size) return `a section length at offset ${at} runs past the end`;
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Throws `SYNC_E_STORE_DAMAGED` when the newest manifest of a local table is malformed (see {@link manifestProblem}). */
export function checkNewestManifest(uri: string, table: string): void {
  const [newest] = manifestVersions(uri, table);
  if (newest) checkManifestFile(newest.file, table, newest.version);
}

/** Throws `SYNC_E_STORE_DAMAGED` naming `file` when that manifest is malformed (see {@link manifestProblem}). */
export function checkManifestFile(file: string, table = tableOf(file), version?: number): void {
  const problem = manifestProblem(file);
  if (problem) {
    throw new SyncError(
      "SYNC_E_STORE_DAMAGED",
      `lancedb: table "${table}" is damaged (file ${file}${version === undefined ? "" : `, version ${version}`}): ` +
        `${problem}; run \`lancedb-sync doctor\` to check every table and \`lancedb-sync doctor --repair\` to ` +
        "go back to its newest readable version",
    );
  }
}

/** `<uri>/<table>.lance/_versions/<file>` → `<table>`. */
function tableOf(manifest: string): string {
  return basename(dirname(dirname(manifest))).replace(/\.lance$/, "");
}
