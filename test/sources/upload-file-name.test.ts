import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../../src/errors/codes.js";
import { isSyncError, type SyncError } from "../../src/errors/sync-error.js";
import { EXTENSION_KINDS } from "../../src/pipeline/extract/detect-type.js";
import {
  type CheckUploadNameOptions,
  checkUploadKey,
  checkUploadName,
  quoteForMessage,
  UPLOAD_EXTENSIONS,
} from "../../src/sources/upload/upload-file-name.js";
import { thrown } from "../helpers/caught.js";

const MB = 1024 * 1024;
const options = (sizeBytes = 1000): CheckUploadNameOptions => ({
  maxFileBytes: 10 * MB,
  sizeBytes,
  supportedExtensions: UPLOAD_EXTENSIONS,
});

/** [file name, size in bytes, expected code, text the message must contain besides the quoted name] */
const REFUSED: Array<[string, number, ErrorCode, string]> = [
  ["../../etc/passwd", 10, "SYNC_E_FILENAME_INVALID", "is a path with a .. component"],
  ["/etc/passwd", 10, "SYNC_E_FILENAME_INVALID", "is a path: give a bare file name such as report.pdf"],
  ["..", 10, "SYNC_E_FILENAME_INVALID", "consists only of dots"],
  [".", 10, "SYNC_E_FILENAME_INVALID", "consists only of dots"],
  ["a/b.txt", 10, "SYNC_E_FILENAME_INVALID", "is a path"],
  ["a\\b.txt", 10, "SYNC_E_FILENAME_INVALID", "is a path"],
  ["..\\..\\boot.ini", 10, "SYNC_E_FILENAME_INVALID", "is a path with a .. component"],
  ["C:evil.txt", 10, "SYNC_E_FILENAME_INVALID", "drive prefix"],
  ["re\u0000port.pdf", 10, "SYNC_E_FILENAME_INVALID", "control characters"],
  ["re\nport.txt", 10, "SYNC_E_FILENAME_INVALID", "control characters"],
  ["\treport.txt", 10, "SYNC_E_FILENAME_INVALID", "control characters"],
  ["\u0085x.txt", 10, "SYNC_E_FILENAME_INVALID", "control characters"],
  ["x\u007f.txt", 10, "SYNC_E_FILENAME_INVALID", "control characters"],
  ["bad\ud800.txt", 10, "SYNC_E_FILENAME_INVALID", "lone surrogate"],
  ["", 10, "SYNC_E_FILENAME_INVALID", "is empty"],
  ["   ", 10, "SYNC_E_FILENAME_INVALID", "is empty"],
  [`${"é".repeat(148)}.txt`, 10, "SYNC_E_FILENAME_INVALID", "is 300 bytes long in UTF-8; the limit is 255"],
  ["x.exe", 10, "SYNC_E_UNSUPPORTED_TYPE", "unsupported file type .exe; supported: .txt, .md"],
  ["noext", 10, "SYNC_E_UNSUPPORTED_TYPE", "(no extension)"],
  [".md", 10, "SYNC_E_UNSUPPORTED_TYPE", "(no extension)"],
  ["report.pdf.", 10, "SYNC_E_UNSUPPORTED_TYPE", "(no extension)"],
  ["big.pdf", 12.5 * MB, "SYNC_E_FILE_TOO_LARGE", "12.5 MB exceeds the 10.0 MB limit"],
];

describe("checkUploadName", () => {
  it.each(REFUSED)("refuses %j (size %d) with %s", (name, size, code, rule) => {
    const err = thrown(() => checkUploadName(name, options(size)));
    expect(isSyncError(err, code)).toBe(true);
    const message = (err as SyncError).message;
    expect(message).toContain(quoteForMessage(name));
    expect(message).toContain(rule);
  });

  it("shows control characters escaped in the message, C1 included", () => {
    const err = thrown(() => checkUploadName("\u0085x\u0000.txt", options())) as SyncError;
    expect(err.message).toContain('"\\u0085x\\u0000.txt"');
    expect(err.message).not.toMatch(/\p{Cc}/u);
  });

  it.each([
    ["report.pdf", "report.pdf"],
    ["résumé.PDF", "résumé.PDF"],
    ["re\u0301sume\u0301.pdf", "résumé.pdf"], // decomposed (NFD, as macOS gives) becomes NFC
    ["日本語.md", "日本語.md"],
    ["my report (v2).docx", "my report (v2).docx"],
    ["  notes.MarkDown  ", "notes.MarkDown"],
    ["page.HTM", "page.HTM"],
    ["v1.2.final.txt", "v1.2.final.txt"],
    ["..hidden-looking.txt", "..hidden-looking.txt"],
    [`${"é".repeat(125)}.txt`, `${"é".repeat(125)}.txt`], // 254 bytes
  ])("accepts %j as %j", (name, stored) => {
    const result = checkUploadName(name, options());
    expect(result).toBe(stored);
    expect(result).toBe(result.normalize("NFC"));
  });

  it("accepts a file of exactly the size limit", () => {
    expect(checkUploadName("a.txt", options(10 * MB))).toBe("a.txt");
  });

  it("compares extensions case-insensitively with the list given", () => {
    const opts = { ...options(), supportedExtensions: [".PDF"] };
    expect(checkUploadName("x.pdf", opts)).toBe("x.pdf");
    expect(
      isSyncError(
        thrown(() => checkUploadName("x.txt", opts)),
        "SYNC_E_UNSUPPORTED_TYPE",
      ),
    ).toBe(true);
  });

  it("offers by default exactly the extensions the extract layer parses", () => {
    expect([...UPLOAD_EXTENSIONS].sort()).toEqual(
      Object.keys(EXTENSION_KINDS)
        .map((e) => `.${e}`)
        .sort(),
    );
  });
});

describe("checkUploadKey", () => {
  it.each([
    "report.pdf",
    "crm/accounts/42/contract.pdf",
    "../not/a/path",
    " spaced key ",
    "日本語",
    "x".repeat(512),
  ])("accepts %j unchanged", (key) => {
    expect(checkUploadKey(key)).toBe(key);
  });

  it.each([
    ["", "is empty"],
    ["x".repeat(513), "is 513 characters long; the limit is 512"],
    ["a\u0000b", "control characters"],
    ["a\nb", "control characters"],
    ["a\u009bb", "control characters"],
    ["a\udc00b", "lone surrogate"],
  ])("refuses %j with SYNC_E_INVALID_ARGUMENT naming it", (key, rule) => {
    const err = thrown(() => checkUploadKey(key));
    expect(isSyncError(err, "SYNC_E_INVALID_ARGUMENT")).toBe(true);
    expect((err as SyncError).message).toContain(quoteForMessage(key, 100));
    expect((err as SyncError).message).toContain(rule);
  });
});
