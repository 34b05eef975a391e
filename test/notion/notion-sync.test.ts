import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SyncSystem } from "../../src/index.js";
import { createInProcessQueue } from "../../src/service/in-process-queue.js";
import { rejection } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { b, FakeNotionServer } from "./fake-notion-server.js";
import { buildWorkspace, notionSystem, recordingLogger, WORKSPACE_DOCS, type Workspace } from "./support.js";

const USER = "auth0|alice";
const SOURCE = "wiki";
const CHILDREN = "GET /v1/blocks/:id/children";
const PAGE = "GET /v1/pages/:id";

let tmp: ReturnType<typeof makeTempDir>;
let server: FakeNotionServer;
let ws: Workspace;
let log: ReturnType<typeof recordingLogger>;
let sys: SyncSystem;

beforeEach(async () => {
  tmp = makeTempDir("notion-sync-");
  server = new FakeNotionServer();
  await server.start();
  ws = buildWorkspace(server.workspace);
  log = recordingLogger();
  sys = notionSystem(tmp.path, server, { logger: log });
  await sys.start();
  await sys.sources.add({ userId: USER, sourceId: SOURCE, type: "notion" });
});

afterEach(async () => {
  await sys.stop().catch(() => undefined);
  await server.close();
  tmp.cleanup();
});

const sync = (extra: { incremental?: boolean } = {}) =>
  sys.syncSource({ userId: USER, sourceId: SOURCE, ...extra });

async function docs() {
  return sys.listDocuments({ userId: USER, sourceId: SOURCE });
}

async function docOf(key: string) {
  return (await docs()).find((d) => d.item_key === key);
}

async function hits(query: string) {
  return sys.search({ userId: USER, query, mode: "fts", limit: 20 });
}

describe("notion source: first sync", () => {
  it("indexes every page, row and data source, text deep in the tree included, with paginated reads", async () => {
    const r = await sync();
    expect(r).toMatchObject({ added: WORKSPACE_DOCS, failed: 0, deleted: 0, listed: WORKSPACE_DOCS });
    expect([...server.versions]).toEqual(["2025-09-03"]);

    // One search page (13 objects), one query of the data source; the listing's page objects serve the
    // reads (no page is retrieved again), so a page costs its block children only.
    expect(server.count("POST /v1/search")).toBe(1);
    expect(server.count(PAGE)).toBe(0);
    expect(server.count("POST /v1/data_sources/:id/query", ws.dataSourceId)).toBe(1);
    // 250 blocks: three pages of children; a toggle of 120 children: two.
    expect(server.count(CHILDREN, ws.long)).toBe(3);
    const toggleBlock = server.workspace.page(ws.toggle).blocks[0] as string;
    expect(server.count(CHILDREN, toggleBlock)).toBe(2);
    // A child page is a document of its own: the parent does not read the child's blocks.
    expect(server.count(CHILDREN, ws.child)).toBe(1);

    const deep = await hits("marmalade");
    expect(deep.map((h) => h.item_key)).toEqual([ws.deep]);
    expect(deep[0]?.url).toMatch(/^https:\/\/www\.notion\.so\/Deep-/);
    expect(deep[0]?.metadata).toMatchObject({ notion_page_id: ws.deep, notion_parent_type: "workspace" });
    expect((await hits("zeppelin")).map((h) => h.item_key)).toEqual([ws.long]);
    expect((await hits("walrus")).map((h) => h.item_key)).toEqual([ws.toggle]);
    expect((await hits("quokkas")).map((h) => h.item_key)).toEqual([ws.child]);
    for (const word of ["albatross", "pelican", "fathoms", "keel", "tide", "charts"]) {
      expect(
        (await hits(word)).map((h) => h.item_key),
        word,
      ).toEqual([ws.home]);
    }

    const home = await docOf(ws.home);
    expect(home?.metadata).toMatchObject({ notion_unsupported_blocks: 2 });
    const row = await docOf(ws.rows[0] as string);
    expect(row?.metadata).toMatchObject({
      notion_page_id: ws.rows[0],
      notion_parent_id: ws.dataSourceId,
      notion_data_source_id: ws.dataSourceId,
    });
    const rowText = (await hits("barnacles")).find((h) => h.item_key === ws.rows[0])?.text ?? "";
    for (const part of [
      "Status: Doing",
      "Tags: deck, rigging",
      "Estimate: 2",
      "Due: 2026-02-01",
      "Done: no",
    ]) {
      expect(rowText).toContain(part);
    }
    // The truncated relation was completed through the page property endpoint, titles looked up.
    expect(rowText).toContain("Related: Deep, Long");
    expect(server.count("GET /v1/pages/:id/properties/:pid", ws.rows[0])).toBe(1);
    expect(await docOf(`data_source:${ws.dataSourceId}`)).toMatchObject({ title: expect.any(String) });
  });

  it("a second sync with no change reads no page and no block children", async () => {
    await sync();
    server.resetCounts();
    const r = await sync();
    expect(r).toMatchObject({ added: 0, updated: 0, deleted: 0, unchanged: WORKSPACE_DOCS });
    expect(server.count(CHILDREN)).toBe(0);
    expect(server.count(PAGE)).toBe(0);
    expect(server.total()).toBe(2); // one search, one data source query
  });
});

describe("notion source: changes", () => {
  it("an edit re-indexes only that page", async () => {
    await sync();
    server.workspace.editPage(
      ws.editMe,
      [b.p("Version two of the recipe uses pineapple.")],
      "2026-02-01T08:00:00.000Z",
    );
    server.resetCounts();
    const r = await sync();
    expect(r).toMatchObject({ updated: 1, added: 0, deleted: 0, unchanged: WORKSPACE_DOCS - 1 });
    expect([...server.childrenRead()]).toEqual([ws.editMe]);
    expect((await hits("pineapple")).map((h) => h.item_key)).toEqual([ws.editMe]);
    expect(await hits("plums")).toEqual([]);
  });

  it("a page edited twice within one minute around a sync is read again by the next one", async () => {
    const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();
    server.workspace.editPage(ws.editMe, [b.p("Draft mentions gooseberries.")], minute);
    await sync();
    expect((await hits("gooseberries")).map((h) => h.item_key)).toEqual([ws.editMe]);
    // Same minute, so the same last_edited_time: only the racy-window rule finds this edit.
    server.workspace.editPage(ws.editMe, [b.p("Final text mentions elderberries.")], minute);
    server.resetCounts();
    const r = await sync();
    expect(r.updated).toBe(1);
    expect([...server.childrenRead()]).toEqual([ws.editMe]);
    expect((await hits("elderberries")).map((h) => h.item_key)).toEqual([ws.editMe]);
  });

  it("trash and unshare delete the page; a moved page stays one document under its new parent", async () => {
    await sync();
    const ws2 = server.workspace;
    ws2.page(ws.trashMe).inTrash = true;
    ws2.page(ws.unshareMe).unshared = true;
    ws2.movePage(ws.mover, ws.long, "2026-02-02T08:00:00.000Z");
    server.resetCounts();
    const r = await sync();
    expect(r).toMatchObject({ deleted: 2, failed: 0, added: 0 });
    // The mover (new parent) and both parents (a child_page block came or went) were read again.
    expect(r.updated).toBe(3);
    expect(server.count(PAGE, ws.trashMe)).toBe(1);
    expect(server.count(PAGE, ws.unshareMe)).toBe(1);
    expect(await docOf(ws.trashMe)).toBeUndefined();
    expect(await docOf(ws.unshareMe)).toBeUndefined();
    expect(await hits("regatta")).toEqual([]);
    const moved = (await docs()).filter((d) => d.item_key === ws.mover);
    expect(moved).toHaveLength(1);
    expect(moved[0]?.metadata).toMatchObject({ notion_parent_id: ws.long });
    expect((await docs()).length).toBe(WORKSPACE_DOCS - 2);
  });

  it("a child page search does not return is found in its parent's block tree and listed from the next run on", async () => {
    const hidden = server.workspace.addPage({
      title: "Unindexed",
      parent: { page: ws.deep },
      lastEdited: "2026-01-09T09:00:00.000Z",
      blocks: [b.p("Search never returns this page about narwhals.")],
    });
    server.workspace.page(hidden).searchHidden = true;
    const first = await sync();
    expect(first.added).toBe(WORKSPACE_DOCS);
    server.resetCounts();
    const second = await sync();
    expect(second).toMatchObject({ added: 1, unchanged: WORKSPACE_DOCS });
    expect(server.count(PAGE, hidden)).toBe(1);
    expect((await hits("narwhals")).map((h) => h.item_key)).toEqual([hidden]);
    // Trashed later: confirmed gone like any page.
    server.workspace.page(hidden).inTrash = true;
    expect((await sync()).deleted).toBe(1);
  });

  it("an incremental poll reads only what changed since its cursor and deletes nothing", async () => {
    await sync();
    server.workspace.editPage(ws.editMe, [b.p("Polled text mentions kumquats.")], "2026-03-01T08:00:00.000Z");
    server.workspace.page(ws.trashMe).inTrash = true;
    // A row edit: this search does not return rows; the data source query since the cursor does.
    const row = server.workspace.page(ws.rows[1] as string);
    row.properties.Status = { id: "st", type: "select", select: { name: "Blocked" } };
    row.lastEdited = "2026-03-01T08:30:00.000Z";
    server.resetCounts();
    const r = await sync({ incremental: true });
    expect(r).toMatchObject({ kind: "changes", updated: 2, deleted: 0, listed: 2 });
    expect(server.count("POST /v1/search")).toBe(1);
    expect(server.count("POST /v1/data_sources/:id/query")).toBe(1);
    expect([...server.childrenRead()].sort()).toEqual([ws.editMe, ws.rows[1]].sort());
    expect((await hits("Blocked")).map((h) => h.item_key)).toEqual([ws.rows[1]]);
    expect((await hits("kumquats")).map((h) => h.item_key)).toEqual([ws.editMe]);
    expect(await docOf(ws.trashMe)).toBeDefined();

    server.resetCounts();
    const again = await sync({ incremental: true });
    expect(again).toMatchObject({ kind: "changes", listed: 0, updated: 0 });
    expect(server.count(CHILDREN)).toBe(0);

    // The reconciliation catches the trash the polls left alone.
    const full = await sync();
    expect(full).toMatchObject({ kind: "full", deleted: 1 });
    expect(await docOf(ws.trashMe)).toBeUndefined();
  });
});

describe("notion source: scheduling", () => {
  it("a scheduled poll through the work queue is a partial run from the cursor; a reconciliation is full", async () => {
    const queue = createInProcessQueue(sys);
    const ids = { userId: USER, sourceId: SOURCE };
    // No cursor yet: the first poll lists everything.
    const first = await queue.wait(
      (await queue.enqueue({ ...ids, kind: "full", reason: "poll", scheduled: true })).job_id,
    );
    expect(first).toMatchObject({ kind: "full", added: WORKSPACE_DOCS });
    server.workspace.editPage(
      ws.editMe,
      [b.p("Scheduled text mentions medlars.")],
      "2026-03-02T08:00:00.000Z",
    );
    server.resetCounts();
    const poll = await queue.wait(
      (await queue.enqueue({ ...ids, kind: "full", reason: "poll", scheduled: true })).job_id,
    );
    expect(poll).toMatchObject({ kind: "changes", updated: 1 });
    expect(server.count("POST /v1/data_sources/:id/query")).toBe(1);
    const reconcile = await queue.wait(
      (await queue.enqueue({ ...ids, kind: "full", reason: "reconcile", scheduled: true })).job_id,
    );
    expect(reconcile).toMatchObject({ kind: "full", unchanged: WORKSPACE_DOCS });
  });
});

describe("notion source: transient errors delete nothing", () => {
  it("a 503 on search fails the run, marks the source unhealthy with the reason, and deletes nothing", async () => {
    await sync();
    server.workspace.page(ws.trashMe).inTrash = true;
    server.faults.push({ route: "POST /v1/search", status: 503, times: 100 });
    const err = (await rejection(sync())) as { code: string; message: string };
    expect(err.code).toBe("SYNC_E_SOURCE_UNAVAILABLE");
    const view = await sys.sources.get({ userId: USER, sourceId: SOURCE });
    expect(view.healthy).toBe(false);
    expect(view.last_error).toMatch(/search.*HTTP 503/);
    expect((await docs()).length).toBe(WORKSPACE_DOCS);
    const poll = (await rejection(sync({ incremental: true }))) as { code: string };
    expect(poll.code).toBe("SYNC_E_SOURCE_UNAVAILABLE");

    server.faults.length = 0;
    const r = await sync();
    expect(r.deleted).toBe(1);
    expect((await sys.sources.get({ userId: USER, sourceId: SOURCE })).healthy).toBe(true);
  });

  it("a 500, a timeout or a 401 while confirming keeps the page; the item whose read fails is kept too", async () => {
    await sync();
    const wsp = server.workspace;
    wsp.page(ws.trashMe).inTrash = true;
    wsp.page(ws.unshareMe).unshared = true;
    server.faults.push({ route: PAGE, id: ws.trashMe, status: 500, times: 100 });
    server.faults.push({ route: PAGE, id: ws.unshareMe, hang: true, times: 1 });
    wsp.editPage(ws.editMe, [b.p("Edited while Notion is flaky: quince.")], "2026-02-03T08:00:00.000Z");
    server.faults.push({ route: CHILDREN, id: ws.editMe, status: 500, times: 100 });
    server.resetCounts();
    const r = await sync();
    expect(r).toMatchObject({ deleted: 0, failed: 1 });
    expect(r.warnings.join("\n")).toMatch(/did not confirm them gone/);
    expect(server.count(PAGE, ws.trashMe)).toBe(5); // a GET's 500 is retried by the client (4 times here)
    expect(server.count(PAGE, ws.unshareMe)).toBe(1); // a timeout is not retried: the page is kept
    expect((await docs()).length).toBe(WORKSPACE_DOCS);
    expect((await hits("plums")).map((h) => h.item_key)).toEqual([ws.editMe]);

    // A revoked token: the listing fails, nothing is deleted.
    server.faults.length = 0;
    const revoked = new FakeNotionServer("secret_other_token_9876543210");
    expect(revoked.token).not.toBe(server.token);
    (server as unknown as { token: string }).token = revoked.token;
    const err = (await rejection(sync())) as { code: string };
    expect(err.code).toBe("SYNC_E_SOURCE_UNAVAILABLE");
    expect((await sys.sources.get({ userId: USER, sourceId: SOURCE })).last_error).toMatch(/HTTP 401/);
    expect((await docs()).length).toBe(WORKSPACE_DOCS);
  });

  it("a burst of 429 with Retry-After is waited out, each wait logged", async () => {
    await sync();
    server.workspace.editPage(ws.editMe, [b.p("After the burst: damsons.")], "2026-02-04T08:00:00.000Z");
    server.faults.push({ route: CHILDREN, id: ws.editMe, status: 429, retryAfter: 1, times: 3 });
    server.resetCounts();
    const r = await sync();
    expect(r).toMatchObject({ updated: 1, failed: 0 });
    expect(server.count(CHILDREN, ws.editMe)).toBe(4);
    const waits = log.entries.filter(
      (e) => e.level === "warn" && /waiting before retrying/.test(e.msg ?? ""),
    );
    expect(waits).toHaveLength(3);
    expect(waits[0]?.obj).toMatchObject({ wait_ms: 1000 });
    expect((await hits("damsons")).map((h) => h.item_key)).toEqual([ws.editMe]);
  });
});

describe("notion source: configuration and secrets", () => {
  it("stores only a reference to the token; the token reaches neither the journal nor the log", async () => {
    await sync();
    const view = await sys.sources.get({ userId: USER, sourceId: SOURCE });
    expect(view.config).toEqual({ token_env: "NOTION_TOKEN", roots: [] });
    await sys.stop();
    for (const f of ["state.db", "state.db-wal"]) {
      let bytes = "";
      try {
        bytes = readFileSync(join(tmp.path, f)).toString("latin1");
      } catch {}
      expect(bytes.includes(server.token)).toBe(false);
    }
    expect(JSON.stringify(log.entries).includes(server.token)).toBe(false);
  });

  it("refuses unknown settings (a token among them) and bad ids, naming them", async () => {
    const err = (await rejection(
      sys.sources.add({ userId: USER, sourceId: "bad", type: "notion", config: { token: "secret_x" } }),
    )) as { code: string; message: string };
    expect(err.code).toBe("SYNC_E_INVALID_ARGUMENT");
    expect(err.message).toMatch(/unknown setting token .*never stored/);
    expect(err.message).not.toContain("secret_x");
    const roots = (await rejection(
      sys.sources.add({ userId: USER, sourceId: "bad", type: "notion", config: { roots: ["nope"] } }),
    )) as { message: string };
    expect(roots.message).toMatch(/roots: expected a list of Notion .* ids/);
  });

  it("a missing token makes the source unavailable, naming the variable", async () => {
    await sys.sources.add({
      userId: USER,
      sourceId: "other",
      type: "notion",
      config: { token_env: "OTHER_NOTION_TOKEN" },
    });
    const err = (await rejection(sys.syncSource({ userId: USER, sourceId: "other" }))) as {
      code: string;
      message: string;
    };
    expect(err.code).toBe("SYNC_E_SOURCE_UNAVAILABLE");
    expect(err.message).toMatch(/OTHER_NOTION_TOKEN is not set/);
    expect(server.total()).toBe(0);
  });

  it("roots narrow the source to a page, its child pages and the database under it", async () => {
    await sys.sources.add({ userId: USER, sourceId: "home", type: "notion", config: { roots: [ws.home] } });
    const r = await sys.syncSource({ userId: USER, sourceId: "home" });
    const keys = (await sys.listDocuments({ userId: USER, sourceId: "home" })).map((d) => d.item_key).sort();
    expect(keys).toEqual([ws.home, ws.child, ws.mover, ...ws.rows, `data_source:${ws.dataSourceId}`].sort());
    expect(r.added).toBe(keys.length);
  });
});
