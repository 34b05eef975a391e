import { isUtf8 } from "node:buffer";
import { sep } from "node:path";

/** An absolute native path as a source key (POSIX separators). */
export function toKey(path: string): string {
  return sep === "/" ? path : path.split(sep).join("/");
}

/** The key prefix of a directory: its key followed by exactly one `/`. */
export function dirPrefix(path: string): string {
  const key = toKey(path);
  return key.endsWith("/") ? key : `${key}/`;
}

/** `dir` joined with one plain entry name, without the normalisation cost of `path.join`. */
export function childPath(dir: string, name: string): string {
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

/** Whether the resolved path `real` is one of `roots` (resolved too) or lies below one of them. */
export function isInside(real: string, roots: readonly string[]): boolean {
  for (const root of roots) {
    if (real === root) return true;
    if (real.startsWith(root.endsWith(sep) ? root : root + sep)) return true;
  }
  return false;
}

/**
 * A file name as bytes, printable: valid UTF-8 sequences as text, anything else (invalid bytes, control
 * characters, the backslash itself) as `\xNN`, so that two different names never print alike.
 */
export function escapeName(name: Uint8Array): string {
  const buf = Buffer.from(name.buffer, name.byteOffset, name.byteLength);
  let out = "";
  let i = 0;
  while (i < buf.length) {
    const b = buf[i] as number;
    const len =
      b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 1 && b >= 0x20 && b !== 0x7f && b !== 0x5c) {
      out += String.fromCharCode(b);
      i++;
    } else if (len > 1 && i + len <= buf.length && isUtf8(buf.subarray(i, i + len))) {
      out += buf.toString("utf8", i, i + len);
      i += len;
    } else {
      out += `\\x${b.toString(16).padStart(2, "0")}`;
      i++;
    }
  }
  return out;
}

/** The errno code of a Node file-system error, or its message. */
export function errnoOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}

/**
 * A Node file-system error as `CODE (description)`, e.g. `EACCES (permission denied)`: Node's message
 * repeats the code and the path (`EACCES: permission denied, scandir '/x'`), which callers already name.
 */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code !== "string") return e instanceof Error ? e.message : String(err);
  const detail = (e.message ?? "")
    .replace(new RegExp(`^${e.code}:\\s*`), "")
    .replace(/,\s*\w+\s+'.*$/s, "")
    .trim();
  return detail && detail !== e.code ? `${e.code} (${detail})` : e.code;
}

/**
 * The cause to attach to an error whose message already names the path and {@link describeFsError}'s text:
 * an `Error` whose message is that text (which `describeError` then does not repeat) carrying the errno
 * `code` and `syscall`, instead of Node's error, whose message would repeat the errno and the path
 * (`…: EACCES (permission denied): EACCES: permission denied, scandir '/x'`).
 */
export function fsCause(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code !== "string") return err;
  return Object.assign(new Error(describeFsError(err)), { code: e.code, errno: e.errno, syscall: e.syscall });
}

/** Longest path printed whole in a message; longer ones are cut in the middle ({@link shortPath}). */
export const MAX_SHOWN_PATH_CHARS = 240;

/**
 * `path` for a message: as is up to {@link MAX_SHOWN_PATH_CHARS} characters, else its start and end around
 * `…`, so a path of PATH_MAX (4096) bytes does not turn a warning into several kilobytes.
 */
export function shortPath(path: string, max = MAX_SHOWN_PATH_CHARS): string {
  if (path.length <= max) return path;
  const head = Math.ceil((max - 1) * 0.4);
  const tail = max - 1 - head;
  return `${path.slice(0, head)}…${path.slice(path.length - tail)}`;
}
