import { realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { SyncError } from "../errors/sync-error.js";
import { canonicalRoot } from "../sources/local-filesystem/local-filesystem-type.js";

/** Source types whose config names folders on this machine (the type and its alias). */
const FILESYSTEM_TYPES = new Set(["local_filesystem", "fs"]);

/** Whether `child` is `parent` or lies under it, by path segments (`/data/a` is not under `/data/ab`). */
export function isWithin(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * The real path of `path` (absolute): for a path that does not exist (yet), that of its nearest existing
 * ancestor with the rest appended, so a symlink above a missing folder cannot lead out unseen.
 */
async function realOrSelf(path: string): Promise<string> {
  const rest: string[] = [];
  let at = path;
  for (;;) {
    try {
      return join(await realpath(at), ...rest);
    } catch {
      const parent = dirname(at);
      if (parent === at) return path;
      rest.unshift(basename(at));
      at = parent;
    }
  }
}

/**
 * Refuses, with `SYNC_E_ROOT_NOT_ALLOWED` naming the path, a `local_filesystem` config given through the API
 * whose `watch_paths` (or legacy `paths`) do not all lie under `allowedRoots`: both the resolved path and its
 * real path (symlinks resolved; for a missing path, through its nearest existing ancestor) must be inside a root (itself taken as given and as its
 * real path). With no roots configured no filesystem source may be added through the API. `follow_symlinks:
 * true` is refused as well: a symlink could lead out of the roots. Other types, and configs without paths,
 * pass (the type's own checks follow).
 */
export async function checkAllowedRoots(
  sourceType: string,
  config: Record<string, unknown> | undefined,
  allowedRoots: readonly string[],
): Promise<void> {
  if (!FILESYSTEM_TYPES.has(sourceType) || config === undefined) return;
  if (config.follow_symlinks === true || config.followSymlinks === true) {
    throw new SyncError(
      "SYNC_E_ROOT_NOT_ALLOWED",
      "follow_symlinks: true is not allowed through the API (a symlink could lead out of ALLOWED_ROOTS)",
    );
  }
  const paths = [config.watch_paths, config.paths].flatMap((v) =>
    Array.isArray(v) ? v.filter((p): p is string => typeof p === "string" && p !== "") : [],
  );
  if (paths.length === 0) return;
  if (allowedRoots.length === 0) {
    throw new SyncError(
      "SYNC_E_ROOT_NOT_ALLOWED",
      `${JSON.stringify(paths[0])}: ALLOWED_ROOTS is empty, so filesystem sources cannot be added through the API`,
    );
  }
  const roots = await Promise.all(
    allowedRoots.map(async (r) => {
      const abs = resolve(r);
      return [abs, await realOrSelf(abs)];
    }),
  );
  const inside = (p: string) => roots.some((pair) => pair.some((root) => isWithin(root, p)));
  for (const path of paths) {
    let canonical: string;
    try {
      // The same expansion the source type applies (`~/`), so what is checked is what is stored.
      canonical = canonicalRoot(path);
    } catch {
      continue; // not absolute: the type's own check refuses it with its message
    }
    const resolved = resolve(path.startsWith("~") ? canonical : path);
    const real = await realOrSelf(canonical);
    if (!inside(resolved) || !inside(real) || !inside(canonical)) {
      throw new SyncError(
        "SYNC_E_ROOT_NOT_ALLOWED",
        `${JSON.stringify(path)} lies outside ALLOWED_ROOTS (${allowedRoots.join(", ")})`,
      );
    }
  }
}
