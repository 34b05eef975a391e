import { SyncError } from "../../errors/sync-error.js";
import { isCfb } from "./detect-type.js";

/** Text of a Word document. */
export interface ExtractedDocx {
  /** Raw text, paragraphs separated by blank lines, trailing whitespace removed. */
  text: string;
}

/**
 * Extracts the raw text of a DOCX with mammoth (loaded on first use).
 *
 * @throws SyncError `SYNC_E_ENCRYPTED_FILE` when the bytes are an OLE/CFB container (a password-protected
 *   DOCX, or a legacy .doc renamed), `SYNC_E_CORRUPT_FILE` when the bytes are empty or mammoth cannot read
 *   them. Messages start with `fileName`; the library error is the `cause`.
 */
export async function extractDocx(bytes: Uint8Array, fileName: string): Promise<ExtractedDocx> {
  if (bytes.length === 0) throw new SyncError("SYNC_E_CORRUPT_FILE", `${fileName}: DOCX is empty (0 bytes)`);
  if (isCfb(bytes)) {
    throw new SyncError(
      "SYNC_E_ENCRYPTED_FILE",
      `${fileName}: DOCX is encrypted (password-protected) or is a legacy .doc file: it is an OLE compound file, not a zip`,
    );
  }
  const { default: mammoth } = await import("mammoth");
  try {
    const result = await mammoth.extractRawText({
      buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    });
    return { text: result.value.trimEnd() };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new SyncError("SYNC_E_CORRUPT_FILE", `${fileName}: DOCX could not be read (${why})`, {
      cause: err,
    });
  }
}
