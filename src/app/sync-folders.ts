import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import type { SourceRecord } from "../core/journal.js";
import { retypeError } from "../core/journal.js";
import { describeError, SyncError } from "../errors/sync-error.js";
import {
  canonicalRoot,
  type LocalFilesystemConfig,
  localFilesystemConfig,
  sameRoots,
} from "../sources/local-filesystem/local-filesystem-type.js";
import { validateId } from "../storage/filter.js";
import type { AppContext } from "./app-context.js";
import { type RunSourceOptions, runSource, type SourceRunResult } from "./run-source.js";

/** The type name of local folders. */
const LOCAL = "local_filesystem";

/** Options of {@link syncFolders}. */
export interface SyncFoldersOptions extends Omit<RunSourceOptions, "keys"> {
  userId: string;
  /**
   * Source name. Default: the user's source whose roots are the given paths (compared after `realpath`, so a
   * symlink or `..` spelling finds it), else a new one named from the canonical paths (`fs-` + 8 hex chars).
   */
  sourceName?: string;
  /** Folders or files (relative ones against the working directory); may be omitted for a registered source. */
  paths?: readonly string[];
  /** Globs relative to each root; default: as recorded, else every supported type. */
  patterns?: readonly string[];
  /** Globs of files to skip; default: as recorded, else none. */
  ignore?: readonly string[];
  /** Follow symlinks that lead outside the roots (default: as recorded for the source, else false). */
  followSymlinks?: boolean;
}

/**
 * `sync <paths>`, the shortcut: finds or registers the user's `local_filesystem` source for these folders and
 * runs one full sync of it (see {@link runSource}). With `sourceName` and no paths it syncs that registered
 * source whatever its type.
 *
 * Roots are canonicalised with `realpath` (a root that does not exist yet is only made absolute), so item keys
 * of a new source are canonical paths. A source recorded with other spellings of the same roots keeps its
 * recorded paths, hence its keys: nothing moves or is re-embedded. Refused:
 * - paths given for a source whose recorded roots differ (`SYNC_E_INVALID_ARGUMENT` naming both: remove the
 *   source and add it again to change its roots);
 * - paths given for a source of another type (`SYNC_E_SOURCE_TYPE`);
 * - a new source whose roots overlap those of another source of the same user (`SYNC_E_INVALID_ARGUMENT`
 *   naming that source and both roots: the same files would be indexed twice);
 * - a new source whose roots do not all exist (`SYNC_E_SOURCE_UNAVAILABLE` naming each missing one; nothing
 *   is registered).
 */
export async function syncFolders(ctx: AppContext, options: SyncFoldersOptions): Promise<SourceRunResult> {
  const userId = validateId("user id", options.userId);
  const cwd = process.cwd();
  const paths = [...new Set((options.paths ?? []).map((p) => canonicalRoot(p, cwd)))];
  let name = options.sourceName;
  if (name !== undefined) validateId("source name", name);
  const { journal } = ctx;
  const others = journal.listSources(userId).filter((s) => s.type === LOCAL);
  let known = name === undefined ? undefined : journal.getSource(userId, name);
  if (known && known.type !== LOCAL) {
    if (paths.length > 0) throw retypeError({ userId, name: known.name, type: LOCAL }, known.type);
    await ctx.checkEmbedder();
    return runSource(ctx, known, ctx.sourceOf(known), options);
  }
  if (known === undefined && name === undefined && paths.length > 0) {
    // `sync <paths>` without --source: the source whose roots are these (however they are spelled).
    known = others.find((s) => sameRoots(recordedRoots(s), paths));
    name = known?.name;
  }
  let config: LocalFilesystemConfig;
  if (known) {
    config = localFilesystemConfig(known);
    if (paths.length > 0 && !sameRoots(recordedRoots(known), paths)) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `source "${known.name}" of user "${userId}" syncs ${config.watch_paths.join(", ")}, not ` +
          `${paths.join(", ")}: give no paths to sync it, or remove it (sources remove) and add it with the new ` +
          "roots (nothing is re-embedded)",
      );
    }
    if (options.patterns && options.patterns.length > 0) config.file_patterns = [...options.patterns];
    if (options.ignore && options.ignore.length > 0) config.ignore_patterns = [...options.ignore];
    if (options.followSymlinks !== undefined) config.follow_symlinks = options.followSymlinks;
  } else {
    if (paths.length === 0) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        name === undefined
          ? "give at least one path to sync"
          : `source "${name}" of user "${userId}" is not registered; give the paths to sync`,
      );
    }
    await requireRoots(paths);
    name ??= `fs-${createHash("sha256")
      .update([...paths].sort().join("\0"))
      .digest("hex")
      .slice(0, 8)}`;
    config = ctx.registry.get(LOCAL).normalizeConfig(
      {
        watch_paths: paths,
        file_patterns: options.patterns ?? [],
        ignore_patterns: options.ignore ?? [],
        follow_symlinks: options.followSymlinks ?? false,
      },
      { userId, sourceId: name, others },
    ) as unknown as LocalFilesystemConfig;
  }
  await ctx.checkEmbedder();
  journal.upsertSource({ userId, name: name as string, type: LOCAL, config: { ...config } });
  const record = journal.getSource(userId, name as string) as SourceRecord;
  return runSource(ctx, record, ctx.sourceOf(record), options);
}

/**
 * Refuses a new source whose roots are not all there, before anything is registered: a first sync of a
 * mistyped path must not leave behind a source that shows unhealthy forever. Names every missing root.
 */
async function requireRoots(paths: readonly string[]): Promise<void> {
  const problems: string[] = [];
  for (const path of paths) {
    try {
      await stat(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(
        `${path} ${code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? describeError(err)})`}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new SyncError(
      "SYNC_E_SOURCE_UNAVAILABLE",
      `${problems.join("; ")}: nothing was registered or synced; check the path${paths.length > 1 ? "s" : ""}`,
    );
  }
}

function recordedRoots(source: SourceRecord): string[] {
  return localFilesystemConfig(source).watch_paths.map((p) => canonicalRoot(p, "/"));
}
