import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey } from "../../src/api/api-keys.js";
import { type ApiHarness, multipartBody, startApi } from "./api-harness.js";

let h: ApiHarness;

beforeAll(async () => {
  h = await startApi();
  const folder = h.folder("u2-docs", { "secret.md": "# Secret\n\nonly for u2" });
  await h.system.sources.add({
    userId: "u2",
    sourceId: "private",
    type: "local_filesystem",
    config: { watch_paths: [folder] },
  });
  await h.system.syncSource({ userId: "u2", sourceId: "private" });
});
afterAll(async () => h.close());

/** Every route but health and docs, with a body that would be valid. */
const PROTECTED: Array<{ method: "GET" | "POST" | "PATCH" | "DELETE"; url: string; payload?: object }> = [
  { method: "GET", url: "/api/v1/me" },
  { method: "GET", url: "/api/v1/status" },
  { method: "GET", url: "/api/v1/sync/status" },
  { method: "GET", url: "/api/v1/sources" },
  { method: "POST", url: "/api/v1/sources", payload: { source_type: "upload", source_id: "x" } },
  { method: "GET", url: "/api/v1/sources/upload/x" },
  { method: "PATCH", url: "/api/v1/sources/upload/x", payload: { enabled: false } },
  { method: "DELETE", url: "/api/v1/sources/upload/x" },
  { method: "POST", url: "/api/v1/sources/upload/x/scan" },
  { method: "POST", url: "/api/v1/documents" },
  { method: "GET", url: "/api/v1/documents" },
  { method: "GET", url: "/api/v1/documents/abc" },
  { method: "DELETE", url: "/api/v1/documents/abc" },
  { method: "POST", url: "/api/v1/search", payload: { query: "x" } },
  { method: "POST", url: "/api/v1/maintenance/cleanup-failed", payload: {} },
  { method: "POST", url: "/api/v1/maintenance/compact", payload: {} },
  { method: "POST", url: "/api/v1/maintenance/migrate", payload: { table: "t", all_users: true } },
  { method: "GET", url: "/metrics" },
];

describe("API keys", () => {
  it("every route but /health and /docs answers 401 SYNC_E_UNAUTHORIZED without a key, or with an unknown one", async () => {
    for (const r of PROTECTED) {
      const none = await h.call("none", r);
      expect(none.statusCode, `${r.method} ${r.url}`).toBe(401);
      expect(none.json()).toEqual({
        error: { code: "SYNC_E_UNAUTHORIZED", message: expect.stringContaining("API key is required") },
      });
      const bad = await h.app.inject({ ...r, headers: { "x-api-key": "lsk_not-a-key" } });
      expect(bad.statusCode).toBe(401);
      expect(bad.json().error.message).toContain("not valid");
    }
    expect((await h.call("none", { method: "GET", url: "/health" })).json()).toEqual({ status: "ok" });
    expect((await h.call("none", { method: "GET", url: "/docs/json" })).statusCode).toBe(200);
    expect((await h.call("none", { method: "GET", url: "/docs" })).statusCode).toBeLessThan(400);
  });

  it("accepts Authorization: Bearer and X-API-Key; /api/v1/me says who the key is", async () => {
    const bearer = await h.app.inject({
      url: "/api/v1/me",
      headers: { authorization: `Bearer ${h.key.u1}` },
    });
    expect(bearer.json()).toEqual({ role: "user", user_id: "u1" });
    const header = await h.app.inject({ url: "/api/v1/me", headers: { "x-api-key": h.key.admin } });
    expect(header.json()).toEqual({ role: "admin", user_id: null });
  });

  it("a revoked key stops working at once (the file is re-read when it changes)", async () => {
    const k = await h.keys.create({ userId: "u3" });
    expect((await h.app.inject({ url: "/api/v1/me", headers: { "x-api-key": k.key } })).statusCode).toBe(200);
    await h.keys.revoke(k.id);
    expect((await h.app.inject({ url: "/api/v1/me", headers: { "x-api-key": k.key } })).statusCode).toBe(401);
  });

  it("a user key sees only its own user's data: another user's source and documents are 404", async () => {
    const docs = await h.call("u2", { method: "GET", url: "/api/v1/documents" });
    const [doc] = docs.json().documents;
    expect(doc.title).toBe("Secret");

    expect((await h.call("u1", { method: "GET", url: "/api/v1/sources" })).json()).toEqual({ sources: [] });
    const src = await h.call("u1", { method: "GET", url: "/api/v1/sources/local_filesystem/private" });
    expect(src.statusCode).toBe(404);
    expect(src.json().error.code).toBe("SYNC_E_NOT_FOUND");
    expect(src.body).not.toContain("u2");
    for (const method of ["PATCH", "DELETE"] as const) {
      const r = await h.call("u1", {
        method,
        url: "/api/v1/sources/local_filesystem/private",
        ...(method === "PATCH" ? { payload: { enabled: false } } : {}),
      });
      expect(r.statusCode).toBe(404);
    }
    expect(
      (await h.call("u1", { method: "POST", url: "/api/v1/sources/local_filesystem/private/scan" }))
        .statusCode,
    ).toBe(404);
    for (const method of ["GET", "DELETE"] as const) {
      const r = await h.call("u1", { method, url: `/api/v1/documents/${doc.doc_id}` });
      expect(r.statusCode).toBe(404);
      expect(r.json().error.code).toBe("SYNC_E_NOT_FOUND");
    }
    const hits = await h.call("u1", { method: "POST", url: "/api/v1/search", payload: { query: "secret" } });
    expect(hits.json()).toEqual({ hits: [] });
    const status = await h.call("u1", { method: "GET", url: "/api/v1/status" });
    expect(status.json()).toMatchObject({ documents: 0, sources: [], tables: [] });
    // The source is untouched.
    expect((await h.call("u2", { method: "GET", url: "/api/v1/sources" })).json().sources[0]).toMatchObject({
      source_id: "private",
      enabled: true,
    });
  });

  it("a user key naming another user is 403 SYNC_E_FORBIDDEN; admin-only routes are 403 for users", async () => {
    const named = [
      { method: "GET" as const, url: "/api/v1/sources?user_id=u2" },
      { method: "GET" as const, url: "/api/v1/status?user_id=u2" },
      { method: "GET" as const, url: "/api/v1/documents?user_id=u2" },
      { method: "POST" as const, url: "/api/v1/search", payload: { query: "secret", user_id: "u2" } },
      { method: "POST" as const, url: "/api/v1/maintenance/cleanup-failed", payload: { user_id: "u2" } },
      {
        method: "POST" as const,
        url: "/api/v1/sources",
        payload: { source_type: "upload", source_id: "x", user_id: "u2" },
      },
    ];
    for (const r of named) {
      const res = await h.call("u1", r);
      expect(res.statusCode, r.url).toBe(403);
      expect(res.json().error.code).toBe("SYNC_E_FORBIDDEN");
    }
    for (const r of [
      { method: "GET" as const, url: "/metrics" },
      { method: "POST" as const, url: "/api/v1/maintenance/compact", payload: {} },
      {
        method: "POST" as const,
        url: "/api/v1/maintenance/migrate",
        payload: { table: "t", assign_user: "u1", dry_run: true },
      },
    ]) {
      const res = await h.call("u1", r);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe("SYNC_E_FORBIDDEN");
    }
    // Naming oneself is fine.
    expect((await h.call("u1", { method: "GET", url: "/api/v1/sources?user_id=u1" })).statusCode).toBe(200);
  });

  it("an admin key sees every user, names the user where a route needs one (else 400)", async () => {
    const all = await h.call("admin", { method: "GET", url: "/api/v1/sources" });
    expect(all.json().sources.map((s: { user_id: string }) => s.user_id)).toContain("u2");
    const status = await h.call("admin", { method: "GET", url: "/api/v1/status" });
    expect(status.json().tables.length).toBe(2);
    const missing = await h.call("admin", { method: "GET", url: "/api/v1/documents" });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.message).toContain("user_id is required");
    const docs = await h.call("admin", { method: "GET", url: "/api/v1/documents?user_id=u2" });
    expect(docs.json().documents).toHaveLength(1);
    const hits = await h.call("admin", {
      method: "POST",
      url: "/api/v1/search",
      payload: { query: "secret", mode: "vector", user_id: "u2" },
    });
    expect(hits.json().hits[0]).toMatchObject({ source_id: "private", title: "Secret" });
    const src = await h.call("admin", {
      method: "GET",
      url: "/api/v1/sources/local_filesystem/private?user_id=u2",
    });
    expect(src.json().source.user_id).toBe("u2");
  });

  it("ids are checked before anything is read: an injected document or source id is 400; an injection-like user id is one literal", async () => {
    const evil = encodeURIComponent("x' OR '1'='1");
    for (const url of [`/api/v1/documents/${evil}`, `/api/v1/sources/local_filesystem/${evil}`]) {
      const r = await h.call("admin", { method: "GET", url });
      expect(r.statusCode, url).toBe(400);
      expect(r.json().error.code).toBe("SYNC_E_INVALID_ARGUMENT");
    }
    // User ids of identity providers may hold quotes: such an id is escaped into one literal and matches
    // only its own (here: no) rows, never widening the query.
    const docs = await h.call("admin", { method: "GET", url: `/api/v1/documents?user_id=${evil}` });
    expect(docs.statusCode, docs.body).toBe(200);
    expect(docs.json().documents).toEqual([]);
    const body = await h.call("admin", {
      method: "POST",
      url: "/api/v1/search",
      payload: { query: "secret", user_id: "x' OR '1'='1" },
    });
    expect(body.statusCode, body.body).toBe(200);
    expect(body.json().hits).toEqual([]);
    const bad = await h.call("admin", {
      method: "POST",
      url: "/api/v1/search",
      payload: { query: "secret", user_id: "a/b" },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain("body.user_id");
  });

  it("never writes keys, their hashes or the auth headers to the log", async () => {
    await h.call("u1", { method: "GET", url: "/api/v1/status" });
    await h.app.inject({ url: "/api/v1/me", headers: { "x-api-key": h.key.u2 } });
    await h.app.inject({ url: "/api/v1/me", headers: { "x-api-key": "lsk_wrong-key-value" } });
    await h.call("admin", { method: "POST", url: "/api/v1/search", payload: { query: 42 } });
    // @fastify/multipart logs its busboy options, request headers included, at trace level.
    const form = multipartBody({}, { name: "note.md", content: "# Note" });
    await h.call("u1", { method: "POST", url: "/api/v1/documents", ...form });
    expect(h.logs.join("")).toContain("Providing options to busboy");
    const log = h.logs.join("");
    expect(h.logs.length).toBeGreaterThan(10);
    expect(log).toContain('"url":"/api/v1/me"');
    for (const secret of [h.key.u1, h.key.u2, h.key.admin, "lsk_wrong-key-value"]) {
      expect(log).not.toContain(secret);
      expect(log).not.toContain(hashApiKey(secret));
      expect(log).not.toContain(hashApiKey(secret).slice(0, 12));
    }
    expect(log).not.toMatch(/"authorization"\s*:/i);
    expect(log).not.toMatch(/"x-api-key"\s*:/i);
  });
});

describe("rate limit", () => {
  it("answers 429 SYNC_E_RATE_LIMITED with Retry-After past the limit, per key; /health is exempt", async () => {
    const limited = await startApi({ rateLimitPerMinute: 3 });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await limited.call("u1", { url: "/api/v1/me" })).statusCode);
      expect(codes).toEqual([200, 200, 200, 429]);
      const res = await limited.call("u1", { url: "/api/v1/me" });
      expect(res.statusCode).toBe(429);
      expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
      expect(res.json().error.code).toBe("SYNC_E_RATE_LIMITED");
      // Another key has its own budget; /health has none.
      expect((await limited.call("u2", { url: "/api/v1/me" })).statusCode).toBe(200);
      for (let i = 0; i < 5; i++) {
        expect((await limited.call("none", { url: "/health" })).statusCode).toBe(200);
      }
      // Requests without a valid key are counted by address: guessing keys is limited too.
      const guesses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await limited.app.inject({ url: "/api/v1/me", headers: { "x-api-key": `lsk_guess${i}` } });
        guesses.push(r.statusCode);
      }
      expect(guesses).toEqual([401, 401, 401, 429]);
    } finally {
      await limited.close();
    }
  });
});
