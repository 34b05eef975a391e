import { SyncError } from "../../errors/sync-error.js";

/** Text and title of a PDF. */
export interface ExtractedPdf {
  /** Text of all pages, pages joined by a newline. */
  text: string;
  /** `Title` from the document info dictionary, if set and not blank. */
  title?: string;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Extracts the text of a PDF with unpdf (pdf.js). The input is copied, because pdf.js may take ownership of
 * (detach) the buffer it is given; unpdf is loaded on first use so text-only runs never pay for pdf.js.
 *
 * @throws SyncError `SYNC_E_ENCRYPTED_FILE` for a password-protected PDF (pdf.js `PasswordException`),
 *   `SYNC_E_CORRUPT_FILE` for anything else pdf.js cannot read (empty, truncated, invalid structure).
 *   Messages start with `fileName`; the library error is the `cause`.
 */
export async function extractPdf(bytes: Uint8Array, fileName: string): Promise<ExtractedPdf> {
  if (bytes.length === 0) throw new SyncError("SYNC_E_CORRUPT_FILE", `${fileName}: PDF is empty (0 bytes)`);
  const { extractText, getDocumentProxy } = await import("unpdf");
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>> | undefined;
  try {
    pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0, isEvalSupported: false });
    const { text } = await extractText(pdf, { mergePages: true });
    let title: string | undefined;
    try {
      const info = (await pdf.getMetadata()).info as Record<string, unknown> | undefined;
      const raw = info?.Title;
      if (typeof raw === "string" && raw.trim() !== "") title = raw.trim();
    } catch {
      // metadata is optional; the text is what matters
    }
    return title === undefined ? { text } : { text, title };
  } catch (err) {
    if (err instanceof Error && err.name === "PasswordException") {
      throw new SyncError("SYNC_E_ENCRYPTED_FILE", `${fileName}: PDF is encrypted (${describe(err)})`, {
        cause: err,
      });
    }
    throw new SyncError("SYNC_E_CORRUPT_FILE", `${fileName}: PDF could not be read (${describe(err)})`, {
      cause: err,
    });
  } finally {
    await pdf?.destroy().catch(() => {});
  }
}
