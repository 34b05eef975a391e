import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiHarness, multipartBody, startApi } from "./api-harness.js";

let h: ApiHarness;
let allowed: string;
const warnings: string[] = [];
process.on("warning", (w) => warnings.push(`${(w as { code?: string }).code ?? ""} ${w.message}`));

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
  it("building the app emits no deprecation warning (serve would print it on every start)", async () => {
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.includes("FSTDEP"))).toEqual([]);
  });

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

  it("an upload with two files, or too many fields, is 400 SYNC_E_INVALID_ARGUMENT", async () => {
    const one = multipartBody({}, { name: "a.md", content: "# A" });
    const boundary = /boundary=(.*)$/.exec(one.headers["content-type"] as string)?.[1];
    const second = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="b.md"\r\n\r\n# B\r\n`;
    const payload = Buffer.concat([Buffer.from(second), one.payload]);
    const r = await h.call("u1", { method: "POST", url: "/api/v1/documents", payload, headers: one.headers });
    expectApiError(r, 400, "SYNC_E_INVALID_ARGUMENT");
    expect(r.json().error.message).toMatch(/one file/);
    const many = multipartBody(
      { key: "k", metadata: "{}", source_id: "uploads", user_id: "u1", extra: "x" },
      { name: "a.md", content: "# A" },
    );
    expectApiError(
      await h.call("u1", { method: "POST", url: "/api/v1/documents", ...many }),
      400,
      "SYNC_E_INVALID_ARGUMENT",
    );
  });

  it("a query string on a route that takes none is refused, not ignored (user_id on search)", async () => {
    const r = await h.call("u1", {
      method: "POST",
      url: "/api/v1/search?user_id=u2",
      payload: { query: "x" },
    });
    expectApiError(r, 400, "SYNC_E_INVALID_ARGUMENT");
    expect(r.json().error.message).toContain("user_id");
    const add = await h.call("admin", {
      method: "POST",
      url: "/api/v1/sources?user_id=u2",
      payload: { source_type: "upload", source_id: "q", user_id: "u1" },
    });
    expectApiError(add, 400, "SYNC_E_INVALID_ARGUMENT");
  });

  it("two different keys in Authorization and X-API-Key are refused", async () => {
    const r = await h.app.inject({
      method: "GET",
      url: "/api/v1/me",
      headers: { authorization: `Bearer ${h.key.u1}`, "x-api-key": h.key.u2 },
    });
    expectApiError(r, 401, "SYNC_E_UNAUTHORIZED");
    const same = await h.app.inject({
      method: "GET",
      url: "/api/v1/me",
      headers: { authorization: `Bearer ${h.key.u1}`, "x-api-key": h.key.u1 },
    });
    expect(same.json()).toEqual({ role: "user", user_id: "u1" });
  });

  it("a watch path that does not exist yet, below a symlink leading out of ALLOWED_ROOTS, is refused", async () => {
    const outside = join(h.dir, "outside");
    mkdirSync(outside, { recursive: true });
    symlinkSync(outside, join(allowed, "link"));
    const r = await h.call("u1", {
      method: "POST",
      url: "/api/v1/sources",
      payload: {
        source_type: "local_filesystem",
        source_id: "escape",
        config: { watch_paths: [join(allowed, "link", "later", "deeper")] },
      },
    });
    expectApiError(r, 403, "SYNC_E_ROOT_NOT_ALLOWED");
    const fine = await h.call("u1", {
      method: "POST",
      url: "/api/v1/sources",
      payload: {
        source_type: "local_filesystem",
        source_id: "later",
        config: { watch_paths: [join(allowed, "not-yet", "there")] },
        enabled: false,
      },
    });
    expect(fine.statusCode).toBe(201);
  });
});
