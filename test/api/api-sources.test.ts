import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiHarness, startApi } from "./api-harness.js";

let h: ApiHarness;
let allowed: string;

beforeAll(async () => {
  h = await startApi((dir) => ({ allowedRoots: join(dir, "allowed"), maxRequestBodyKb: 4 }));
  allowed = join(h.dir, "allowed");
});
afterAll(async () => h.close());

/** A folder under the allowed root with these files. */
function rooted(name: string, files: Record<string, string>): string {
  const dir = join(allowed, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, body] of Object.entries(files)) writeFileSync(join(dir, f), body);
  return dir;
}

async function sourceIds(as: "u1" | "admin" = "u1"): Promise<string[]> {
  const r = await h.call(as, { method: "GET", url: "/api/v1/sources" });
  return r.json().sources.map((s: { source_id: string }) => s.source_id);
}

const add = (payload: object, as: "u1" | "u2" | "admin" = "u1") =>
  h.call(as, { method: "POST", url: "/api/v1/sources", payload });

describe("sources", () => {
  it("adds a folder under ALLOWED_ROOTS and starts its first run; get, scan and wait report it", async () => {
    const dir = rooted("notes", { "a.md": "# Alpha\n\nfirst", "b.md": "# Beta\n\nsecond" });
    const res = await add({
      source_type: "local_filesystem",
      source_id: "notes",
      config: { watch_paths: [dir] },
    });
    expect(res.statusCode).toBe(201);
    const { source, job } = res.json();
    expect(source).toMatchObject({
      user_id: "u1",
      source_id: "notes",
      type: "local_filesystem",
      enabled: true,
    });
    expect(job).toMatchObject({ source_id: "notes", kind: "full", joined: false });
    const first = await h.service.queue.wait(job.job_id);
    expect(first.added).toBe(2);

    const got = await h.call("u1", { method: "GET", url: "/api/v1/sources/local_filesystem/notes" });
    expect(got.json().source.config.watch_paths).toEqual([dir]);
    // The path's type must be the source's.
    const wrongType = await h.call("u1", { method: "GET", url: "/api/v1/sources/upload/notes" });
    expect(wrongType.statusCode).toBe(404);

    const scan = await h.call("u1", { method: "POST", url: "/api/v1/sources/local_filesystem/notes/scan" });
    expect(scan.statusCode).toBe(202);
    expect(scan.json().job).toMatchObject({ source_id: "notes", kind: "full" });
    await h.service.queue.wait(scan.json().job.job_id);
    const waited = await h.call("u1", {
      method: "POST",
      url: "/api/v1/sources/local_filesystem/notes/scan?wait=true",
    });
    expect(waited.statusCode).toBe(200);
    expect(waited.json().result).toMatchObject({ source: "notes", unchanged: 2, added: 0 });

    const sync = await h.call("u1", { method: "GET", url: "/api/v1/sync/status" });
    const body = sync.json();
    expect(body.recent.length).toBeGreaterThanOrEqual(3);
    expect(body.recent[0]).toMatchObject({ state: "succeeded", reason: "api", source_id: "notes" });
    expect(body.recent[0].result.unchanged).toBe(2);
    expect(body).toMatchObject({ running: [], queued: [], failures: [] });
  });

  it("refuses paths outside ALLOWED_ROOTS (by segment, through symlinks) and follow_symlinks with 403", async () => {
    const outside = h.folder("outside", { "o.md": "# Outside" });
    const before = await sourceIds();
    const sibling = `${allowed}-evil`;
    mkdirSync(sibling, { recursive: true });
    const link = join(allowed, "link-out");
    symlinkSync(outside, link);
    const attempts = [
      { watch_paths: [outside] },
      { watch_paths: [sibling] },
      { watch_paths: [join(allowed, "..", "outside")] },
      { watch_paths: [link] },
      { paths: [outside] },
      { watch_paths: [rooted("fine", {})], follow_symlinks: true },
    ];
    for (const config of attempts) {
      const r = await add({ source_type: "fs", source_id: "sneaky", config });
      expect(r.statusCode, JSON.stringify(config)).toBe(403);
      expect(r.json().error.code).toBe("SYNC_E_ROOT_NOT_ALLOWED");
    }
    const named = await add({
      source_type: "local_filesystem",
      source_id: "sneaky",
      config: { watch_paths: [outside] },
    });
    expect(named.json().error.message).toContain(JSON.stringify(outside));
    // Nothing was added.
    expect(await sourceIds()).toEqual(before);

    // With no ALLOWED_ROOTS no folder may be added through the API.
    const closed = await startApi();
    try {
      const r = await closed.call("u1", {
        method: "POST",
        url: "/api/v1/sources",
        payload: { source_type: "local_filesystem", source_id: "x", config: { watch_paths: [outside] } },
      });
      expect(r.statusCode).toBe(403);
      expect(r.json().error.message).toContain("ALLOWED_ROOTS is empty");
      // Upload sources need no root.
      const up = await closed.call("u1", {
        method: "POST",
        url: "/api/v1/sources",
        payload: { source_type: "upload", source_id: "inbox", enabled: false },
      });
      expect(up.statusCode).toBe(201);
      expect(up.json()).toMatchObject({ source: { type: "upload", enabled: false }, job: null });
    } finally {
      await closed.close();
    }
  });

  it("invalid bodies are 400 naming the field, and change nothing", async () => {
    const before = await sourceIds();
    const dir = rooted("valid", { "v.md": "# V" });
    const cases: Array<[object, RegExp]> = [
      [{ source_type: "local_filesystem", source_id: "x", enabled: "yes" }, /body\.enabled: must be boolean/],
      [
        { source_type: "upload", source_id: "x", poll_interval: "60" },
        /body\.poll_interval: must be integer/,
      ],
      [{ source_type: "upload", source_id: "x", poll_interval: 0 }, /body\.poll_interval: must be >= 1/],
      [{ source_type: "upload", source_id: "x", config: "folder" }, /body\.config: must be object/],
      [{ source_type: "upload", source_id: "x", colour: "red" }, /body: unknown field "colour"/],
      [{ source_type: "upload" }, /body\.source_id: is required/],
      [{ source_type: "ftp", source_id: "x" }, /unknown source type "ftp"/],
      [{ source_type: "upload", source_id: "x' OR '1'='1" }, /body\.source_id: must match the pattern/],
      [{ source_type: "local_filesystem", source_id: "x", config: { watch_paths: [] } }, /watch_paths/],
      [{ source_type: "local_filesystem", source_id: "x", config: { watch_paths: ["rel/dir"] } }, /absolute/],
      [
        { source_type: "local_filesystem", source_id: "x", config: { watch_paths: [dir], colour: "red" } },
        /config: unknown setting colour/,
      ],
    ];
    for (const [payload, message] of cases) {
      const r = await add(payload);
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
      expect(r.json().error.code).toMatch(/^SYNC_E_INVALID_(ARGUMENT|ID)$/);
      expect(r.json().error.message).toMatch(message);
    }
    const notJson = await h.call("u1", {
      method: "POST",
      url: "/api/v1/sources",
      headers: { "content-type": "application/json" },
      payload: "{ not json",
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error.code).toBe("SYNC_E_INVALID_ARGUMENT");
    const huge = await add({
      source_type: "local_filesystem",
      source_id: "big",
      config: { watch_paths: [dir], ignore_patterns: Array.from({ length: 500 }, (_, i) => `*.tmp${i}`) },
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe("SYNC_E_BODY_TOO_LARGE");
    expect(await sourceIds()).toEqual(before);

    // Admin keys must name the user.
    const admin = await add({ source_type: "upload", source_id: "x" }, "admin");
    expect(admin.statusCode).toBe(400);
    expect(admin.json().error.message).toContain("user_id is required");
    const dup = await add({
      source_type: "local_filesystem",
      source_id: "valid",
      config: { watch_paths: [dir] },
    });
    expect(dup.statusCode).toBe(201);
    await h.service.queue.wait(dup.json().job.job_id);
    const again = await add({ source_type: "upload", source_id: "valid" });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe("SYNC_E_SOURCE_TYPE");
  });

  it("PATCH changes poll interval, enabled flag and config (a full run applies a new config)", async () => {
    const dir = rooted("patched", { "p.md": "# P" });
    const created = await add({
      source_type: "local_filesystem",
      source_id: "patched",
      config: { watch_paths: [dir] },
    });
    await h.service.queue.wait(created.json().job.job_id);
    const url = "/api/v1/sources/local_filesystem/patched";
    const patch = (payload: object) => h.call("u1", { method: "PATCH", url, payload });

    const slow = await patch({ poll_interval: 120, enabled: false });
    expect(slow.statusCode).toBe(200);
    expect(slow.json()).toMatchObject({ source: { poll_interval: 120, enabled: false }, job: null });
    const reset = await patch({ poll_interval: null, enabled: true });
    expect(reset.json().source).toMatchObject({ poll_interval_default: true, enabled: true });

    const out = await patch({ config: { watch_paths: [h.folder("elsewhere", {})] } });
    expect(out.statusCode).toBe(403);
    expect((await patch({})).statusCode).toBe(400);
    expect((await patch({ type: "upload" })).json().error.message).toContain('unknown field "type"');
    const unchanged = await h.call("u1", { method: "GET", url });
    expect(unchanged.json().source.config.watch_paths).toEqual([dir]);

    const same = await patch({ config: { watch_paths: [dir] } });
    expect(same.json().job).toBeNull();
    const more = rooted("patched-2", { "q.md": "# Q" });
    const moved = await patch({ config: { watch_paths: [dir, more] } });
    expect(moved.statusCode).toBe(200);
    expect(moved.json().job).toMatchObject({ kind: "full" });
    expect((await h.service.queue.wait(moved.json().job.job_id)).added).toBe(1);
  });

  it("POST /sources/local_filesystem/documents/scan scans every folder of the user when none is named documents", async () => {
    const ids = (await h.system.sources.list({ userId: "u1" }))
      .filter((s) => s.type === "local_filesystem")
      .map((s) => s.source_id);
    expect(ids.length).toBeGreaterThanOrEqual(2);
    const r = await h.call("u1", { method: "POST", url: "/api/v1/sources/local_filesystem/documents/scan" });
    expect(r.statusCode).toBe(202);
    expect(
      r
        .json()
        .jobs.map((j: { source_id: string }) => j.source_id)
        .sort(),
    ).toEqual([...ids].sort());
    const waited = await h.call("u1", {
      method: "POST",
      url: "/api/v1/sources/local_filesystem/documents/scan?wait=true",
    });
    expect(waited.statusCode).toBe(200);
    expect(waited.json().results).toHaveLength(ids.length);
    // A user without folders gets 404.
    const none = await h.call("u2", {
      method: "POST",
      url: "/api/v1/sources/local_filesystem/documents/scan",
    });
    expect(none.statusCode).toBe(404);
  });

  it("DELETE removes a source and its documents (keep_documents keeps them)", async () => {
    const dir = rooted("doomed", { "d.md": "# Doomed\n\ngoing away" });
    const created = await add({
      source_type: "local_filesystem",
      source_id: "doomed",
      config: { watch_paths: [dir] },
    });
    await h.service.queue.wait(created.json().job.job_id);
    const docs = async () =>
      (await h.call("u1", { method: "GET", url: "/api/v1/documents?source_id=doomed" })).json().documents;
    expect(await docs()).toHaveLength(1);
    const bad = await h.call("u1", {
      method: "DELETE",
      url: "/api/v1/sources/local_filesystem/doomed?keep_documents=1",
    });
    expect(bad.statusCode).toBe(400);
    const r = await h.call("u1", { method: "DELETE", url: "/api/v1/sources/local_filesystem/doomed" });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ source_id: "doomed", documents: 1, kept_documents: false });
    expect(await docs()).toEqual([]);
    expect(
      (await h.call("u1", { method: "GET", url: "/api/v1/sources/local_filesystem/doomed" })).statusCode,
    ).toBe(404);
  });
});

describe("sources with monitoring on", () => {
  it("adding a source through the API runs it once: the service adds no second run for the change", async () => {
    const m = await startApi((dir) => ({
      allowedRoots: join(dir, "allowed"),
      enableSourceMonitoring: true,
      watchSources: false,
      defaultPollInterval: 3600,
      syncInterval: 3600,
    }));
    try {
      const dir = join(m.dir, "allowed", "docs");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "a.md"), "# A\n\nalpha");
      const res = await m.call("u1", {
        method: "POST",
        url: "/api/v1/sources",
        payload: { source_type: "local_filesystem", source_id: "docs", config: { watch_paths: [dir] } },
      });
      expect(res.statusCode).toBe(201);
      await m.service.queue.wait(res.json().job.job_id);
      // Give the service's refresh (sourceChanged) time to act, then wait for anything it queued.
      const end = Date.now() + 10_000;
      while (
        Date.now() < end &&
        !m.service.monitors("u1").some((s) => s.source_id === "docs" && s.next_poll_at)
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const j of [...m.service.queue.activity("u1").running, ...m.service.queue.activity("u1").queued]) {
        await m.service.queue.wait(j.job_id).catch(() => undefined);
      }
      const runs = m.service.queue.recent("u1").filter((j) => j.source_id === "docs");
      expect(runs.map((j) => j.reason)).toEqual(["api"]);
    } finally {
      await m.close();
    }
  });
});
