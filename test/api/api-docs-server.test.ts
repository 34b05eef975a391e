import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiHarness, startApi } from "./api-harness.js";

let h: ApiHarness;

beforeAll(async () => {
  h = await startApi();
});
afterAll(async () => h.close());

/** Every route of the API, as OpenAPI names them. */
const ROUTES = [
  "get /health",
  "get /api/v1/me",
  "get /api/v1/status",
  "get /api/v1/sync/status",
  "get /api/v1/sources",
  "post /api/v1/sources",
  "get /api/v1/sources/{source_type}/{source_id}",
  "patch /api/v1/sources/{source_type}/{source_id}",
  "delete /api/v1/sources/{source_type}/{source_id}",
  "post /api/v1/sources/{source_type}/{source_id}/scan",
  "post /api/v1/documents",
  "get /api/v1/documents",
  "get /api/v1/documents/{doc_id}",
  "delete /api/v1/documents/{doc_id}",
  "post /api/v1/search",
  "post /api/v1/maintenance/cleanup-failed",
  "post /api/v1/maintenance/compact",
  "post /api/v1/maintenance/migrate",
  "get /api/v1/backup/status",
  "post /api/v1/backup",
  "get /api/v1/backup/snapshots",
  "post /api/v1/backup/drill",
  "get /metrics",
  "post /api/v1/webhooks/notion",
  "get /api/v1/webhooks/notion/verification-token",
];

interface Operation {
  security?: unknown[];
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  parameters?: Array<{ in: string; name: string }>;
}

describe("OpenAPI", () => {
  it("/docs/json is OpenAPI 3 with both security schemes and every route, inputs closed, errors documented", async () => {
    const res = await h.call("none", { method: "GET", url: "/docs/json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: "http", scheme: "bearer" }),
      apiKey: expect.objectContaining({ type: "apiKey", in: "header", name: "X-API-Key" }),
    });
    const ops = new Map<string, Operation>();
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
      for (const [method, op] of Object.entries(methods)) ops.set(`${method} ${path}`, op);
    }
    expect([...ops.keys()].sort()).toEqual([...ROUTES].sort());
    for (const [name, op] of ops) {
      expect(op.responses["4XX"], name).toBeDefined();
      for (const media of Object.values(op.requestBody?.content ?? {})) {
        expect(media.schema.additionalProperties, name).toBe(false);
      }
    }
    expect(ops.get("get /health")?.security).toEqual([]);
    expect(ops.get("get /api/v1/status")?.security).toBeUndefined();
    expect(doc.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(Object.keys(ops.get("post /api/v1/documents")?.requestBody?.content ?? {})).toEqual([
      "multipart/form-data",
    ]);
    const ui = await h.call("none", { method: "GET", url: "/docs/" });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers["content-type"]).toContain("text/html");
  });
});

describe("a listening server", () => {
  it("serves on 127.0.0.1 with a key over real HTTP", async () => {
    const { app } = h;
    await app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const health = await fetch(`${base}/health`);
    expect(await health.json()).toEqual({ status: "ok" });
    const denied = await fetch(`${base}/api/v1/me`);
    expect(denied.status).toBe(401);
    const me = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${h.key.u1}` } });
    expect(await me.json()).toEqual({ role: "user", user_id: "u1" });
    const form = new FormData();
    form.append("file", new Blob(["# Over the wire\n\nsent by fetch"]), "wire.md");
    const up = await fetch(`${base}/api/v1/documents`, {
      method: "POST",
      headers: { "x-api-key": h.key.u1 },
      body: form,
    });
    expect(up.status).toBe(201);
    expect(await up.json()).toMatchObject({ key: "wire.md", status: "added" });
  });
});
