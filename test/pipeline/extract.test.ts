import { describe, expect, it } from "vitest";
import { SyncError } from "../../src/errors/sync-error.js";
import { extractDocument, markdownTitle } from "../../src/pipeline/extract/extract-document.js";
import { makeDocx } from "../fixtures/make-docx.js";
import { makePdf } from "../fixtures/make-pdf.js";

const opts = { maxBytes: 10 * 1024 * 1024 };
const utf8 = (s: string) => new TextEncoder().encode(s);
const DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/** A 1×1 transparent PNG. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
  "base64",
);

/** Runs `p`, expects it to reject with a SyncError, and returns that error. */
async function failure(p: Promise<unknown>): Promise<SyncError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SyncError);
    return err as SyncError;
  }
  throw new Error("expected a SyncError, but the call succeeded");
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const b of data) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A valid zip archive (stored, no compression) holding one file. */
function makeZip(name: string, content: string): Buffer {
  const fileName = Buffer.from(name);
  const data = Buffer.from(content);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(fileName.length, 28);
  const centralOffset = local.length + fileName.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fileName.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, fileName, data, central, fileName, end]);
}

describe("extractDocument: happy paths", () => {
  it("extracts plain text verbatim, without a title", async () => {
    const text = "First line\r\nSecond line\n\n# not a title in txt\n";
    const doc = await extractDocument(utf8(text), "notes.txt", opts);
    expect(doc).toEqual({ text, mimeType: "text/plain", encoding: "utf-8" });
  });

  it("keeps markdown markup and takes the first # heading as title", async () => {
    const md = "Intro line\n\n# Remote Work Policy #\n\nBody with **bold**.\n\n# Second heading\n";
    const doc = await extractDocument(utf8(md), "docs/remote.md", opts);
    expect(doc.text).toBe(md);
    expect(doc.mimeType).toBe("text/markdown");
    expect(doc.title).toBe("Remote Work Policy");
  });

  it("accepts the .markdown extension and upper-case extensions", async () => {
    expect((await extractDocument(utf8("# A"), "x.markdown", opts)).mimeType).toBe("text/markdown");
    expect((await extractDocument(utf8("hi"), "README.TXT", opts)).mimeType).toBe("text/plain");
  });

  it("extracts clean text and the title from html", async () => {
    const html = `<!DOCTYPE html><html><head><title>Release &amp; Notes 2.0</title>
      <style>body { color: red }</style><script>var secretToken = "abc";</script></head>
      <body><h1>What's new</h1><p>Faster <a href="https://example.com/sync">sync</a> <img src="x.png" alt="pic">today.</p>
      <script>console.log("inline script")</script>
      <table><tr><th>Area</th><th>Change</th></tr><tr><td>Search</td><td>Hybrid ranking</td></tr></table></body></html>`;
    const doc = await extractDocument(utf8(html), "release.html", opts);
    expect(doc.mimeType).toBe("text/html");
    expect(doc.title).toBe("Release & Notes 2.0");
    expect(doc.text).toContain("What's new");
    expect(doc.text).toContain("Faster sync today.");
    expect(doc.text).toMatch(/Search\s+Hybrid ranking/);
    for (const noise of ["secretToken", "inline script", "color: red", "example.com", "pic", "<"]) {
      expect(doc.text).not.toContain(noise);
    }
  });

  it("accepts .htm and html without a title", async () => {
    const doc = await extractDocument(utf8("<p>Hello <b>world</b></p>"), "page.htm", opts);
    expect(doc).toEqual({ text: "Hello world", mimeType: "text/html", encoding: "utf-8" });
  });

  it("extracts pdf text and the info title, leaving the input bytes usable", async () => {
    const pdf = await makePdf(["Travel expenses are reimbursed monthly.", "Keep every receipt."], {
      title: "Expense Policy",
    });
    const bytes = new Uint8Array(pdf);
    const doc = await extractDocument(bytes, "expense.pdf", opts);
    expect(doc.mimeType).toBe("application/pdf");
    expect(doc.title).toBe("Expense Policy");
    expect(doc.text).toContain("Travel expenses are reimbursed monthly.");
    expect(doc.text).toContain("Keep every receipt.");
    expect(doc.encoding).toBeUndefined();
    expect(bytes.byteLength).toBe(pdf.length); // not detached
  });

  it("extracts multi-page pdfs", async () => {
    const paragraphs = Array.from({ length: 80 }, (_, i) => `Paragraph number ${i} of a long document.`);
    const doc = await extractDocument(await makePdf(paragraphs), "long.pdf", opts);
    expect(doc.text).toContain("Paragraph number 0 of");
    expect(doc.text).toContain("Paragraph number 79 of");
    expect(doc.title).toBeUndefined();
  });

  it("extracts docx text, and its opening title line as the title", async () => {
    const docx = await makeDocx(["Product overview", "The sync engine is incremental."]);
    const doc = await extractDocument(docx, "overview.docx", opts);
    expect(doc).toEqual({
      text: "Product overview\n\nThe sync engine is incremental.",
      mimeType: DOCX_MIME,
      title: "Product overview",
    });
  });

  it("returns empty text for empty txt, md and html files", async () => {
    for (const name of ["empty.txt", "empty.md", "empty.html"]) {
      const doc = await extractDocument(new Uint8Array(0), name, opts);
      expect(doc.text).toBe("");
      expect(doc.title).toBeUndefined();
    }
  });
});

describe("extractDocument: magic bytes win over the extension", () => {
  it("extracts a PDF named .txt as a PDF", async () => {
    const doc = await extractDocument(await makePdf(["Hidden pdf"]), "looks-like.txt", opts);
    expect(doc.mimeType).toBe("application/pdf");
    expect(doc.text).toContain("Hidden pdf");
  });

  it("extracts a DOCX named .md as a DOCX", async () => {
    const doc = await extractDocument(await makeDocx(["Word inside"]), "notes.md", opts);
    expect(doc.mimeType).toBe(DOCX_MIME);
    expect(doc.text).toBe("Word inside");
  });

  it("treats a .txt that starts like an HTML document as HTML", async () => {
    const doc = await extractDocument(
      utf8("\n  <!DOCTYPE html><html><head><title>T</title></head><body><p>Body</p></body></html>"),
      "saved-page.txt",
      opts,
    );
    expect(doc.mimeType).toBe("text/html");
    expect(doc.title).toBe("T");
    expect(doc.text).toBe("Body");
  });

  it("keeps markdown that merely contains html as markdown", async () => {
    const doc = await extractDocument(utf8('<p align="center">logo</p>\n\n# Title\n'), "README.md", opts);
    expect(doc.mimeType).toBe("text/markdown");
    expect(doc.title).toBe("Title");
  });

  it("rejects PNG bytes named .md as binary content", async () => {
    const err = await failure(extractDocument(PNG, "diagram.md", opts));
    expect(err.code).toBe("SYNC_E_BINARY_CONTENT");
    expect(err.message).toContain("diagram.md");
    expect(err.message).toContain("image/png");
  });

  it("rejects text files containing NUL bytes, and a zip named .txt", async () => {
    const withNul = utf8("abc\0def\0\0\u0001ghi and more text here");
    expect((await failure(extractDocument(withNul, "a.txt", opts))).code).toBe("SYNC_E_BINARY_CONTENT");
    const zip = makeZip("hello.txt", "hello");
    const err = await failure(extractDocument(zip, "archive.txt", opts));
    expect(err.code).toBe("SYNC_E_BINARY_CONTENT");
    expect(err.message).toContain("archive.txt");
  });

  it("rejects PNG bytes named .pdf or .docx as unsupported", async () => {
    for (const name of ["scan.pdf", "scan.docx"]) {
      const err = await failure(extractDocument(PNG, name, opts));
      expect(err.code).toBe("SYNC_E_UNSUPPORTED_TYPE");
      expect(err.message).toContain(name);
    }
  });

  it("rejects unknown extensions, even with readable or PDF content", async () => {
    for (const [name, bytes] of [
      ["data.csv", utf8("a,b\n1,2\n")],
      ["Makefile", utf8("all:\n\techo hi\n")],
      ["report.doc", await makePdf(["x"])],
      ["image.png", PNG],
    ] as const) {
      const err = await failure(extractDocument(bytes, name, opts));
      expect(err.code).toBe("SYNC_E_UNSUPPORTED_TYPE");
      expect(err.message.startsWith(`${name}:`)).toBe(true);
    }
  });
});

describe("extractDocument: failures", () => {
  it("rejects oversize input with the size and the limit in MB", async () => {
    const err = await failure(
      extractDocument(new Uint8Array(3 * 1024 * 1024), "big.txt", { maxBytes: 2 * 1024 * 1024 }),
    );
    expect(err.code).toBe("SYNC_E_FILE_TOO_LARGE");
    expect(err.message).toBe("big.txt: file is 3 MB, over the 2 MB limit");
  });

  it("accepts input exactly at the limit", async () => {
    const doc = await extractDocument(utf8("12345"), "five.txt", { maxBytes: 5 });
    expect(doc.text).toBe("12345");
  });

  it("reports a truncated pdf as corrupt", async () => {
    const pdf = await makePdf(["Some text that will be cut off"]);
    const err = await failure(extractDocument(pdf.subarray(0, 200), "cut.pdf", opts));
    expect(err.code).toBe("SYNC_E_CORRUPT_FILE");
    expect(err.message).toContain("cut.pdf");
    expect(err.cause).toBeInstanceOf(Error);
  });

  it("reports garbage after a %PDF- header as corrupt", async () => {
    const err = await failure(extractDocument(utf8("%PDF-1.7\n1 0 obj << garbage >>\n"), "junk.pdf", opts));
    expect(err.code).toBe("SYNC_E_CORRUPT_FILE");
    expect(err.message).toMatch(/^junk\.pdf: PDF could not be read \(InvalidPDFException/);
  });

  it("reports a .pdf without any PDF structure as corrupt", async () => {
    const err = await failure(extractDocument(utf8("just some text"), "fake.pdf", opts));
    expect(err.code).toBe("SYNC_E_CORRUPT_FILE");
    expect(err.message).toContain("fake.pdf");
  });

  it("reports a password-protected pdf as encrypted", async () => {
    const pdf = await makePdf(["Top secret"], { userPassword: "secret" });
    const err = await failure(extractDocument(pdf, "locked.pdf", opts));
    expect(err.code).toBe("SYNC_E_ENCRYPTED_FILE");
    expect(err.message).toMatch(/^locked\.pdf: PDF is encrypted \(PasswordException/);
    expect((err.cause as Error).name).toBe("PasswordException");
  });

  it("reports 0-byte pdf and docx files as corrupt", async () => {
    for (const name of ["empty.pdf", "empty.docx"]) {
      const err = await failure(extractDocument(new Uint8Array(0), name, opts));
      expect(err.code).toBe("SYNC_E_CORRUPT_FILE");
      expect(err.message).toContain(name);
    }
  });

  it("reports zip-like garbage named .docx as corrupt", async () => {
    const garbage = Buffer.concat([Buffer.from("PK\u0003\u0004"), Buffer.alloc(200, 0x41)]);
    const err = await failure(extractDocument(garbage, "broken.docx", opts));
    expect(err.code).toBe("SYNC_E_CORRUPT_FILE");
    expect(err.message).toContain("broken.docx");
    expect(err.cause).toBeInstanceOf(Error);
  });

  it("reports a truncated docx as corrupt", async () => {
    const docx = await makeDocx(["Some paragraph"]);
    const err = await failure(extractDocument(docx.subarray(0, docx.length / 2), "half.docx", opts));
    expect(err.code).toBe("SYNC_E_CORRUPT_FILE");
  });

  it("reports a valid zip that is not a docx as corrupt", async () => {
    const err = await failure(extractDocument(makeZip("hello.txt", "hello"), "notword.docx", opts));
    expect(err.code).toBe("SYNC_E_CORRUPT_FILE");
    expect(err.message).toContain("notword.docx");
  });

  it("reports an OLE/CFB container named .docx as encrypted or legacy .doc", async () => {
    const cfb = Buffer.concat([
      Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
      Buffer.alloc(1024, 7),
    ]);
    const err = await failure(extractDocument(cfb, "protected.docx", opts));
    expect(err.code).toBe("SYNC_E_ENCRYPTED_FILE");
    expect(err.message).toContain("protected.docx");
    expect(err.message).toMatch(/encrypted/);
    expect(err.message).toMatch(/\.doc\b/);
  });

  it("reports an OLE/CFB container named .txt as binary content", async () => {
    const cfb = Buffer.concat([
      Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
      Buffer.alloc(1024, 7),
    ]);
    expect((await failure(extractDocument(cfb, "x.txt", opts))).code).toBe("SYNC_E_BINARY_CONTENT");
  });
});

describe("markdownTitle", () => {
  it("finds the first level-1 ATX heading", () => {
    expect(markdownTitle("# Hello world\ntext")).toBe("Hello world");
    expect(markdownTitle("text\n## Sub\n#   Spaced   #\n")).toBe("Spaced");
  });

  it("ignores front matter, fenced code, level-2 headings and hashtags", () => {
    const md =
      "---\n# yaml comment\ntitle: x\n---\n```sh\n# install deps\n```\n~~~\n# also code\n~~~\n#hashtag\n## Two\n# Real\n";
    expect(markdownTitle(md)).toBe("Real");
  });

  it("is undefined when there is no heading", () => {
    expect(markdownTitle("no heading here\n")).toBeUndefined();
    expect(markdownTitle("")).toBeUndefined();
    expect(markdownTitle("#\n")).toBeUndefined();
  });
});
