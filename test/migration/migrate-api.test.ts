import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type ApiHarness, startApi } from "../api/api-harness.js";
import {
  chunkTableRows,
  chunkTableSchema,
  DIMS,
  EMBEDDER_ID,
  readAll,
  writeTable,
} from "./legacy-fixtures.js";

let h: ApiHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("POST /api/v1/maintenance/migrate", () => {
  it("is admin-only; dry_run writes nothing; a run migrates, and the user's search finds the documents", async () => {
    h = await startApi((dir) => ({ allowedRoots: join(dir, "allowed"), embeddingDimensions: DIMS }));
    const legacy = join(h.dir, "allowed", "legacy");
    const rows = await chunkTableRows(2, 3, "same");
    await writeTable(legacy, "kb", rows as never, chunkTableSchema());
    const body = { from: legacy, table: "kb", assign_user: "u1", legacy_embedder: EMBEDDER_ID };

    const user = await h.call("u1", { method: "POST", url: "/api/v1/maintenance/migrate", payload: body });
    expect(user.statusCode).toBe(403);
    expect(user.json().error.code).toBe("SYNC_E_FORBIDDEN");

    const dry = await h.call("admin", {
      method: "POST",
      url: "/api/v1/maintenance/migrate",
      payload: { ...body, dry_run: true },
    });
    expect(dry.statusCode, dry.body).toBe(200);
    expect(dry.json()).toMatchObject({
      dry_run: true,
      source_rows: 18,
      documents: 6,
      chunks: 18,
      vectors: "kept",
      vectors_kept: 18,
      users: 1,
    });
    expect(await readAll(join(h.dir, "lancedb"), "document_chunks")).toEqual([]);

    const run = await h.call("admin", { method: "POST", url: "/api/v1/maintenance/migrate", payload: body });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toMatchObject({
      dry_run: false,
      documents: 6,
      chunks: 18,
      written_documents: 6,
      skipped: {},
    });
    expect(run.json().per_user).toEqual([
      {
        user_id: "u1",
        source_id: "migrated-kb",
        source_type: "migrated",
        documents: 6,
        chunks: 18,
        written: 6,
        unchanged: 0,
      },
    ]);
    const target = rows[4]?.text as string;
    const hits = await h.call("u1", {
      method: "POST",
      url: "/api/v1/search",
      payload: { query: target, limit: 3 },
    });
    expect(hits.statusCode, hits.body).toBe(200);
    expect(hits.json().hits[0].text).toBe(target);
    const other = await h.call("u2", { method: "POST", url: "/api/v1/search", payload: { query: target } });
    expect(other.json().hits).toEqual([]);
  });

  it("refuses a database outside ALLOWED_ROOTS, and a body naming no user scope", async () => {
    h = await startApi((dir) => ({ allowedRoots: join(dir, "allowed"), embeddingDimensions: DIMS }));
    const outside = join(h.dir, "elsewhere");
    await writeTable(outside, "kb", (await chunkTableRows(1, 1, "same")) as never, chunkTableSchema());
    const res = await h.call("admin", {
      method: "POST",
      url: "/api/v1/maintenance/migrate",
      payload: { from: outside, table: "kb", all_users: true, dry_run: true },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe("SYNC_E_ROOT_NOT_ALLOWED");
    const none = await h.call("admin", {
      method: "POST",
      url: "/api/v1/maintenance/migrate",
      payload: { table: "kb", dry_run: true },
    });
    expect(none.statusCode).toBe(400);
    expect(none.json().error.code).toBe("SYNC_E_INVALID_ARGUMENT");
    expect(existsSync(join(h.dir, "lancedb", "document_chunks.lance"))).toBe(false);
  });
});
