import { afterAll, describe, expect, it } from "vitest";
import { chunkText } from "../../src/pipeline/chunk-text.js";
import { extractDetected } from "../../src/pipeline/extract/extract-document.js";
import { createContentProcessor, INLINE_TEXT_MAX_BYTES } from "../../src/pipeline/process-content.js";

/**
 * Plain text and Markdown larger than INLINE_TEXT_MAX_BYTES are decoded and chunked in a parser worker: the
 * result must be exactly what the calling thread computes for them.
 */
describe("createContentProcessor: large plain text in a worker", () => {
  const processor = createContentProcessor({ maxFileBytes: 2 ** 30, chunkSize: 500, chunkOverlap: 50 });
  afterAll(() => processor.close());

  const para = "The harbour beacon flashes twice every ten seconds; the pilot boats wait. ".repeat(9);
  const big = (head: string): Uint8Array => {
    const body = `${para}\n\n`.repeat(Math.ceil(INLINE_TEXT_MAX_BYTES / para.length) + 5);
    return Buffer.concat([Buffer.from(head), Buffer.from(body)]);
  };

  it.each([
    ["notes.md", big("---\ntitle: x\n---\n# The large title\n\n"), "md"],
    ["log.txt", big("plain start\n"), "txt"],
    // Latin-1 bytes (invalid UTF-8): decoded by detection, with the same encoding reported.
    ["latin.txt", Buffer.concat([Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20]), big("\n")]), "txt"],
  ] as const)(
    "%s gives the same title, chunks and metadata as on the calling thread",
    async (fileName, bytes, kind) => {
      expect(bytes.length).toBeGreaterThan(INLINE_TEXT_MAX_BYTES);
      const mimeType = kind === "md" ? "text/markdown" : "text/plain";
      const doc = await extractDetected(bytes, fileName, { kind, mimeType }, {});
      const r = await processor({ bytes, fileName });
      expect(r.title).toBe(doc.title || fileName);
      expect(r.chunks).toEqual(chunkText(doc.text, { size: 500, overlap: 50 }));
      expect(r.metadata).toMatchObject({ text_length: doc.text.length });
      if (doc.encoding) expect(r.metadata.encoding).toBe(doc.encoding);
      expect(r.warnings).toEqual(doc.warnings);
    },
  );
});
