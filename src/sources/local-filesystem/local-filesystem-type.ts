import { realpathSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve, sep } from "node:path";
import type { SourceRecord } from "../../core/journal.js";
import { SyncError } from "../../errors/sync-error.js";
import type { SourceType } from "../registry.js";
import { FsSource } from "./fs-source.js";

/** Stored config of a `local_filesystem` source. */
export interface LocalFilesystemConfig {
  /** Canonical absolute roots (folders or single files). */
  watch_paths: string[];
  /** Globs of files to index, relative to each root; empty: every supported type. */
  file_patterns: string[];
  /** Globs of files to skip. */
  ignore_patterns: string[];
  /** Follow symlinks that lead outside the roots. */
  follow_symlinks: boolean;
}

/**
 * The config of a `local_filesystem` record, also as releases before source records stored it
 * (`paths`, `patterns`, `followSymlinks`).
 */
export function localFilesystemConfig(record: Pick<SourceRecord, "config">): LocalFilesystemConfig {
  const c = record.config;
  return {
    watch_paths: strings(c.watch_paths ?? c.paths),
    file_patterns: strings(c.file_patterns ?? c.patterns),
    ignore_patterns: strings(c.ignore_patterns),
    follow_symlinks: (c.follow_symlinks ?? c.followSymlinks) === true,
  };
}

/**
 * `path` with a leading `~` expanded, made absolute against `base` when relative (`base` undefined: a
 * relative path is refused), and resolved through symlinks when it exists (a missing root is only made
 * absolute: it may be an unmounted disk).
 */
export function canonicalRoot(path: string, base?: string): string {
  let p = path;
  if (p === "~" || p.startsWith("~/")) p = join(homedir(), p.slice(1));
  if (!isAbsolute(p)) {
    if (base === undefined) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `watch_paths: ${JSON.stringify(path)} is not an absolute path (or one starting with ~/)`,
      );
    }
    p = resolve(base, p);
  }
  const abs = resolve(p);
  try {
    return realpathSync.native(abs);
  } catch {
    return abs;
  }
}

/** Whether two lists name the same set of roots. */
export function sameRoots(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((p) => y.has(p));
}

/** `local_filesystem` (alias `fs`): folders on this machine. */
export const localFilesystemType: SourceType = {
  type: "local_filesystem",
  aliases: ["fs"],
  scheduled: true,
  normalizeConfig(input, target) {
    const unknown = Object.keys(input).filter((k) => !CONFIG_KEYS.has(k));
    if (unknown.length > 0) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `config: unknown setting${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} of a local_filesystem source ` +
          "(known: watch_paths, file_patterns, ignore_patterns, follow_symlinks)",
      );
    }
    const watch = input.watch_paths ?? input.paths;
    if (
      !Array.isArray(watch) ||
      watch.length === 0 ||
      !watch.every((p) => typeof p === "string" && p !== "")
    ) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `watch_paths: expected a non-empty list of paths, got ${JSON.stringify(watch ?? null)}`,
      );
    }
    const config: LocalFilesystemConfig = {
      watch_paths: [...new Set(watch.map((p) => canonicalRoot(p as string)))],
      file_patterns: globs("file_patterns", input.file_patterns ?? input.patterns),
      ignore_patterns: globs("ignore_patterns", input.ignore_patterns),
      follow_symlinks: bool("follow_symlinks", input.follow_symlinks ?? input.followSymlinks),
    };
    refuseOverlap(target.userId, target.sourceId, config.watch_paths, target.others);
    return { ...config };
  },
  create(record, ctx) {
    const c = localFilesystemConfig(record);
    return new FsSource({
      name: record.name,
      paths: c.watch_paths,
      patterns: c.file_patterns,
      ignore: c.ignore_patterns,
      followSymlinks: c.follow_symlinks,
      maxFileBytes: ctx.config.maxFileBytes,
      readChunkBytes: ctx.config.readChunkBytes,
    });
  },
};

/** Settings a `local_filesystem` config may hold (the last three: names older releases stored). */
const CONFIG_KEYS = new Set([
  "watch_paths",
  "file_patterns",
  "ignore_patterns",
  "follow_symlinks",
  "paths",
  "patterns",
  "followSymlinks",
]);

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((p): p is string => typeof p === "string") : [];
}

function globs(field: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((g) => typeof g === "string" && g.trim() !== "")) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `${field}: expected a list of glob patterns, got ${JSON.stringify(v)}`,
    );
  }
  return v as string[];
}

function bool(field: string, v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `${field}: expected true or false, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** Whether `inner` is `outer` or lies below it (both canonical). */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}

/** Throws `SYNC_E_INVALID_ARGUMENT` when a root of `paths` overlaps a root of another source of the user. */
function refuseOverlap(
  userId: string,
  name: string,
  paths: readonly string[],
  others: readonly SourceRecord[],
): void {
  for (const other of others) {
    if (other.name === name) continue;
    for (const theirs of localFilesystemConfig(other).watch_paths) {
      const canonical = canonicalRoot(theirs, "/");
      for (const mine of paths) {
        if (!within(mine, canonical) && !within(canonical, mine)) continue;
        const how =
          mine === canonical ? "is the same folder as" : within(mine, canonical) ? "lies inside" : "contains";
        throw new SyncError(
          "SYNC_E_INVALID_ARGUMENT",
          `root ${mine} ${how} root ${theirs} of source "${other.name}" of user "${userId}": its files would be ` +
            `indexed twice; sync that source (--source ${other.name}), or give roots that do not overlap`,
        );
      }
    }
  }
}
