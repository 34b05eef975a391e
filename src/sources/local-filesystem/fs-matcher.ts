import { resolve } from "node:path";
import picomatch from "picomatch";
import { dirPrefix, toKey } from "./fs-paths.js";

/** File patterns used when a source names none. */
export const DEFAULT_PATTERNS: readonly string[] = ["**/*.{txt,md,markdown,html,htm,pdf,docx}"];

/** What decides which paths a `local_filesystem` source lists. */
export interface FsMatcherOptions {
  /** Roots (folders or single files), made absolute (not resolved through symlinks). */
  paths: readonly string[];
  /** Globs of files to index, relative to each root; default {@link DEFAULT_PATTERNS}. */
  patterns?: readonly string[];
  /** Globs of files to skip (a match wins over `patterns`). */
  ignore?: readonly string[];
}

/**
 * The path rules of a `local_filesystem` source, shared by its listing, its `confirmGone` and the service's
 * live watcher, so that all three agree on which keys exist: hidden names (dot-names) and `node_modules` are
 * skipped at any depth below a root; a file is listed when its path relative to its root matches `patterns`
 * (case-insensitive, never a dot-name) and not `ignore`; a root given as a file is listed whatever the
 * patterns say. Keys are absolute POSIX paths under the roots as given.
 */
export class FsMatcher {
  /** The roots, absolute. */
  readonly roots: readonly string[];
  /** Pattern test on a path relative to its root, with `/` separators. */
  readonly matchRelative: (relPath: string) => boolean;

  constructor(options: FsMatcherOptions) {
    this.roots = options.paths.map((p) => resolve(p));
    const patterns = options.patterns && options.patterns.length > 0 ? options.patterns : DEFAULT_PATTERNS;
    const ignore = options.ignore && options.ignore.length > 0 ? [...options.ignore] : undefined;
    this.matchRelative = picomatch([...patterns], { dot: false, nocase: true, ignore });
  }

  /** Whether an entry of this name is skipped wherever it is below a root (dot-names, `node_modules`). */
  static skipsName(name: string): boolean {
    return name.startsWith(".") || name === "node_modules";
  }

  /** The innermost root that `key` is or lies below, or undefined. */
  rootOf(key: string): string | undefined {
    let found: string | undefined;
    for (const r of this.roots) {
      if (
        (key === toKey(r) || key.startsWith(dirPrefix(r))) &&
        (found === undefined || r.length > found.length)
      )
        found = r;
    }
    return found;
  }

  /** `key` relative to `root` (`""` for the root itself). */
  relative(key: string, root: string): string {
    return key === toKey(root) ? "" : key.slice(dirPrefix(root).length);
  }

  /** Whether a folder below a root at `key` is skipped by name (hidden or `node_modules` on its way). */
  skipsBelowRoot(key: string, root: string): boolean {
    const rel = this.relative(key, root);
    return rel !== "" && rel.split("/").some(FsMatcher.skipsName);
  }

  /**
   * Whether a regular file at `key` is one the source lists, by its path alone: a root given as a file, or a
   * path below a root with no skipped name on its way that the patterns match.
   */
  listsFile(key: string): boolean {
    const root = this.rootOf(key);
    if (root === undefined) return false;
    if (key === toKey(root)) return true;
    return !this.skipsBelowRoot(key, root) && this.matchRelative(this.relative(key, root));
  }
}
