import { fileTypeFromBuffer } from "file-type";
import { SyncError } from "../../errors/sync-error.js";

/** The document kinds the extract layer understands. */
export type DocumentKind = "txt" | "md" | "html" | "pdf" | "docx";

/** The outcome of {@link detectType}. */
export interface DetectedType {
  kind: DocumentKind;
  /** MIME type reported on the extracted document. */
  mimeType: string;
}

/** MIME type reported for each {@link DocumentKind}. */
export const MIME_TYPES: Readonly<Record<DocumentKind, string>> = {
  txt: "text/plain",
  md: "text/markdown",
  html: "text/html",
  pdf: "application/pdf",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
};

/** Supported file extensions (lower case, without the dot). Anything else is unsupported. */
export const EXTENSION_KINDS: Readonly<Record<string, DocumentKind>> = {
  txt: "txt",
  md: "md",
  markdown: "md",
  html: "html",
  htm: "html",
  pdf: "pdf",
  docx: "docx",
};

const PDF_MAGIC = [0x25, 0x50, 0x44, 0x46, 0x2d]; // %PDF-
const CFB_MAGIC = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]; // OLE compound file
const DOCX_EXTS = new Set(["docx", "docm", "dotx", "dotm"]);
const SAMPLE_BYTES = 8192;
const CONTROL_SAMPLE_BYTES = 1024;

/** True when `bytes` contains a NUL byte (native memchr; `Uint8Array#indexOf` is several times slower). */
export function hasNul(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(0) !== -1;
}

/** True when `bytes` begins with `prefix`. */
export function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** True when `bytes` begins with the OLE/CFB signature (legacy Office files, encrypted OOXML). */
export function isCfb(bytes: Uint8Array): boolean {
  return startsWith(bytes, CFB_MAGIC);
}

/** Lower-case extension of the last path segment of `fileName`, without the dot; "" when there is none. */
export function extensionOf(fileName: string): string {
  const base = fileName.slice(Math.max(fileName.lastIndexOf("/"), fileName.lastIndexOf("\\")) + 1);
  const dot = base.lastIndexOf(".");
  return dot <= 0 ? "" : base.slice(dot + 1).toLowerCase();
}

/**
 * Which UTF-16 byte order the NUL pattern of `bytes` suggests, for text without a BOM: mostly-ASCII UTF-16
 * has a NUL in at least 30% of the high bytes and few in the low bytes. Looks at the first 8 KB only.
 */
export function utf16ByNulPattern(bytes: Uint8Array): "utf-16le" | "utf-16be" | undefined {
  const n = Math.min(bytes.length, SAMPLE_BYTES) & ~1;
  if (n < 4) return undefined;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < n; i += 2) {
    if (bytes[i] === 0) evenNul++;
    if (bytes[i + 1] === 0) oddNul++;
  }
  const pairs = n / 2;
  // U+0100, U+0200, U+4E00 … put a NUL in the "wrong" byte, so allow some
  if (oddNul >= pairs * 0.3 && evenNul * 4 <= oddNul) return "utf-16le";
  if (evenNul >= pairs * 0.3 && oddNul * 4 <= evenNul) return "utf-16be";
  return undefined;
}

function hasUnicodeBom(bytes: Uint8Array): boolean {
  const [a, b] = bytes;
  return (
    (a === 0xff && b === 0xfe) || (a === 0xfe && b === 0xff) || (a === 0 && b === 0 && bytes[2] === 0xfe)
  );
}

/**
 * Cheap binary test for content that should be text. Binary means: NUL bytes that do not follow a UTF-16
 * pattern, a C0 control byte among the first 8 bytes (where binary signatures live), or more than 1% C0
 * control bytes in the first 1 KB. A UTF-16/32 BOM means text. Tab, LF, VT, FF, CR, ESC and SUB (DOS
 * end-of-file) count as text.
 */
export function looksBinary(bytes: Uint8Array): boolean {
  if (hasUnicodeBom(bytes)) return false;
  if (hasNul(bytes)) return utf16ByNulPattern(bytes) === undefined;
  const n = Math.min(bytes.length, CONTROL_SAMPLE_BYTES);
  let controls = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number;
    if (b < 0x20 && b !== 0 && (b < 0x09 || b > 0x0d) && b !== 0x1a && b !== 0x1b) {
      if (i < 8) return true;
      controls++;
    }
  }
  return controls > n / 100;
}

/** True when the text starts (after an optional UTF-8 BOM and whitespace) like an HTML document. */
function sniffHtml(bytes: Uint8Array): boolean {
  let i = startsWith(bytes, [0xef, 0xbb, 0xbf]) ? 3 : 0;
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || ((bytes[i] as number) >= 0x09 && (bytes[i] as number) <= 0x0d))
  )
    i++;
  const head = String.fromCharCode(...bytes.subarray(i, i + 14)).toLowerCase();
  return head.startsWith("<!doctype html") || head.startsWith("<html");
}

function detected(kind: DocumentKind): DetectedType {
  return { kind, mimeType: MIME_TYPES[kind] };
}

/**
 * Detects the kind of one file from its bytes and name. Only the extensions in {@link EXTENSION_KINDS} are
 * supported; within those, magic bytes win over the extension (a PDF named `.txt` is a PDF, a text file that
 * starts like an HTML document is HTML). `file-type` is consulted only when the extension is `.pdf`/`.docx`
 * or the cheap checks suggest binary content, so the text path stays fast.
 *
 * @throws SyncError `SYNC_E_UNSUPPORTED_TYPE` for an unknown extension or a binary format that is not a
 *   supported one; `SYNC_E_BINARY_CONTENT` for binary bytes in a file with a text extension.
 */
export async function detectType(bytes: Uint8Array, fileName: string): Promise<DetectedType> {
  const ext = extensionOf(fileName);
  const byExt = EXTENSION_KINDS[ext];
  if (byExt === undefined) {
    throw new SyncError(
      "SYNC_E_UNSUPPORTED_TYPE",
      `${fileName}: unsupported file type ${ext === "" ? "(no extension)" : `.${ext}`}; supported: ${Object.keys(
        EXTENSION_KINDS,
      )
        .map((e) => `.${e}`)
        .join(", ")}`,
    );
  }
  if (startsWith(bytes, PDF_MAGIC)) return detected("pdf");

  if (byExt === "pdf" || byExt === "docx") {
    if (isCfb(bytes)) {
      if (byExt === "docx") return detected("docx"); // the docx extractor explains: encrypted or legacy .doc
      throw new SyncError(
        "SYNC_E_UNSUPPORTED_TYPE",
        `${fileName}: content is an OLE compound file, not a PDF`,
      );
    }
    const ft = await fileTypeFromBuffer(bytes);
    if (ft === undefined) return detected(byExt); // no signature: let the extractor judge (and fail)
    if (ft.mime === "application/pdf" || ft.ext === "ai") return detected("pdf");
    if (DOCX_EXTS.has(ft.ext)) return detected("docx");
    if (ft.ext === "zip" && byExt === "docx") return detected("docx"); // mammoth decides whether it is OOXML
    throw new SyncError(
      "SYNC_E_UNSUPPORTED_TYPE",
      `${fileName}: content is ${ft.mime} (.${ft.ext}), not ${byExt === "pdf" ? "a PDF" : "a Word document"}`,
    );
  }

  if (looksBinary(bytes)) {
    const ft = await fileTypeFromBuffer(bytes);
    if (ft !== undefined && DOCX_EXTS.has(ft.ext)) return detected("docx");
    throw new SyncError(
      "SYNC_E_BINARY_CONTENT",
      `${fileName}: binary content in a .${ext} file${ft === undefined ? "" : ` (looks like ${ft.mime})`}`,
    );
  }
  if (byExt !== "html" && sniffHtml(bytes)) return detected("html");
  return detected(byExt);
}
