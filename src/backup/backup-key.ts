import { SyncError } from "../errors/sync-error.js";

/** Suffix of a local target's in-progress upload; no key may end a segment with it. */
export const PARTIAL_SUFFIX = ".lsync-partial";

/**
 * Checks a backup object key: non-empty, `/`-separated, relative (no leading `/`), no empty, `.` or `..`
 * segment, no backslash, no control character, not ending in {@link PARTIAL_SUFFIX}. Any other text (spaces,
 * UTF-8) is fine. Throws `SYNC_E_INVALID_ARGUMENT` naming the key and the rule it breaks.
 */
export function assertBackupKey(key: string): void {
  const problem = keyProblem(key, false);
  if (problem)
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", `invalid backup key ${JSON.stringify(key)}: ${problem}`);
}

/**
 * Checks a listing prefix: like a key, but it may be empty and may end with `/` (a folder) or in the middle
 * of a segment. Throws `SYNC_E_INVALID_ARGUMENT` naming the prefix.
 */
export function assertBackupPrefix(prefix: string): void {
  const problem = keyProblem(prefix, true);
  if (problem) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `invalid backup prefix ${JSON.stringify(prefix)}: ${problem}`,
    );
  }
}

function keyProblem(key: string, isPrefix: boolean): string | undefined {
  if (key === "") return isPrefix ? undefined : "must not be empty";
  if (key.startsWith("/")) return "must be relative (no leading /)";
  if (key.includes("\\")) return "must not contain a backslash";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects.
  if (/[\u0000-\u001f\u007f]/.test(key)) return "must not contain control characters";
  const segments = key.split("/");
  // A prefix may end with "/" (an empty last segment) or in a partial segment such as "." or "..".
  const whole = isPrefix ? segments.slice(0, -1) : segments;
  for (const seg of whole) {
    if (seg === "") return "must not contain an empty segment (//)";
    if (seg === "." || seg === "..") return "must not contain . or .. segments";
    if (seg.endsWith(PARTIAL_SUFFIX)) return `must not end a segment with ${PARTIAL_SUFFIX}`;
  }
  return undefined;
}
