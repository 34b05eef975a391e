import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, show } from "../integration/support.js";
import { FakeNotionServer } from "./fake-notion-server.js";
import { buildWorkspace, type Workspace } from "./support.js";

let tmp: ReturnType<typeof makeTempDir>;
let server: FakeNotionServer;
let ws: Workspace;

beforeEach(async () => {
  tmp = makeTempDir("notion-cli-");
  server = new FakeNotionServer();
  await server.start();
  ws = buildWorkspace(server.workspace);
});

afterEach(async () => {
  await server.close();
  tmp.cleanup();
});

describe("CLI: a notion source", () => {
  it("sources add notion with --token-env and --root, then sync --source runs one reconciliation", async () => {
    const env = envFor(tmp.path, {
      NOTION_API_BASE_URL: server.url,
      NOTION_REQUESTS_PER_SECOND: "1000",
      MY_NOTION_TOKEN: server.token,
    });
    const cli = (...args: string[]) => runCli(args, { cwd: tmp.path, env });

    const added = await cli(
      "sources",
      "add",
      "notion",
      "--user",
      "alice",
      "--name",
      "wiki",
      "--token-env",
      "MY_NOTION_TOKEN",
      "--root",
      ws.home,
      "--poll-interval",
      "120",
      "--json",
    );
    expect(added.code, show(added)).toBe(0);
    expect(added.json).toMatchObject({
      type: "notion",
      source_id: "wiki",
      poll_interval: 120,
      config: { token_env: "MY_NOTION_TOKEN", roots: [ws.home] },
    });

    const first = await cli("sync", "--user", "alice", "--source", "wiki", "--json");
    expect(first.code, show(first)).toBe(0);
    // Home, its child page, the page under that, three rows and the data source.
    expect(first.json).toMatchObject({ source: "wiki", source_type: "notion", added: 7, failed: 0 });

    server.resetCounts();
    const second = await cli("sync", "--user", "alice", "--source", "wiki", "--json");
    expect(second.code, show(second)).toBe(0);
    expect(second.json).toMatchObject({ added: 0, updated: 0, deleted: 0, unchanged: 7 });
    expect(server.count("GET /v1/blocks/:id/children")).toBe(0);

    const found = await cli("search", "quokkas", "--user", "alice", "--mode", "fts", "--json");
    expect(found.code, show(found)).toBe(0);
    expect(found.json.hits[0]).toMatchObject({
      item_key: ws.child,
      url: expect.stringContaining("notion.so"),
    });

    for (const r of [added, first, second, found]) {
      expect(r.stdout + r.stderr).not.toContain(server.token);
    }
  });

  it("a token that is not set fails the sync with a clear error and exit 1", async () => {
    const env = envFor(tmp.path, { NOTION_API_BASE_URL: server.url });
    const cli = (...args: string[]) => runCli(args, { cwd: tmp.path, env });
    expect((await cli("sources", "add", "notion", "-u", "alice", "-n", "wiki", "--json")).code).toBe(0);
    const r = await cli("sync", "--user", "alice", "--source", "wiki", "--json");
    expect(r.code, show(r)).toBe(1);
    expect(r.json.error).toMatchObject({ code: "SYNC_E_SOURCE_UNAVAILABLE" });
    expect(r.json.error.message).toMatch(/NOTION_TOKEN is not set/);
    expect(server.total()).toBe(0);
  });
});
