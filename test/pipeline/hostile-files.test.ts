import { randomBytes } from "node:crypto";
import iconv from "iconv-lite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSyncError, type SyncError } from "../../src/errors/sync-error.js";
import { decodeText } from "../../src/pipeline/extract/decode-text.js";
import { extractDocument } from "../../src/pipeline/extract/extract-document.js";
import { extractHtml, htmlDepth, streamHtmlText } from "../../src/pipeline/extract/extract-html.js";
import {
  checkZipDirectory,
  MAX_COMPRESSION_RATIO,
  readZipDirectory,
} from "../../src/pipeline/extract/zip-guard.js";
import { createContentProcessor } from "../../src/pipeline/process-content.js";
import { makeDocx } from "../fixtures/make-docx.js";
import {
  deepHtml,
  docxParts,
  makeDocxBomb,
  makeZipArchive,
  utf8WithBadByte,
} from "../fixtures/make-hostile.js";
import { makePdf } from "../fixtures/make-pdf.js";

const MiB = 1024 * 1024;
const opts = { maxBytes: 50 * MiB };

async function failure(p: Promise<unknown>): Promise<SyncError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isSyncError(err), String(err)).toBe(true);
  return err as SyncError;
}

describe("zip bombs are refused from the zip directory, before anything is inflated", () => {
  let bomb100: Buffer;
  let bomb31k: Buffer;
  beforeAll(async () => {
    bomb100 = await makeDocxBomb(100 * MiB);
    bomb31k = await makeDocxBomb(18 * MiB);
  });

  it("the fixtures are what they claim: 100 MiB in about 150 KB, 18 MiB in about 31 KB", () => {
    expect(bomb100.length).toBeLessThan(200_000);
    expect(bomb31k.length).toBeLessThan(40_000);
    const total = (b: Buffer) => (readZipDirectory(b) ?? []).reduce((s, e) => s + e.uncompressedSize, 0);
    expect(total(bomb100)).toBeGreaterThanOrEqual(100 * MiB - 8192);
  });

  for (const [label, get] of [
    ["154 KB holding 100 MiB", () => bomb100],
    ["31 KB holding 18 MiB", () => bomb31k],
  ] as const) {
    it(`a ${label} DOCX fails at once with SYNC_E_FILE_TOO_LARGE naming the file and the ratio`, async () => {
      const t0 = performance.now();
      const err = await failure(extractDocument(get(), "bomb.docx", opts));
      expect(err.code).toBe("SYNC_E_FILE_TOO_LARGE");
      expect(err.message).toMatch(
        /^bomb\.docx: word\/document\.xml would expand \d+-fold .*MAX_EXTRACTED_MB/,
      );
      expect(performance.now() - t0).toBeLessThan(2_000);
    });
  }

  it("a DOCX whose parts total more than MAX_EXTRACTED_MB fails even at an ordinary ratio", async () => {
    const parts = await docxParts(["Some text"]);
    const noise = Buffer.from(randomBytes(3 * MiB).map((b) => 97 + (b % 26)));
    const docx = makeZipArchive([...parts, { name: "word/media/noise.bin", data: noise }]);
    const err = await failure(extractDocument(docx, "big.docx", { ...opts, maxExtractedBytes: 2 * MiB }));
    expect(err.code).toBe("SYNC_E_FILE_TOO_LARGE");
    expect(err.message).toMatch(
      /^big\.docx: its \d+ zip parts expand to 3(\.\d)? MiB .*over MAX_EXTRACTED_MB \(2 MB\)/,
    );
  });

  it("a zip directory that understates a part's size is caught while test-inflating with a limit", async () => {
    const lying = await makeDocxBomb(8 * MiB, 4096);
    expect(() => checkZipDirectory(lying, "liar.docx", { maxExtractedBytes: 256 * MiB })).not.toThrow();
    const err = await failure(extractDocument(lying, "liar.docx", opts));
    expect(err.code).toBe("SYNC_E_FILE_TOO_LARGE");
    expect(err.message).toMatch(/^liar\.docx: word\/document\.xml inflates to more than the 4 KiB/);
  });

  it(`an ordinary DOCX passes (ratio well under ${MAX_COMPRESSION_RATIO})`, async () => {
    const doc = await extractDocument(await makeDocx(["Plain words in a plain letter."]), "ok.docx", opts);
    expect(doc.text).toBe("Plain words in a plain letter.");
  });
});

describe("deeply nested HTML", () => {
  for (const levels of [2_000, 200_000]) {
    it(`${levels} nested <div>s are extracted within a second, without recursion`, async () => {
      const html = deepHtml(levels);
      expect(htmlDepth(html)).toBeGreaterThanOrEqual(levels);
      const t0 = performance.now();
      const doc = await extractDocument(Buffer.from(html), "deep.html", opts);
      expect(performance.now() - t0).toBeLessThan(levels > 10_000 ? 3_000 : 1_000);
      expect(doc.title).toBe("Deep nest");
      expect(doc.text).toBe("Deep inside the nest lives a wren.\n\nAfter the nest.");
    });
  }

  it("the streaming reader keeps the words and blocks of ordinary HTML and skips head, script and style", () => {
    const html =
      "<html><head><title>T &amp; U</title><style>p{}</style></head><body><h1>Head</h1>" +
      "<p>One  <b>bold</b>\nword &lt;3</p><script>var x=1</script><ul><li>a</li><li>b</li></ul>" +
      "<table><tr><td>x</td><td>y</td></tr></table><pre>  keep\n  this</pre></body></html>";
    expect(streamHtmlText(html)).toEqual({
      title: "T & U",
      text: "Head\n\nOne bold word <3\n\na\nb\n\nx y\n\n  keep\n  this",
    });
  });

  it("shallow HTML still goes through html-to-text (tables aligned, headings kept)", () => {
    expect(extractHtml("<h1>Title</h1><p>Body</p>").text).toBe("Title\n\nBody");
  });
});

describe("UTF-8 with a few bad bytes", () => {
  it("a 10 KB UTF-8 text with one invalid byte stays UTF-8: Köln intact, one U+FFFD, counted", () => {
    const d = decodeText(utf8WithBadByte(10_000), "koeln.txt");
    expect(d.encoding).toBe("utf-8");
    expect(d.replaced).toBe(1);
    expect(d.text).toContain("Köln");
    expect(d.text.split("\uFFFD")).toHaveLength(2);
  });

  it("extractDocument reports the replacement as a warning", async () => {
    const doc = await extractDocument(utf8WithBadByte(), "koeln.md", opts);
    expect(doc.warnings).toEqual(["1 invalid UTF-8 byte sequence was replaced with U+FFFD"]);
  });

  it("a literal U+FFFD in valid text is not counted as a replacement", () => {
    const bytes = Buffer.concat([Buffer.from("Köln \uFFFD ok "), Buffer.from([0xc3]), Buffer.from(" end")]);
    expect(decodeText(bytes, "x.txt")).toMatchObject({ encoding: "utf-8", replaced: 1 });
  });

  it("windows-1252 text with a single accented letter still goes to chardet (no valid multi-byte UTF-8)", () => {
    const text = `${"The meeting is in the small room next to the kitchen. ".repeat(20)}Café at noon.\n`;
    expect(decodeText(iconv.encode(text, "windows-1252"), "w.txt")).toEqual({
      text,
      encoding: "windows-1252",
    });
  });

  it("many invalid sequences among some valid ones are not 'mostly UTF-8'", () => {
    const bytes = Buffer.concat([Buffer.from("Köln "), iconv.encode("é à ü ö ".repeat(50), "latin1")]);
    expect(decodeText(bytes, "mixed.txt").encoding).not.toBe("utf-8");
  });
});

describe("createContentProcessor parses HTML, PDF and DOCX in worker threads", () => {
  const process = createContentProcessor({
    maxFileBytes: 64 * MiB,
    chunkSize: 1000,
    chunkOverlap: 100,
    parseWorkers: 2,
    parseMemoryMb: 256,
    parseTimeoutMs: 20_000,
  });
  afterAll(() => process.close());

  it("extracts HTML, PDF and DOCX (in workers) and text (on the main thread)", async () => {
    const [html, pdf, docx, txt] = await Promise.all([
      process({
        bytes: Buffer.from("<title>Harbour</title><p>The harbour opens at dawn.</p>"),
        fileName: "a.html",
      }),
      process({ bytes: await makePdf(["Lighthouse maintenance report."]), fileName: "b.pdf" }),
      process({ bytes: await makeDocx(["Dear committee, the orchard needs fences."]), fileName: "c.docx" }),
      process({ bytes: Buffer.from("plain words"), fileName: "d.txt" }),
    ]);
    expect(html).toMatchObject({ title: "Harbour", mimeType: "text/html" });
    expect(html.chunks[0]?.text).toContain("The harbour opens at dawn.");
    expect(pdf.chunks[0]?.text).toContain("Lighthouse maintenance report.");
    expect(docx.chunks[0]?.text).toBe("Dear committee, the orchard needs fences.");
    expect(txt.chunks[0]?.text).toBe("plain words");
  });

  it("the 100 MiB DOCX bomb fails in well under 5 s, without a worker inflating it", async () => {
    const bomb = await makeDocxBomb(100 * MiB);
    const t0 = performance.now();
    const err = await failure(process({ bytes: bomb, fileName: "bomb.docx" }));
    expect(err.code).toBe("SYNC_E_FILE_TOO_LARGE");
    expect(err.message).toMatch(/^bomb\.docx: /);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it("200,000 nested <div>s are indexed (not SYNC_E_INTERNAL)", async () => {
    const r = await process({ bytes: Buffer.from(deepHtml(200_000)), fileName: "deep.html" });
    expect(r.chunks.map((c) => c.text).join(" ")).toContain("Deep inside the nest lives a wren.");
  });

  it("the warnings of a bad-byte UTF-8 file reach PreparedContent", async () => {
    const r = await process({ bytes: utf8WithBadByte(), fileName: "koeln.txt" });
    expect(r.warnings).toEqual(["1 invalid UTF-8 byte sequence was replaced with U+FFFD"]);
    expect(r.metadata.encoding).toBe("utf-8");
  });

  it("the caller's buffer stays usable (a copy is transferred)", async () => {
    const bytes = Buffer.from("<p>kept</p>");
    await process({ bytes, fileName: "k.html" });
    expect(bytes.toString()).toBe("<p>kept</p>");
  });
});

describe("parser limits: a parse out of memory or time fails its item alone with SYNC_E_PARSE_LIMIT", () => {
  /** 24 MB of small paragraphs: html-to-text's tree for it needs far more than 64 MB of heap. */
  const heavyHtml = () => Buffer.from(`<html><body>${"<p>a <b>b</b> c</p>".repeat(1_400_000)}</body></html>`);

  it("out of memory: the worker dies, the item fails, the next item parses in a fresh worker", async () => {
    const process = createContentProcessor({
      maxFileBytes: 64 * MiB,
      chunkSize: 1000,
      chunkOverlap: 100,
      parseWorkers: 1,
      parseMemoryMb: 64,
      parseTimeoutMs: 60_000,
    });
    try {
      const err = await failure(process({ bytes: heavyHtml(), fileName: "heavy.html" }));
      expect(err.code).toBe("SYNC_E_PARSE_LIMIT");
      expect(err.message).toMatch(/^heavy\.html: parsing needed more than PARSE_MEMORY_MB \(64 MB/);
      const ok = await process({ bytes: Buffer.from("<p>after</p>"), fileName: "next.html" });
      expect(ok.chunks[0]?.text).toBe("after");
    } finally {
      await process.close();
    }
  });

  it("out of time: the worker is stopped at PARSE_TIMEOUT_SECONDS", async () => {
    const process = createContentProcessor({
      maxFileBytes: 64 * MiB,
      chunkSize: 1000,
      chunkOverlap: 100,
      parseWorkers: 1,
      parseTimeoutMs: 300,
    });
    try {
      const t0 = performance.now();
      const err = await failure(process({ bytes: heavyHtml(), fileName: "slow.html" }));
      expect(err.code).toBe("SYNC_E_PARSE_LIMIT");
      expect(err.message).toMatch(/^slow\.html: parsing took longer than PARSE_TIMEOUT_SECONDS/);
      expect(performance.now() - t0).toBeLessThan(3_000);
      const ok = await process({ bytes: Buffer.from("<p>after</p>"), fileName: "next.html" });
      expect(ok.chunks[0]?.text).toBe("after");
    } finally {
      await process.close();
    }
  });
});
