import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { signWebhookPayload } from "@notionhq/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SourceRunResult } from "../../src/app/run-source.js";
import { type ApiHarness, startApi } from "../api/api-harness.js";
import { b, FakeNotionServer } from "./fake-notion-server.js";
import { buildWorkspace, type Workspace } from "./support.js";

const HOOK = "/api/v1/webhooks/notion";
const VERIFICATION = `secret_${"v3rif1cat10n".repeat(3)}`;

let server: FakeNotionServer;
let ws: Workspace;
let api: ApiHarness | undefined;

beforeEach(async () => {
  server = new FakeNotionServer();
  await server.start();
  ws = buildWorkspace(server.workspace);
});

afterEach(async () => {
  await api?.close();
  api = undefined;
  await server.close();
});

async function harness(extra: { notionWebhookSecret?: string } = {}): Promise<ApiHarness> {
  api = await startApi({
    notionApiBaseUrl: server.url,
    notionToken: server.token,
    notionRequestsPerSecond: 1000,
    ...extra,
  });
  return api;
}

function deliver(h: ApiHarness, body: string, signature?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (signature !== undefined) headers["x-notion-signature"] = signature;
  return h.call("none", { method: "POST", url: HOOK, payload: body, headers });
}

function pageEvent(id: string, type = "page.content_updated"): string {
  return JSON.stringify({
    id: "evt-1",
    timestamp: "2026-03-01T08:00:00.000Z",
    workspace_id: "ws-1",
    subscription_id: "sub-1",
    integration_id: "int-1",
    type,
    authors: [{ id: "u1", type: "person" }],
    attempt_number: 1,
    entity: { id, type: "page" },
    data: { parent: { id: "x", type: "space" }, updated_blocks: [] },
  });
}

/** Resolves with the next run of `sourceId` that finishes. */
function nextRun(h: ApiHarness, sourceId: string): Promise<SourceRunResult> {
  return new Promise((resolve) => {
    const on = (e: { sourceId: string; result: SourceRunResult }) => {
      if (e.sourceId !== sourceId) return;
      h.system.events.off("run-finished", on);
      resolve(e.result);
    };
    h.system.events.on("run-finished", on);
  });
}

describe("POST /api/v1/webhooks/notion", () => {
  it("stores the handshake's verification token once, shows it to admins only, and never logs it", async () => {
    const h = await harness();
    const first = await deliver(h, JSON.stringify({ verification_token: VERIFICATION }));
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toEqual({ kind: "verification", stored: true });
    const again = await deliver(
      h,
      JSON.stringify({ verification_token: "secret_someone_else_entirely_123" }),
    );
    expect(again.json()).toEqual({ kind: "verification", stored: false });

    const shown = await h.call("admin", { method: "GET", url: `${HOOK}/verification-token` });
    expect(shown.json()).toEqual({ verification_token: VERIFICATION });
    const user = await h.call("u1", { method: "GET", url: `${HOOK}/verification-token` });
    expect(user.statusCode).toBe(403);
    expect(h.logs.join("\n")).not.toContain(VERIFICATION);
    // Kept beside the journal (mode 0600), never in it: a backup of the journal does not carry it.
    const file = join(h.dir, "notion-webhook-token");
    expect(readFileSync(file, "utf8").trim()).toBe(VERIFICATION);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await h.system.stop();
    for (const f of ["state.db", "state.db-wal"]) {
      const bytes = existsSync(join(h.dir, f)) ? readFileSync(join(h.dir, f)).toString("latin1") : "";
      expect(bytes.includes(VERIFICATION), f).toBe(false);
    }
  });

  it("a page event with a valid signature re-reads that page only; a bad or missing signature gets 401 and does nothing", async () => {
    const h = await harness();
    await deliver(h, JSON.stringify({ verification_token: VERIFICATION }));
    await h.system.sources.add({ userId: "u1", sourceId: "wiki", type: "notion" });
    await h.system.syncSource({ userId: "u1", sourceId: "wiki" });
    server.workspace.editPage(ws.editMe, [b.p("Webhook text mentions loquats.")], "2026-03-01T08:00:00.000Z");
    server.resetCounts();

    const body = pageEvent(ws.editMe);
    const forged = await signWebhookPayload({ body, verificationToken: "secret_not_the_right_one_000000" });
    for (const signature of [forged, undefined, "sha256=zz", `${forged}00`]) {
      const r = await deliver(h, body, signature);
      expect(r.statusCode, String(signature)).toBe(401);
      expect(r.json().error.code).toBe("SYNC_E_UNAUTHORIZED");
    }
    // A signature over other bytes does not cover this body.
    const other = await signWebhookPayload({ body: `${body} `, verificationToken: VERIFICATION });
    expect((await deliver(h, body, other)).statusCode).toBe(401);
    expect(h.system.activity()).toEqual({ running: [], queued: [] });
    expect(server.total()).toBe(0);

    const run = nextRun(h, "wiki");
    const signature = await signWebhookPayload({ body, verificationToken: VERIFICATION });
    const ok = await deliver(h, body, signature);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toEqual({ kind: "event", event: "page.content_updated", runs: 1 });
    expect(await run).toMatchObject({ kind: "changes", updated: 1, deleted: 0, listed: 1 });
    expect(server.count("POST /v1/search")).toBe(0);
    expect([...server.childrenRead()]).toEqual([ws.editMe]);
    const hits = await h.system.search({ userId: "u1", query: "loquats", mode: "fts" });
    expect(hits.map((x) => x.item_key)).toEqual([ws.editMe]);
  });

  it("NOTION_WEBHOOK_SECRET pins the key: a deleted page's event removes it once Notion confirms the trash", async () => {
    const secret = "secret_configured_webhook_key_42";
    const h = await harness({ notionWebhookSecret: secret });
    expect((await deliver(h, JSON.stringify({ verification_token: VERIFICATION }))).json()).toEqual({
      kind: "verification",
      stored: false,
    });
    await h.system.sources.add({ userId: "u1", sourceId: "wiki", type: "notion" });
    await h.system.syncSource({ userId: "u1", sourceId: "wiki" });
    server.workspace.page(ws.trashMe).inTrash = true;
    const body = pageEvent(ws.trashMe, "page.deleted");
    const run = nextRun(h, "wiki");
    const r = await deliver(h, body, await signWebhookPayload({ body, verificationToken: secret }));
    expect(r.json()).toMatchObject({ kind: "event", runs: 1 });
    expect(await run).toMatchObject({ kind: "changes", deleted: 1 });
    const docs = await h.system.listDocuments({ userId: "u1", sourceId: "wiki" });
    expect(docs.some((d) => d.item_key === ws.trashMe)).toBe(false);

    const comment = JSON.stringify({ type: "comment.created", entity: { id: ws.home, type: "comment" } });
    const ignored = await deliver(
      h,
      comment,
      await signWebhookPayload({ body: comment, verificationToken: secret }),
    );
    expect(ignored.json()).toMatchObject({ kind: "ignored" });
  });
});

describe("notion sources through the API", () => {
  it("a user key may not add a notion source (it would borrow a server-side token); an admin key may, for a user", async () => {
    const h = await harness();
    const body = { source_type: "notion", source_id: "wiki", config: { token_env: "NOTION_TOKEN" } };
    const refused = await h.call("u1", { method: "POST", url: "/api/v1/sources", payload: body });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe("SYNC_E_FORBIDDEN");
    const bare = await h.call("u1", {
      method: "POST",
      url: "/api/v1/sources",
      payload: { source_type: "notion", source_id: "wiki" },
    });
    expect(bare.statusCode).toBe(403);
    expect(await h.system.sources.list({ userId: "u1" })).toEqual([]);

    const run = nextRun(h, "wiki");
    const added = await h.call("admin", {
      method: "POST",
      url: "/api/v1/sources",
      payload: { ...body, user_id: "u1" },
    });
    expect(added.statusCode, added.body).toBe(201);
    expect(added.json().source).toMatchObject({
      user_id: "u1",
      type: "notion",
      config: { token_env: "NOTION_TOKEN" },
    });
    expect(await run).toMatchObject({ kind: "full", failed: 0 });

    // The user sees and searches its documents, but may not repoint the token.
    const hits = await h.call("u1", {
      method: "POST",
      url: "/api/v1/search",
      payload: { query: "marmalade", mode: "fts" },
    });
    expect(hits.json().hits[0]).toMatchObject({
      item_key: ws.deep,
      url: expect.stringContaining("notion.so"),
    });
    const patch = await h.call("u1", {
      method: "PATCH",
      url: "/api/v1/sources/notion/wiki",
      payload: { config: { token_env: "OTHER_USERS_TOKEN" } },
    });
    expect(patch.statusCode).toBe(403);
    const enable = await h.call("u1", {
      method: "PATCH",
      url: "/api/v1/sources/notion/wiki",
      payload: { poll_interval: 300 },
    });
    expect(enable.statusCode, enable.body).toBe(200);
  });
});
