import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiHarness, multipartBody, startApi } from "./api-harness.js";

let h: ApiHarness;

beforeAll(async () => {
  // MAX_FILE_SIZE_MB is in MB: 0.01 MB is about 10 KB.
  h = await startApi({ maxFileSizeMb: 0.01 });
});
afterAll(async () => h.close());

function upload(
  as: "u1" | "u2" | "admin",
  fields: Record<string, string>,
  file?: { name: string; content: Buffer | string; field?: string },
) {
  const { payload, headers } = multipartBody(fields, file);
  return h.call(as, { method: "POST", url: "/api/v1/documents", payload, headers });
}

describe("documents", () => {
  it("uploads a document (201), the same again is unchanged (200); list, get, search and delete it", async () => {
    const content = "# Quarterly report\n\nRevenue grew in the northern region.";
    const first = await upload(
      "u1",
      { metadata: JSON.stringify({ team: "sales" }) },
      { name: "report.md", content },
    );
    expect(first.statusCode).toBe(201);
    const doc = first.json();
    expect(doc).toMatchObject({ source_id: "uploads", key: "report.md", status: "added" });
    expect(doc.chunks).toBeGreaterThan(0);
    const again = await upload(
      "u1",
      { metadata: JSON.stringify({ team: "sales" }) },
      { name: "report.md", content },
    );
    expect(again.statusCode).toBe(200);
    expect(again.json().status).toBe("unchanged");

    const list = await h.call("u1", { method: "GET", url: "/api/v1/documents?limit=10" });
    expect(list.json()).toMatchObject({ limit: 10, offset: 0 });
    expect(list.json().documents).toHaveLength(1);
    const got = await h.call("u1", { method: "GET", url: `/api/v1/documents/${doc.doc_id}` });
    expect(got.json().document).toMatchObject({ doc_id: doc.doc_id, metadata: { team: "sales" }, url: null });

    const search = await h.call("u1", {
      method: "POST",
      url: "/api/v1/search",
      payload: {
        query: "revenue northern",
        mode: "vector",
        limit: 3,
        filters: { metadata: { team: "sales" } },
      },
    });
    expect(search.statusCode).toBe(200);
    const [hit] = search.json().hits;
    expect(Object.keys(hit).sort()).toEqual(
      [
        "chunk_id",
        "doc_id",
        "end",
        "item_key",
        "metadata",
        "score",
        "source_id",
        "start",
        "text",
        "title",
        "url",
      ].sort(),
    );
    expect(hit).toMatchObject({ doc_id: doc.doc_id, title: "Quarterly report", metadata: { team: "sales" } });
    const filtered = await h.call("u1", {
      method: "POST",
      url: "/api/v1/search",
      payload: { query: "revenue", filters: { source_ids: ["elsewhere"] } },
    });
    expect(filtered.json().hits).toEqual([]);
    for (const payload of [
      { query: "" },
      { query: "x", mode: "semantic" },
      { query: "x", limit: 0 },
      { query: "x", filters: { tags: ["a"] } },
      { query: "x", filters: { metadata: { nested: { a: 1 } } } },
    ]) {
      const r = await h.call("u1", { method: "POST", url: "/api/v1/search", payload });
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
    }

    const del = await h.call("u1", { method: "DELETE", url: `/api/v1/documents/${doc.doc_id}` });
    expect(del.json()).toEqual({ doc_id: doc.doc_id, source_id: "uploads", key: "report.md", deleted: true });
    expect((await h.call("u1", { method: "GET", url: `/api/v1/documents/${doc.doc_id}` })).statusCode).toBe(
      404,
    );
  });

  it("refuses an oversize file as it streams (413), a path as file name (400), and bad fields, storing nothing", async () => {
    const big = await upload("u1", {}, { name: "big.md", content: Buffer.alloc(64 * 1024, "a") });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe("SYNC_E_FILE_TOO_LARGE");
    const traversal = await upload("u1", {}, { name: "../x.md", content: "# X" });
    expect(traversal.statusCode).toBe(400);
    expect(traversal.json().error.code).toBe("SYNC_E_FILENAME_INVALID");
    const cases: Array<
      [Record<string, string>, { name: string; content: string; field?: string } | undefined, RegExp]
    > = [
      [{}, undefined, /body\.file: is required/],
      [{ colour: "red" }, { name: "a.md", content: "# A" }, /unknown field "colour"/],
      [{}, { name: "a.md", content: "# A", field: "attachment" }, /unknown file field/],
      [{ metadata: "[1,2]" }, { name: "a.md", content: "# A" }, /body\.metadata: expected a JSON object/],
      [{ metadata: "{oops" }, { name: "a.md", content: "# A" }, /body\.metadata/],
      [{ source_id: "x' OR '1'='1" }, { name: "a.md", content: "# A" }, /source id/],
    ];
    for (const [fields, file, message] of cases) {
      const r = await upload("u1", fields, file);
      expect(r.statusCode, JSON.stringify(fields)).toBe(400);
      expect(r.json().error.message).toMatch(message);
    }
    const json = await h.call("u1", { method: "POST", url: "/api/v1/documents", payload: { file: "x" } });
    expect(json.statusCode).toBe(400);
    const unsupported = await upload("u1", {}, { name: "tool.exe", content: "MZ" });
    expect(unsupported.statusCode).toBe(415);
    expect(unsupported.json().error.code).toBe("SYNC_E_UNSUPPORTED_TYPE");
    const forbidden = await upload("u1", { user_id: "u2" }, { name: "a.md", content: "# A" });
    expect(forbidden.statusCode).toBe(403);
    expect((await h.call("u2", { method: "GET", url: "/api/v1/documents" })).json().documents).toEqual([]);
    expect((await h.call("u1", { method: "GET", url: "/api/v1/documents" })).json().documents).toEqual([]);
    // An admin names the user.
    const admin = await upload(
      "admin",
      { user_id: "u2", key: "notes/a.md" },
      { name: "a.md", content: "# A" },
    );
    expect(admin.statusCode).toBe(201);
    expect(admin.json().key).toBe("notes/a.md");
    const limits = await h.call("u1", { method: "GET", url: "/api/v1/documents?limit=5000" });
    expect(limits.statusCode).toBe(400);
    expect((await h.call("u1", { method: "GET", url: "/api/v1/documents?limit=ten" })).statusCode).toBe(400);
  });
});

describe("maintenance and metrics", () => {
  it("cleanup-failed forgets failures; compact is for admins; /metrics has the gauges and counters after a sync", async () => {
    const dir = h.folder("mixed", {
      "good.md": "# Good\n\nfine text",
      "bad.pdf": "%PDF-1.4 not really a pdf",
    });
    await h.system.sources.add({
      userId: "u1",
      sourceId: "mixed",
      type: "local_filesystem",
      config: { watch_paths: [dir] },
    });
    const ticket = await h.service.queue.enqueue({
      kind: "full",
      userId: "u1",
      sourceId: "mixed",
      reason: "api",
    });
    const result = await h.service.queue.wait(ticket.job_id);
    expect(result.failed).toBe(1);

    const status = await h.call("u1", { method: "GET", url: "/api/v1/status" });
    expect(status.json()).toMatchObject({
      failed: 1,
      metrics: {
        failed_syncs: 1,
        pending_syncs: 0,
        local_db_available: 1,
        s3_sync_available: 0,
        sources_monitored: 0,
      },
      service: { monitoring: false, sources_monitored: 0 },
      monitors: [],
      backup: null,
    });
    const syncStatus = await h.call("u1", { method: "GET", url: "/api/v1/sync/status" });
    expect(syncStatus.json().failures[0]).toMatchObject({
      source: "mixed",
      key: expect.stringMatching(/bad\.pdf$/),
    });

    const metrics = await h.call("admin", { method: "GET", url: "/metrics" });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers["content-type"]).toContain("text/plain");
    const text = metrics.body;
    for (const line of [
      "pending_syncs 0",
      "failed_syncs 1",
      "local_db_available 1",
      "s3_sync_available 0",
      "sources_monitored 0",
      'lancedb_sync_items_processed_total{source_type="local_filesystem",result="added"} 1',
      'lancedb_sync_items_failed_total{source_type="local_filesystem"} 1',
      'lancedb_sync_run_duration_seconds_count{source_type="local_filesystem",kind="full"} 1',
      'lancedb_sync_table_rows{table="document_chunks"}',
      'lancedb_sync_table_versions{table="processed_documents"}',
      'lancedb_sync_table_fragments{table="processed_documents"}',
      "lancedb_sync_chunks_embedded_total",
      "lancedb_sync_chunks_reused_total",
      "nodejs_eventloop_lag_seconds",
    ]) {
      expect(text).toContain(line);
    }

    const none = await h.call("u2", { method: "POST", url: "/api/v1/maintenance/cleanup-failed" });
    expect(none.json()).toEqual({ removed: 0 });
    const mine = await h.call("u1", {
      method: "POST",
      url: "/api/v1/maintenance/cleanup-failed",
      payload: { source_id: "mixed" },
    });
    expect(mine.json()).toEqual({ removed: 1 });
    const adminAll = await h.call("admin", {
      method: "POST",
      url: "/api/v1/maintenance/cleanup-failed",
      payload: {},
    });
    expect(adminAll.json()).toEqual({ removed: 0 });

    const compact = await h.call("admin", {
      method: "POST",
      url: "/api/v1/maintenance/compact",
      payload: { retention_hours: 1 },
    });
    expect(compact.statusCode).toBe(200);
    expect(compact.json()).toMatchObject({ retention_hours: 1 });
    expect(
      compact
        .json()
        .after.map((t: { name: string }) => t.name)
        .sort(),
    ).toEqual(["document_chunks", "processed_documents"].sort());
  });
});
