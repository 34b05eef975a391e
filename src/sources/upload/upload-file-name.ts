import { SyncError } from "../../errors/sync-error.js";

/**
 * File extensions an upload may have by default: those the extract layer parses (`EXTENSION_KINDS` in
 * `pipeline/extract/detect-type.ts`, and the fs source's `DEFAULT_PATTERNS`).
 */
export const UPLOAD_EXTENSIONS: readonly string[] = [
  ".txt",
  ".md",
  ".markdown",
  ".html",
  ".htm",
  ".pdf",
  ".docx",
];

/** Longest file name accepted, in UTF-8 bytes (the common file-system limit). */
export const MAX_UPLOAD_NAME_BYTES = 255;

/** Longest caller-given key accepted, in characters (code points). */
export const MAX_UPLOAD_KEY_CHARS = 512;

/** Options of {@link checkUploadName}. */
export interface CheckUploadNameOptions {
  /** Uploads larger than this fail with `SYNC_E_FILE_TOO_LARGE`. */
  maxFileBytes: number;
  /** Size of the upload in bytes. */
  sizeBytes: number;
  /** Accepted extensions with their dot, e.g. {@link UPLOAD_EXTENSIONS}; compared case-insensitively. */
  supportedExtensions: readonly string[];
}

// Unicode category Cc: the C0 controls, DEL and the C1 controls.
const CONTROL_CHARS = /\p{Cc}/u;
const LONE_SURROGATE = /\p{Cs}/u;
const DRIVE_PREFIX = /^[A-Za-z]:/;

/**
 * The file name to store for an upload: `fileName` NFC-normalised and trimmed of surrounding whitespace.
 * Nothing is rewritten silently: a name that breaks a rule is refused with a message that quotes it (JSON
 * escapes, so control characters show) and says which rule.
 *
 * @throws SyncError `SYNC_E_FILENAME_INVALID` for a name that is empty, only dots, longer than 255 UTF-8
 *   bytes, not valid Unicode, or contains control characters (C0, DEL, C1; checked before trimming), `/`,
 *   `\`, a drive prefix (`C:`) or a `..` component; `SYNC_E_UNSUPPORTED_TYPE` for an extension outside
 *   `supportedExtensions` (or none); `SYNC_E_FILE_TOO_LARGE` when `sizeBytes` exceeds `maxFileBytes`.
 * @example checkUploadName(" résumé.PDF ", { maxFileBytes: 1e7, sizeBytes: 1234, supportedExtensions: UPLOAD_EXTENSIONS }) // "résumé.PDF"
 */
export function checkUploadName(fileName: string, options: CheckUploadNameOptions): string {
  if (typeof fileName !== "string") invalidName(String(fileName), "is not a string");
  if (CONTROL_CHARS.test(fileName)) invalidName(fileName, "contains control characters");
  if (LONE_SURROGATE.test(fileName)) invalidName(fileName, "is not valid Unicode (a lone surrogate)");
  const name = fileName.normalize("NFC").trim();
  if (name === "") invalidName(fileName, "is empty");
  if (/^\.+$/.test(name)) invalidName(fileName, "consists only of dots");
  if (name.includes("/") || name.includes("\\")) {
    const dots = name.split(/[/\\]/).includes("..") ? " with a .. component" : "";
    invalidName(fileName, `is a path${dots}: give a bare file name such as report.pdf`);
  }
  if (DRIVE_PREFIX.test(name)) {
    invalidName(fileName, "starts with a drive prefix: give a bare file name such as report.pdf");
  }
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes > MAX_UPLOAD_NAME_BYTES) {
    invalidName(fileName, `is ${bytes} bytes long in UTF-8; the limit is ${MAX_UPLOAD_NAME_BYTES}`);
  }

  const dot = name.lastIndexOf(".");
  const ext = dot <= 0 || dot === name.length - 1 ? "" : name.slice(dot).toLowerCase();
  if (ext === "" || !options.supportedExtensions.some((e) => e.toLowerCase() === ext)) {
    throw new SyncError(
      "SYNC_E_UNSUPPORTED_TYPE",
      `upload: file name ${quoteForMessage(fileName)}: unsupported file type ${
        ext === "" ? "(no extension)" : ext
      }; supported: ${options.supportedExtensions.join(", ")}`,
    );
  }
  if (options.sizeBytes > options.maxFileBytes) {
    throw new SyncError(
      "SYNC_E_FILE_TOO_LARGE",
      `upload: file ${quoteForMessage(fileName)}: ${mb(options.sizeBytes)} MB exceeds the ${mb(
        options.maxFileBytes,
      )} MB limit (MAX_FILE_SIZE_MB)`,
    );
  }
  return name;
}

/**
 * A caller-given document key, unchanged: an opaque string of 1–512 characters without control characters
 * or lone surrogates. Slashes are fine: a key is not a path and never reaches the file system.
 *
 * @throws SyncError `SYNC_E_INVALID_ARGUMENT` naming the key (its start, when it is long) and the rule.
 */
export function checkUploadKey(key: string): string {
  if (typeof key !== "string") invalidKey(String(key), "is not a string");
  if (key === "") invalidKey(key, "is empty");
  const chars = [...key].length;
  if (chars > MAX_UPLOAD_KEY_CHARS) {
    invalidKey(key, `is ${chars} characters long; the limit is ${MAX_UPLOAD_KEY_CHARS}`);
  }
  if (CONTROL_CHARS.test(key)) invalidKey(key, "contains control characters");
  if (LONE_SURROGATE.test(key)) invalidKey(key, "is not valid Unicode (a lone surrogate)");
  return key;
}

/**
 * `text` JSON-quoted, with DEL and C1 controls escaped as well (JSON leaves them raw, and they are invisible),
 * cut to `maxChars` characters with `…` after the closing quote when longer.
 */
export function quoteForMessage(text: string, maxChars = Number.POSITIVE_INFINITY): string {
  const cut = text.length > maxChars ? text.slice(0, maxChars) : text;
  const quoted = JSON.stringify(cut).replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return cut === text ? quoted : `${quoted}…`;
}

function invalidName(fileName: string, rule: string): never {
  throw new SyncError("SYNC_E_FILENAME_INVALID", `upload: file name ${quoteForMessage(fileName)} ${rule}`);
}

function invalidKey(key: string, rule: string): never {
  throw new SyncError("SYNC_E_INVALID_ARGUMENT", `upload: key ${quoteForMessage(key, 100)} ${rule}`);
}

function mb(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}
