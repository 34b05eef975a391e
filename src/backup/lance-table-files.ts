import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { SyncError } from "../errors/sync-error.js";
import { manifestVersions } from "../storage/lance-files.js";

/** A file of a table directory as listed at the consistent point. */
export interface LocalTableFile {
  /** Path inside the table directory, `/`-separated. */
  path: string;
  size: number;
  mtimeMs: number;
}

/** A table directory listed at the consistent point: its latest version and its immutable files. */
export interface ListedTable {
  name: string;
  /** `<uri>/<name>.lance`. */
  dir: string;
  version: number;
  files: LocalTableFile[];
}

/**
 * Mutable or local-only entries of a Lance dataset that a backup leaves out: the latest-version hint (LanceDB
 * finds the latest manifest without it), the V1 `_latest.manifest` copy, tags and branches (`_refs/`), and
 * this project's own aside folders (`_damaged/` from `doctor --repair`).
 */
export function isBackedUpPath(path: string): boolean {
  const top = path.split("/")[0] ?? "";
  if (top === "_refs" || top === "_damaged") return false;
  if (path === "_versions/latest_version_hint.json" || path === "_latest.manifest") return false;
  return !path.endsWith(".tmp") && !path.includes("/.tmp");
}

/**
 * Lists a local table at `<uri>/<name>.lance`: its latest version (from the manifest names) and every
 * immutable file (see {@link isBackedUpPath}). Call it while no writer can commit (under the writer lock), so
 * that no manifest newer than `version` and no file of an uncommitted write is listed... except files a
 * crashed writer left, which are harmless. Throws `SYNC_E_STORAGE` when the table is missing.
 */
export async function listTableFiles(uri: string, name: string): Promise<ListedTable> {
  const dir = join(uri, `${name}.lance`);
  const [newest] = manifestVersions(uri, name);
  if (!newest) {
    throw new SyncError(
      "SYNC_E_STORAGE",
      `backup: table "${name}" has no committed version at ${dir} (nothing synced yet?)`,
    );
  }
  const files: LocalTableFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      if (!isBackedUpPath(path)) continue;
      if (e.isDirectory()) await walk(path);
      else if (e.isFile()) {
        const s = await stat(join(dir, path));
        files.push({ path, size: s.size, mtimeMs: Math.trunc(s.mtimeMs) });
      }
    }
  };
  try {
    await walk("");
  } catch (err) {
    throw new SyncError(
      "SYNC_E_STORAGE",
      `backup: list table "${name}" at ${dir}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { name, dir, version: newest.version, files };
}

/** SHA-256 (hex) and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}
