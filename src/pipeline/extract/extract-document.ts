import { SyncError } from "../../errors/sync-error.js";
import { decodeText } from "./decode-text.js";
import { detectType } from "./detect-type.js";
import { extractDocx } from "./extract-docx.js";
import { extractHtml } from "./extract-html.js";
import { extractPdf } from "./extract-pdf.js";
import type { ExtractedDocument } from "./extracted-document.js";

/** Limits for {@link extractDocument}. */
export interface ExtractOptions {
  /** Largest accepted input in bytes. */
  maxBytes: number;
}

const MB = 1024 * 1024;

function formatMb(bytes: number): string {
  return `${Number((bytes / MB).toFixed(bytes < MB ? 2 : 1))} MB`;
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
 * `# heading`; plain text has no title. An empty .txt/.md/.html gives text "" (no chunks), an empty .pdf or
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
  if (bytes.length > options.maxBytes) {
    throw new SyncError(
      "SYNC_E_FILE_TOO_LARGE",
      `${fileName}: file is ${formatMb(bytes.length)}, over the ${formatMb(options.maxBytes)} limit`,
    );
  }
  const { kind, mimeType } = await detectType(bytes, fileName);
  switch (kind) {
    case "txt": {
      const { text, encoding } = decodeText(bytes, fileName);
      return { text, mimeType, encoding };
    }
    case "md": {
      const { text, encoding } = decodeText(bytes, fileName);
      const title = markdownTitle(text);
      return title === undefined ? { text, mimeType, encoding } : { text, mimeType, encoding, title };
    }
    case "html": {
      const { text: html, encoding } = decodeText(bytes, fileName);
      const { text, title } = extractHtml(html);
      return title === undefined ? { text, mimeType, encoding } : { text, mimeType, encoding, title };
    }
    case "pdf": {
      const { text, title } = await extractPdf(bytes, fileName);
      return title === undefined ? { text, mimeType } : { text, mimeType, title };
    }
    case "docx": {
      const { text } = await extractDocx(bytes, fileName);
      return { text, mimeType };
    }
  }
}
