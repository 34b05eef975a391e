import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, type ErrorCode } from "../../src/errors/codes.js";
import { describeError, isSyncError, SyncError } from "../../src/errors/sync-error.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

describe("error table", () => {
  it("has codes", () => {
    expect(CODES.length).toBeGreaterThan(10);
  });

  it.each(CODES)("%s: SYNC_E_ prefix, status 400-599, a message and a retryable flag", (code) => {
    const entry = ERROR_CODES[code];
    expect(code).toMatch(/^SYNC_E_[A-Z0-9_]+$/);
    expect(Number.isInteger(entry.status)).toBe(true);
    expect(entry.status).toBeGreaterThanOrEqual(400);
    expect(entry.status).toBeLessThanOrEqual(599);
    expect(entry.message.trim().length).toBeGreaterThan(0);
    expect(typeof entry.retryable).toBe("boolean");
  });

  it("every code used in src/ exists in the table", () => {
    const files = sourceFiles(join(ROOT, "src"));
    expect(files.length).toBeGreaterThan(10);
    const unknown = new Map<string, string>();
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      for (const m of text.matchAll(/"(SYNC_E_[A-Z_]+)"/g)) {
        if (!((m[1] as string) in ERROR_CODES)) unknown.set(m[1] as string, f);
      }
      // Codes named in comments and messages too (`SYNC_E_…`).
      for (const m of text.matchAll(/\bSYNC_E_[A-Z0-9_]*[A-Z0-9]\b/g)) {
        if (!(m[0] in ERROR_CODES)) unknown.set(m[0], f);
      }
    }
    expect(Object.fromEntries(unknown)).toEqual({});
  });

  it("docs/errors.md lists every code", () => {
    const path = join(ROOT, "docs", "errors.md");
    expect(existsSync(path), "docs/errors.md is missing").toBe(true);
    const text = readFileSync(path, "utf8");
    expect(CODES.filter((c) => !new RegExp(`\\b${c}\\b`).test(text))).toEqual([]);
  });
});

describe("SyncError", () => {
  it("takes status and retryable from the table and a default message", () => {
    for (const code of CODES) {
      const e = new SyncError(code);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe("SyncError");
      expect(e.code).toBe(code);
      expect(e.status).toBe(ERROR_CODES[code].status);
      expect(e.retryable).toBe(ERROR_CODES[code].retryable);
      expect(e.message).toBe(ERROR_CODES[code].message);
    }
    expect(new SyncError("SYNC_E_STORAGE", "x", { retryable: false }).retryable).toBe(false);
  });

  it("isSyncError checks the class and optionally the code", () => {
    const e = new SyncError("SYNC_E_NOT_FOUND", "nope");
    expect(isSyncError(e)).toBe(true);
    expect(isSyncError(e, "SYNC_E_NOT_FOUND")).toBe(true);
    expect(isSyncError(e, "SYNC_E_INTERNAL")).toBe(false);
    expect(isSyncError(new Error("x"))).toBe(false);
    expect(isSyncError({ code: "SYNC_E_NOT_FOUND" })).toBe(false);
  });

  it("describeError joins the cause chain on one line without repeats", () => {
    const root = new Error("ENOENT: no such file\n  at x");
    const mid = new SyncError("SYNC_E_READ_FAILED", "a.txt: read failed", { cause: root });
    expect(describeError(new SyncError("SYNC_E_STORAGE", "sync failed", { cause: mid }))).toBe(
      "sync failed: a.txt: read failed: ENOENT: no such file at x",
    );
    expect(describeError("plain")).toBe("plain");
    const again = new Error("boom", { cause: new Error("boom") });
    expect(describeError(again)).toBe("boom");
  });
});
