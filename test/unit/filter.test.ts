import { describe, expect, it } from "vitest";
import { isSyncError } from "../../src/errors/sync-error.js";
import {
  and,
  eq,
  ID_PATTERN,
  inList,
  sqlString,
  USER_ID_PATTERN,
  userFilter,
  validateId,
} from "../../src/storage/filter.js";
import { thrown } from "../helpers/caught.js";

describe("filter helpers", () => {
  it("validateId accepts plain ids up to 128 characters", () => {
    for (const id of ["alice", "a", "user@example.com", "team-1_x.y", "A".repeat(128), "0abc"]) {
      expect(validateId("user id", id)).toBe(id);
    }
  });

  it("validateId accepts user ids of identity providers, quotes included, and refuses them as source names", () => {
    const ids = [
      "auth0|5f3c8e2b9a1d4c0012345678",
      "google-oauth2|103456789012345678901",
      "ann+work@example.com",
      "550e8400-e29b-41d4-a716-446655440000",
      "o'brien@example.com",
      '"quoted"@example.com',
      "x' OR '1'='1",
      ".hidden",
      "U".repeat(256),
    ];
    for (const id of ids) {
      expect(validateId("user id", id)).toBe(id);
      expect(USER_ID_PATTERN.test(id)).toBe(true);
    }
    for (const id of ["o'brien@example.com", "x' OR '1'='1"]) {
      expect(
        isSyncError(
          thrown(() => validateId("source id", id)),
          "SYNC_E_INVALID_ID",
        ),
      ).toBe(true);
    }
  });

  it.each([
    [""],
    ["/"],
    ["a/b"],
    ["a\\b"],
    ["U".repeat(257)],
    [" alice"],
    ["alice "],
    ["alice\n"],
    ["a\tb"],
    ["-x"],
    ["a\0b"],
  ])("validateId rejects the user id %j with SYNC_E_INVALID_ID naming the field", (bad) => {
    const err = thrown(() => validateId("user id", bad));
    expect(isSyncError(err, "SYNC_E_INVALID_ID")).toBe(true);
    expect((err as Error).message).toContain("user id");
    expect(USER_ID_PATTERN.test(bad)).toBe(false);
  });

  it.each([
    ["x' OR '1'='1"],
    [""],
    ["/"],
    ["a/b"],
    ["../etc"],
    ["A".repeat(129)],
    [" alice"],
    ["alice\n"],
    ["-leading-dash"],
    [".hidden"],
    ["a\0b"],
    ["al ice"],
    ["ali'ce"],
    ['ali"ce'],
  ])("validateId rejects the source name %j with SYNC_E_INVALID_ID naming the field", (bad) => {
    const err = thrown(() => validateId("source name", bad));
    expect(isSyncError(err, "SYNC_E_INVALID_ID")).toBe(true);
    expect((err as Error).message).toContain("source name");
    expect(ID_PATTERN.test(bad)).toBe(false);
  });

  it("sqlString quotes and doubles single quotes", () => {
    expect(sqlString("abc")).toBe("'abc'");
    expect(sqlString("O'Brien")).toBe("'O''Brien'");
    expect(sqlString("x' OR '1'='1")).toBe("'x'' OR ''1''=''1'");
    expect(sqlString("''")).toBe("''''''");
    expect(sqlString("")).toBe("''");
    // LanceDB (DataFusion) string literals have no backslash escapes: backslashes pass through unchanged
    // (test/integration/filter-lancedb.test.ts proves it against LanceDB's own parser).
    expect(sqlString("a\\b")).toBe("'a\\b'");
    expect(sqlString("trailing\\")).toBe("'trailing\\'");
    expect(sqlString("x\\'y")).toBe("'x\\''y'");
    expect(sqlString('say "hi" 100%_ 中文 😀\n')).toBe(`'say "hi" 100%_ 中文 😀\n'`);
    expect(
      isSyncError(
        thrown(() => sqlString("a\0b")),
        "SYNC_E_INVALID_ARGUMENT",
      ),
    ).toBe(true);
  });

  it("inList of an empty list is `false`; otherwise every value is escaped", () => {
    expect(inList("doc_id", [])).toBe("false");
    expect(inList("doc_id", ["a", "b'c"])).toBe("doc_id IN ('a', 'b''c')");
  });

  it("column names are checked", () => {
    expect(eq("item_key", "k")).toBe("item_key = 'k'");
    expect(
      isSyncError(
        thrown(() => eq("x; DROP", "k")),
        "SYNC_E_INVALID_ARGUMENT",
      ),
    ).toBe(true);
    expect(
      isSyncError(
        thrown(() => inList("Doc-Id", ["a"])),
        "SYNC_E_INVALID_ARGUMENT",
      ),
    ).toBe(true);
  });

  it("userFilter scopes to one user, escaping quotes in the id", () => {
    expect(userFilter("alice")).toBe("user_id = 'alice'");
    expect(userFilter("bob@example.com")).toBe("user_id = 'bob@example.com'");
    expect(userFilter("x' OR '1'='1")).toBe("user_id = 'x'' OR ''1''=''1'");
    expect(
      isSyncError(
        thrown(() => userFilter("a/b")),
        "SYNC_E_INVALID_ID",
      ),
    ).toBe(true);
  });

  it("and() parenthesises every filter", () => {
    expect(and("a = 1", "b = 2 OR c = 3")).toBe("(a = 1) AND (b = 2 OR c = 3)");
  });
});
