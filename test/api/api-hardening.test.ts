import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiHarness, startApi } from "./api-harness.js";

let h: ApiHarness;
let allowed: string;

beforeAll(async () => {
  h = await startApi((dir) => ({ allowedRoots: join(dir, "allowed") }));
  allowed = join(h.dir, "allowed");
  mkdirSync(allowed, { recursive: true });
});
afterAll(async () => h.close());

/** Every error answer has the API's shape. */
function expectApiError(r: { statusCode: number; json(): unknown }, status: number, code: string): void {
  expect(r.statusCode).toBe(status);
  expect(r.json()).toEqual({ error: { code, message: expect.any(String) } });
}

describe("hostile requests", () => {
  it("an id of the longest allowed length works in a path; longer ones and bad escapes are API errors", async () => {
    const id = `s${"x".repeat(127)}`;
    const added = await h.call("u1", {
      method: "POST",
      url: "/api/v1/sources",
      payload: { source_type: "upload", source_id: id },
    });
    expect(added.statusCode).toBe(201);
    const got = await h.call("u1", { method: "GET", url: `/api/v1/sources/upload/${id}` });
    expect(got.statusCode).toBe(200);
    expect(got.json().source.source_id).toBe(id);
    const tooLong = await h.call("u1", { method: "GET", url: `/api/v1/documents/${"a".repeat(5000)}` });
    expectApiError(tooLong, 400, "SYNC_E_INVALID_ARGUMENT");
    expect(tooLong.body.length).toBeLessThan(1000);
    expectApiError(
      await h.call("u1", { method: "GET", url: "/api/v1/documents/%zz" }),
      400,
      "SYNC_E_INVALID_ARGUMENT",
    );
  });
});
