import { SyncError } from "../../errors/sync-error.js";
import { type DecodedText, decodeText } from "./decode-text.js";
import { type DetectedType, detectType } from "./detect-type.js";
import { DEFAULT_MAX_EXTRACTED_BYTES, extractDocx } from "./extract-docx.js";
import { extractHtml } from "./extract-html.js";
import { extractPdf } from "./extract-pdf.js";
import type { ExtractedDocument } from "./extracted-document.js";
import { plainTextTitle } from "./plain-text-title.js";

/** Limits for {@link extractDocument}. */
export interface ExtractOptions {
  /** Largest accepted input in bytes. */
  maxBytes: number;
  /** Largest total uncompressed size of a DOCX's zip parts (`MAX_EXTRACTED_MB`); default 256 MB. */
  maxExtractedBytes?: number;
}

const MB = 1024 * 1024;

function formatMb(bytes: number): string {
  return `${Number((bytes / MB).toFixed(bytes < MB ? 2 : 1))} MB`;
}

/**
 * Fails with `SYNC_E_FILE_TOO_LARGE` naming `fileName` when `bytes.length > maxBytes`.
 *
 * @throws SyncError `SYNC_E_FILE_TOO_LARGE`.
 */
export function checkFileSize(bytes: Uint8Array, fileName: string, maxBytes: number): void {
  if (bytes.length > maxBytes) {
    throw new SyncError(
      "SYNC_E_FILE_TOO_LARGE",
      `${fileName}: file is ${formatMb(bytes.length)}, over the ${formatMb(maxBytes)} limit`,
    );
  }
}

/** The decoding fields of an {@link ExtractedDocument}: the encoding and a warning for replaced bytes. */
function decoded(d: DecodedText): Pick<ExtractedDocument, "encoding" | "warnings"> {
  if (d.replaced === undefined) return { encoding: d.encoding };
  const n = d.replaced;
  return {
    encoding: d.encoding,
    warnings: [`${n} invalid UTF-8 byte sequence${n === 1 ? " was" : "s were"} replaced with U+FFFD`],
  };
}

/**
 * Title of a Markdown document: the text of its first ATX level-1 heading (`# Title`), ignoring YAML front
 * matter and fenced code blocks (where `#` starts a shell comment). Undefined when there is none.
 */
export function markdownTitle(text: string): string | undefined {
  if (!text.includes("#")) return undefined;
  let pos = 0;
  const nextLine = (): string | undefined => {
    if (pos > text.length) return undefined;
    let end = text.indexOf("\n", pos);
    if (end === -1) end = text.length;
    const line = text.slice(pos, end);
    pos = end + 1;
    return line.endsWith("\r") ? line.slice(0, -1) : line;
  };
  let line = nextLine();
  if (line?.trim() === "---") {
    const start = pos;
    for (line = nextLine(); line !== undefined && !/^(---|\.\.\.)\s*$/.test(line); line = nextLine()) {}
    if (line === undefined) pos = start; // unterminated: not front matter
    line = nextLine();
  }
  let fence: string | undefined;
  for (; line !== undefined; line = nextLine()) {
    const f = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (f !== undefined) {
      if (fence === undefined) fence = f;
      else if (f[0] === fence[0] && f.length >= fence.length) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const h = /^ {0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line)?.[1]?.trim();
    if (h) return h;
  }
  return undefined;
}

/**
 * Extracts the text of one item: detects its type ({@link detectType}), decodes text formats
 * ({@link decodeText}), converts HTML, PDF and DOCX. Markdown keeps its markup; its title is the first
 * `# heading`; plain text and DOCX take an obvious title line ({@link plainTextTitle}). An empty .txt/.md/.html gives text "" (no chunks), an empty .pdf or
 * .docx is corrupt. `fileName` is used for the type (its extension) and in error messages.
 *
 * @throws SyncError `SYNC_E_FILE_TOO_LARGE` when `bytes.length > options.maxBytes` (a second guard: callers
 *   check the size before reading), and every code of {@link detectType}, {@link decodeText},
 *   {@link extractPdf}, {@link extractDocx}. Every message starts with `fileName`; library errors are the
 *   `cause`.
 */
export async function extractDocument(
  bytes: Uint8Array,
  fileName: string,
  options: ExtractOptions,
): Promise<ExtractedDocument> {
  checkFileSize(bytes, fileName, options.maxBytes);
  return extractDetected(bytes, fileName, await detectType(bytes, fileName), options);
}

/**
 * The second half of {@link extractDocument}: extracts bytes whose type {@link detectType} has found. Used
 * directly by the parser workers, which get the type from the calling thread.
 *
 * @throws SyncError every code of {@link extractDocument} but the size check.
 */
export async function extractDetected(
  bytes: Uint8Array,
  fileName: string,
  { kind, mimeType }: DetectedType,
  options: Pick<ExtractOptions, "maxExtractedBytes">,
): Promise<ExtractedDocument> {
  switch (kind) {
    case "txt": {
      const d = decodeText(bytes, fileName);
      const title = plainTextTitle(d.text);
      return title === undefined
        ? { text: d.text, mimeType, ...decoded(d) }
        : { text: d.text, mimeType, ...decoded(d), title };
    }
    case "md": {
      const d = decodeText(bytes, fileName);
      const title = markdownTitle(d.text);
      return title === undefined
        ? { text: d.text, mimeType, ...decoded(d) }
        : { text: d.text, mimeType, ...decoded(d), title };
    }
    case "html": {
      const d = decodeText(bytes, fileName);
      const { text, title } = extractHtml(d.text);
      return title === undefined
        ? { text, mimeType, ...decoded(d) }
        : { text, mimeType, ...decoded(d), title };
    }
    case "pdf": {
      const { text, title } = await extractPdf(bytes, fileName);
      return title === undefined ? { text, mimeType } : { text, mimeType, title };
    }
    case "docx": {
      const { text } = await extractDocx(bytes, fileName, {
        maxExtractedBytes: options.maxExtractedBytes ?? DEFAULT_MAX_EXTRACTED_BYTES,
      });
      const title = plainTextTitle(text);
      return title === undefined ? { text, mimeType } : { text, mimeType, title };
    }
  }
}
