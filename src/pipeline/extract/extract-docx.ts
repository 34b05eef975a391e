import { SyncError } from "../../errors/sync-error.js";
import { isCfb } from "./detect-type.js";
import { checkZipDirectory, verifyZipEntries, type ZipLimits } from "./zip-guard.js";

/** Text of a Word document. */
export interface ExtractedDocx {
  /** Raw text, paragraphs separated by blank lines, trailing whitespace removed. */
  text: string;
}

/** Default of {@link ZipLimits.maxExtractedBytes}: `MAX_EXTRACTED_MB`'s default, 256 MB. */
export const DEFAULT_MAX_EXTRACTED_BYTES = 256 * 1024 * 1024;

/**
 * Extracts the raw text of a DOCX with mammoth (loaded on first use). Before anything is inflated, the zip
 * directory is checked against `limits` ({@link checkZipDirectory}) and every part is test-inflated with a
 * hard output limit ({@link verifyZipEntries}), so a decompression bomb fails without expanding.
 *
 * @throws SyncError `SYNC_E_ENCRYPTED_FILE` when the bytes are an OLE/CFB container (a password-protected
 *   DOCX, or a legacy .doc renamed), `SYNC_E_CORRUPT_FILE` when the bytes are empty or mammoth cannot read
 *   them, `SYNC_E_FILE_TOO_LARGE` for a decompression bomb. Messages start with `fileName`; the library error is the `cause`.
 */
export async function extractDocx(
  bytes: Uint8Array,
  fileName: string,
  limits: ZipLimits = { maxExtractedBytes: DEFAULT_MAX_EXTRACTED_BYTES },
): Promise<ExtractedDocx> {
  if (bytes.length === 0) throw new SyncError("SYNC_E_CORRUPT_FILE", `${fileName}: DOCX is empty (0 bytes)`);
  if (isCfb(bytes)) {
    throw new SyncError(
      "SYNC_E_ENCRYPTED_FILE",
      `${fileName}: DOCX is encrypted (password-protected) or is a legacy .doc file: it is an OLE compound file, not a zip`,
    );
  }
  const entries = checkZipDirectory(bytes, fileName, limits);
  if (entries !== undefined) verifyZipEntries(bytes, fileName, entries);
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
