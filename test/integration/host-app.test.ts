import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "../../examples/host-app/src/app.js";
import type { SyncError } from "../../src/errors/sync-error.js";
import { rejection } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";

type App = ReturnType<typeof buildApp>;

/** A multipart body with one file (and an optional `metadata` field), as a browser's FormData sends it. */
async function multipartBody(
  filename: string,
  bytes: string | Uint8Array,
  metadata?: unknown,
): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData();
  if (metadata !== undefined) form.append("metadata", JSON.stringify(metadata));
  form.append("file", new Blob([typeof bytes === "string" ? bytes : new Uint8Array(bytes)]), filename);
  const encoded = new Response(form);
  return {
    payload: Buffer.from(await encoded.arrayBuffer()),
    headers: { "content-type": encoded.headers.get("content-type") ?? "" },
  };
}

describe("examples/host-app: a Fastify application using lancedb-sync as a library", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function startApp(settings?: Parameters<typeof buildApp>[0]["settings"]): Promise<App> {
    const tmp = makeTempDir("lancedb-sync-host-app-");
    cleanups.push(tmp.cleanup);
    const app = buildApp({ dataDir: tmp.path, settings });
    cleanups.push(() => app.close());
    await app.ready();
    return app;
  }

  async function upload(
    app: App,
    userId: string,
    filename: string,
    bytes: string | Uint8Array,
    metadata?: unknown,
  ) {
    const body = await multipartBody(filename, bytes, metadata);
    return app.inject({ method: "POST", url: `/users/${userId}/documents`, ...body });
  }

  async function search(app: App, userId: string, q: string, mode = "hybrid") {
    const r = await app.inject({
      method: "GET",
      url: `/users/${userId}/search`,
      query: { q, mode },
    });
    expect(r.statusCode, r.body).toBe(200);
    return r.json().hits as Array<{ doc_id: string; text: string; metadata: Record<string, unknown> }>;
  }

  it("health answers ok", async () => {
    const app = await startApp();
    const r = await app.inject({ method: "GET", url: "/health" });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ status: "ok" });
  });

  it("upload adds, the same bytes are unchanged, new bytes update; search finds it with its metadata", async () => {
    const app = await startApp();
    const first = await upload(app, "alice", "notes.md", "# Notes\n\nThe zanzibarquokka eats bread.\n", {
      team: "x",
    });
    expect(first.statusCode, first.body).toBe(200);
    const added = first.json();
    expect(added).toMatchObject({ status: "added", key: "notes.md", source_id: "uploads" });
    expect(added.chunks).toBeGreaterThan(0);

    const again = await upload(app, "alice", "notes.md", "# Notes\n\nThe zanzibarquokka eats bread.\n", {
      team: "x",
    });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toMatchObject({ doc_id: added.doc_id, status: "unchanged" });

    const changed = await upload(app, "alice", "notes.md", "# Notes\n\nThe zanzibarquokka now eats cake.\n", {
      team: "x",
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({ doc_id: added.doc_id, status: "updated" });

    const hits = await search(app, "alice", "zanzibarquokka");
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((h) => h.doc_id === added.doc_id)).toBe(true);
    expect(hits[0]?.metadata).toMatchObject({ team: "x" });
    expect(hits.some((h) => h.text.includes("cake"))).toBe(true);
    expect(hits.some((h) => h.text.includes("bread"))).toBe(false);
  });

  it("refuses a path as file name (400), an .exe (415) and a corrupt PDF (422), storing nothing of them", async () => {
    const app = await startApp();
    const traversal = await upload(app, "alice", "../../etc/passwd", "root:x:0:0");
    expect(traversal.statusCode, traversal.body).toBe(400);
    expect(traversal.json().error.code).toBe("SYNC_E_FILENAME_INVALID");

    const exe = await upload(app, "alice", "tool.exe", "MZ\u0090\u0000binary");
    expect(exe.statusCode, exe.body).toBe(415);
    expect(exe.json().error.code).toBe("SYNC_E_UNSUPPORTED_TYPE");

    const pdf = await upload(app, "alice", "broken.pdf", "%PDF-1.4 garbage zanzibarquokka");
    expect(pdf.statusCode, pdf.body).toBe(422);
    expect(pdf.json().error).toMatchObject({ code: "SYNC_E_CORRUPT_FILE" });
    expect(pdf.json().error.message).toContain("broken.pdf");

    expect(await search(app, "alice", "zanzibarquokka")).toEqual([]);
    expect(await app.system.listDocuments({ userId: "alice" })).toEqual([]);
  });

  it("a file over maxFileSizeMb is 413 SYNC_E_FILE_TOO_LARGE, at the limit's edge and far past it", async () => {
    const app = await startApp({ maxFileSizeMb: 0.001 });
    const limit = app.system.config.maxFileBytes;
    const edge = await upload(app, "alice", "big.txt", "a".repeat(limit + 1));
    expect(edge.statusCode, edge.body).toBe(413);
    expect(edge.json().error.code).toBe("SYNC_E_FILE_TOO_LARGE");
    const far = await upload(app, "alice", "bigger.txt", "a".repeat(limit * 5));
    expect(far.statusCode, far.body).toBe(413);
    expect(far.json().error.code).toBe("SYNC_E_FILE_TOO_LARGE");
    expect(await app.system.listDocuments({ userId: "alice" })).toEqual([]);
  });

  it("bad metadata is 400 SYNC_E_INVALID_ARGUMENT; a search without q is 400", async () => {
    const app = await startApp();
    const body = await multipartBody("a.md", "# A\n\ntext\n");
    const form = body.payload.toString("latin1");
    const boundary = /boundary=(.+)$/.exec(body.headers["content-type"] ?? "")?.[1] ?? "";
    const withBadMeta = `--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n[1,2]\r\n${form}`;
    const r = await app.inject({
      method: "POST",
      url: "/users/alice/documents",
      payload: Buffer.from(withBadMeta, "latin1"),
      headers: body.headers,
    });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json().error).toMatchObject({ code: "SYNC_E_INVALID_ARGUMENT" });
    expect(r.json().error.message).toContain("metadata");

    const q = await app.inject({ method: "GET", url: "/users/alice/search" });
    expect(q.statusCode).toBe(400);
    expect(q.json().error.code).toBe("SYNC_E_INVALID_ARGUMENT");
  });

  it("users are kept apart; delete removes the document from search; a second delete is 404", async () => {
    const app = await startApp();
    const up = await upload(app, "alice", "plan.md", "# Plan\n\nThe lighthouse opens at dawn.\n");
    expect(up.statusCode, up.body).toBe(200);
    const docId = up.json().doc_id as string;

    expect((await search(app, "alice", "lighthouse")).length).toBeGreaterThan(0);
    expect(await search(app, "bob", "lighthouse")).toEqual([]);
    const bobDelete = await app.inject({ method: "DELETE", url: `/users/bob/documents/${docId}` });
    expect(bobDelete.statusCode).toBe(404);
    expect(bobDelete.json().error.code).toBe("SYNC_E_NOT_FOUND");

    const del = await app.inject({ method: "DELETE", url: `/users/alice/documents/${docId}` });
    expect(del.statusCode, del.body).toBe(200);
    expect(del.json()).toMatchObject({ doc_id: docId, deleted: true });
    expect(await search(app, "alice", "lighthouse")).toEqual([]);

    const again = await app.inject({ method: "DELETE", url: `/users/alice/documents/${docId}` });
    expect(again.statusCode).toBe(404);
    expect(again.json().error.code).toBe("SYNC_E_NOT_FOUND");
  });

  it("close() stops the system: later calls fail with SYNC_E_SHUTTING_DOWN", async () => {
    const app = await startApp();
    const { system } = app;
    await app.close();
    // Wrapped: the system's methods currently throw synchronously once stopped instead of rejecting.
    const err = await rejection(
      Promise.resolve().then(() => system.search({ userId: "alice", query: "anything" })),
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as SyncError).code).toBe("SYNC_E_SHUTTING_DOWN");
  });
});
