import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { decodeText } from "../../src/pipeline/extract/decode-text.js";
import { extractDocument } from "../../src/pipeline/extract/extract-document.js";

const opts = { maxBytes: 1024 * 1024 };
const FRENCH =
  "Le café déjà vu – naïve “quotes” à la française. Où est la bibliothèque ? Très élégant, n’est-ce pas ? " +
  "Voilà une phrase assez longue pour que la détection soit sûre : garçon, œuvre, château, forêt, Noël. ";

function utf16be(text: string): Buffer {
  return Buffer.from(text, "utf16le").swap16();
}

describe("decodeText", () => {
  it("decodes plain UTF-8 and reports utf-8", () => {
    expect(decodeText(Buffer.from("héllo ✓ 日本"), "a.txt")).toEqual({
      text: "héllo ✓ 日本",
      encoding: "utf-8",
    });
  });

  it("strips a UTF-8 BOM", () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("# Tïtle\n")]);
    expect(decodeText(bytes, "a.md")).toEqual({ text: "# Tïtle\n", encoding: "utf-8" });
  });

  it("decodes UTF-16LE and UTF-16BE with a BOM", () => {
    const text = "Grüße aus Köln – 東京\r\n";
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
    const be = Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(text)]);
    expect(decodeText(le, "le.txt")).toEqual({ text, encoding: "utf-16le" });
    expect(decodeText(be, "be.txt")).toEqual({ text, encoding: "utf-16be" });
  });

  it("decodes UTF-16LE and UTF-16BE without a BOM by their NUL pattern", () => {
    const text = "Plain ASCII mostly, with an accent: café.\n";
    expect(decodeText(Buffer.from(text, "utf16le"), "le.txt")).toEqual({ text, encoding: "utf-16le" });
    expect(decodeText(utf16be(text), "be.txt")).toEqual({ text, encoding: "utf-16be" });
  });

  it("decodes UTF-32LE with a BOM", () => {
    const text = "wide text";
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), iconv.encode(text, "utf-32le")]);
    expect(decodeText(bytes, "w.txt")).toEqual({ text, encoding: "utf-32le" });
  });

  it("decodes windows-1252 text, including the 0x80–0x9F punctuation", () => {
    const bytes = iconv.encode(FRENCH, "windows-1252");
    expect(decodeText(bytes, "fr.txt")).toEqual({ text: FRENCH, encoding: "windows-1252" });
  });

  it("reads text chardet calls ISO-8859-1 as windows-1252", () => {
    const text =
      "Le café est déjà prêt, la bibliothèque est fermée à midi. Où êtes-vous ? Très bien, merci. ".repeat(3);
    expect(decodeText(iconv.encode(text, "latin1"), "fr.txt")).toEqual({ text, encoding: "windows-1252" });
  });

  it("decodes Shift_JIS", () => {
    const text = "日本語のテキストです。これはシフトJISでエンコードされた文章です。東京は日本の首都です。";
    expect(decodeText(iconv.encode(text, "shift_jis"), "ja.txt")).toEqual({ text, encoding: "shift_jis" });
  });

  it("keeps CRLF and lone CR line endings", () => {
    expect(decodeText(Buffer.from("a\r\nb\rc\n"), "x.txt").text).toBe("a\r\nb\rc\n");
  });

  it("decodes empty input as empty utf-8 text", () => {
    expect(decodeText(new Uint8Array(0), "e.txt")).toEqual({ text: "", encoding: "utf-8" });
  });
});

describe("extractDocument with odd encodings", () => {
  it("reports the encoding of a windows-1252 markdown file and finds its title", async () => {
    const bytes = iconv.encode(`# Café policy\n\n${FRENCH}`, "windows-1252");
    const doc = await extractDocument(bytes, "cafe.md", opts);
    expect(doc).toMatchObject({ encoding: "windows-1252", title: "Café policy", mimeType: "text/markdown" });
    expect(doc.text).toContain("naïve “quotes”");
  });

  it("extracts UTF-16LE text without a BOM (its NULs are not binary)", async () => {
    const doc = await extractDocument(Buffer.from("Hello UTF-16 world\n", "utf16le"), "u16.txt", opts);
    expect(doc).toEqual({ text: "Hello UTF-16 world\n", mimeType: "text/plain", encoding: "utf-16le" });
  });

  it("extracts UTF-16LE html with a BOM", async () => {
    const html = "<html><head><title>Überblick</title></head><body><p>Grüße</p></body></html>";
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(html, "utf16le")]);
    const doc = await extractDocument(bytes, "page.html", opts);
    expect(doc).toMatchObject({ text: "Grüße", title: "Überblick", encoding: "utf-16le" });
  });

  it("extracts UTF-16LE text whose characters produce control bytes", async () => {
    const text = "āāā ĀĀĀ ćēī plus enough ASCII text to show the NUL pattern clearly\n";
    const doc = await extractDocument(Buffer.from(text, "utf16le"), "latin-ext.txt", opts);
    expect(doc.text).toBe(text);
  });

  it("accepts a DOS end-of-file marker and ANSI escapes as text", async () => {
    const doc = await extractDocument(
      Buffer.from("log \u001b[31mred\u001b[0m line\r\n\u001a"),
      "old.txt",
      opts,
    );
    expect(doc.text).toBe("log \u001b[31mred\u001b[0m line\r\n\u001a");
  });
});
