/** Plain text extracted from one source item, ready to be chunked. */
export interface ExtractedDocument {
  /** The document's text; offsets of chunks point into this string. */
  text: string;
  /** Detected MIME type, e.g. `text/markdown`, `application/pdf`. */
  mimeType: string;
  /** A title found in the content (html `<title>`, markdown `# heading`, pdf info), if any. */
  title?: string;
  /** Character encoding the bytes were decoded from, for text formats. */
  encoding?: string;
  /** Problems that did not stop the extraction, e.g. invalid bytes replaced while decoding. */
  warnings?: string[];
}
