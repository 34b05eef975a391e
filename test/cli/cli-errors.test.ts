import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type EmbeddingsServer, startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, show } from "../integration/support.js";

/** Errors a newcomer meets: each says what is wrong, with the right exit code (and JSON with --json). */
describe("CLI errors a user can act on", () => {
  const temps: Array<{ cleanup: () => void }> = [];
  const servers: EmbeddingsServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
    for (const t of temps.splice(0)) t.cleanup();
  });

  function world() {
    const tmp = makeTempDir("lancedb-sync-errors-");
    temps.push(tmp);
    const docs = join(tmp.path, "docs");
    mkdirSync(docs);
    writeFileSync(join(docs, "a.md"), "# Alpha\n\nThe lighthouse keeper lights the lamp.\n");
    writeFileSync(join(docs, "b.txt"), "Bread and butter notes.\n");
    const cli = (args: string[], extra: Record<string, string> = {}) =>
      runCli(args, { cwd: tmp.path, env: { ...envFor(tmp.path), ...extra } });
    return { dir: tmp.path, docs, env: envFor(tmp.path), cli };
  }

  it("help lists every command though a command's process loads only its own; a typo gets a suggestion", async () => {
    const w = world();
    const help = await w.cli(["--help"]);
    expect(help.code, show(help)).toBe(0);
    const commands = help.stdout.slice(help.stdout.indexOf("Commands:"));
    const listed = [...commands.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]);
    expect(listed).toEqual([
      "sync",
      "sources",
      "ingest",
      "documents",
      "status",
      "search",
      "demo",
      "setup",
      "compact",
      "cleanup-failed",
      "reset",
      "unlock",
      "keys",
      "serve",
      "doctor",
      "migrate",
      "backup",
      "restore",
      "help",
    ]);
    const typo = await w.cli(["synk", "--user", "alice"]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain("SYNC_E_INVALID_ARGUMENT: unknown command 'synk'");
    expect(typo.stderr).toContain("Did you mean sync?");
    const version = await w.cli(["--version"]);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const sub = await w.cli(["help", "backup"]);
    expect(sub.code, show(sub)).toBe(0);
    expect(sub.stdout).toContain("Usage: lancedb-sync backup");
    // A command after a global option value still runs as itself.
    const synced = await w.cli(["sync", w.docs, "--user", "alice", "--json"]);
    expect(synced.code, show(synced)).toBe(0);
    expect(synced.json.added).toBe(2);
  });

  it("--json covers argument errors: a missing --user, an unknown flag, a bad --limit", async () => {
    const w = world();
    const missing = await w.cli(["search", "lamp", "--json"]);
    expect(missing.code, show(missing)).toBe(1);
    expect(missing.json).toEqual({
      error: { code: "SYNC_E_INVALID_ARGUMENT", message: "required option '-u, --user <id>' not specified" },
    });
    expect(missing.stderr).toBe(
      "lancedb-sync: SYNC_E_INVALID_ARGUMENT: required option '-u, --user <id>' not specified\n",
    );

    const unknown = await w.cli(["sync", w.docs, "--user", "alice", "--bogus", "--json"]);
    expect(unknown.code, show(unknown)).toBe(1);
    expect(unknown.json.error).toEqual({
      code: "SYNC_E_INVALID_ARGUMENT",
      message: "unknown option '--bogus'",
    });

    const limit = await w.cli(["search", "lamp", "--user", "alice", "--limit", "abc", "--json"]);
    expect(limit.code, show(limit)).toBe(1);
    expect(limit.json.error.message).toBe(
      "option '-l, --limit <n>' argument 'abc' is invalid. expected an integer from 1 to 1000",
    );
    expect(limit.stderr).not.toContain("NaN");

    const plain = await w.cli(["search", "lamp"]);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toBe("");
  });

  it("--pattern takes one glob per flag and does not swallow the paths after it", async () => {
    const w = world();
    const other = join(w.dir, "other");
    mkdirSync(other);
    writeFileSync(join(other, "c.md"), "# Gamma\n\nHarbour notes.\n");
    writeFileSync(join(other, "d.txt"), "Not matched.\n");
    const r = await w.cli(["sync", w.docs, "--pattern", "**/*.md", other, "--user", "alice", "--json"]);
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ listed: 2, added: 2 });
    const two = await w.cli(["sync", w.docs, "-p", "*.md", "-p", "*.txt", "--user", "bob", "--json"]);
    expect(two.json, show(two)).toMatchObject({ listed: 2, added: 2 });
  });

  it("a first sync of missing paths names every one of them and leaves no source behind", async () => {
    const w = world();
    const [a, b] = [join(w.dir, "nope-a"), join(w.dir, "nope-b")];
    const r = await w.cli(["sync", a, b, "--user", "alice", "--json"]);
    expect(r.code, show(r)).toBe(1);
    expect(r.json.error.code).toBe("SYNC_E_SOURCE_UNAVAILABLE");
    expect(r.json.error.message).toBe(
      `${a} does not exist; ${b} does not exist: nothing was registered or synced; check the paths`,
    );
    expect(r.stderr.match(/ENOENT/g) ?? []).toHaveLength(0);
    const status = await w.cli(["status", "--json"]);
    expect(status.json.sources).toEqual([]);
    // The path that does exist now syncs, with nothing in its way.
    const ok = await w.cli(["sync", w.docs, "--user", "alice", "--json"]);
    expect(ok.code, show(ok)).toBe(0);
  });

  it("search with nothing indexed for the user says so and creates no tables", async () => {
    const w = world();
    for (const mode of ["hybrid", "vector", "fts"]) {
      const r = await w.cli(["search", "lamp", "--user", "alice", "--mode", mode, "--json"]);
      expect(r.code, show(r)).toBe(0);
      expect(r.json).toMatchObject({
        hits: [],
        note: expect.stringContaining("nothing indexed for user alice"),
      });
      expect(r.stderr).toContain("run `lancedb-sync sync <folder> --user alice` first");
    }
    expect(existsSync(w.env.LANCEDB_URI)).toBe(false);
    await w.cli(["sync", w.docs, "--user", "bob"]);
    const other = await w.cli(["search", "lamp", "--user", "alice"]);
    expect(other.stderr).toContain("nothing indexed for user alice");
    const found = await w.cli(["search", "lamp", "--user", "bob"]);
    expect(found.stderr).toBe("");
    expect(found.stdout).toContain("Alpha");
  });

  it("LANCEDB_URI=s3://… is refused with a sentence, not a backtrace", async () => {
    const w = world();
    const r = await w.cli(["status", "--json"], { LANCEDB_URI: "s3://bucket/lancedb" });
    expect(r.code, show(r)).toBe(1);
    expect(r.json.error.code).toBe("SYNC_E_CONFIG_INVALID");
    expect(r.json.error.message).toContain(
      'LANCEDB_URI="s3://bucket/lancedb": only a local directory is supported',
    );
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
  });

  it("unknown .env keys warn naming the closest known key; LOG_LEVEL=DEBUG is accepted; CHUNK_SIZE_MB still works", async () => {
    const w = world();
    writeFileSync(
      join(w.dir, ".env"),
      "EMBEDING_PROVIDER=openai\nLANCEDB_URL=x\nAWS_PROFILE=work\nMY_APP_SETTING=1\nCHUNK_SIZE_MB=2\n",
    );
    const r = await w.cli(["status"], { LOG_LEVEL: "DEBUG" });
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toContain(
      ".env: unknown setting EMBEDING_PROVIDER is ignored — did you mean EMBEDDING_PROVIDER?",
    );
    expect(r.stderr).toContain(".env: unknown setting LANCEDB_URL is ignored — did you mean LANCEDB_URI?");
    expect(r.stderr).toContain("CHUNK_SIZE_MB (in .env) is deprecated: it is now called READ_CHUNK_MB");
    expect(r.stderr).not.toContain("AWS_PROFILE");
    expect(r.stderr).not.toContain("MY_APP_SETTING");
    const bad = await w.cli(["status"], { LOG_LEVEL: "LOUD" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('LOG_LEVEL="LOUD"');
  });

  it("setup checks the configured embedder: reached, answering, with the expected width", async () => {
    const w = world();
    const server = await startEmbeddingsServer({ dimensions: 16 });
    servers.push(server);
    const openai = { EMBEDDING_PROVIDER: "openai", EMBEDDING_BASE_URL: server.url, EMBEDDING_MODEL: "m1" };
    const ok = await w.cli(["setup", "--json"], openai);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.json.checks).toContainEqual({
      name: "embedder answers",
      ok: true,
      detail: `openai model m1 at ${server.url}: 16-dimensional vectors (openai-compatible:m1:16)`,
    });

    server.setBehaviour(() => ({
      body: {
        object: "list",
        data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2, 0.3] }],
        model: "m1",
      },
    }));
    const narrow = await w.cli(["setup", "--json"], { ...openai, EMBEDDING_DIMENSIONS: "16" });
    expect(narrow.code, show(narrow)).toBe(1);
    const check = narrow.json.checks.find((c: { name: string }) => c.name === "embedder answers");
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/3|16/);

    const down = await w.cli(["setup"], { ...openai, EMBEDDING_BASE_URL: "http://127.0.0.1:9/v1" });
    expect(down.code, show(down)).toBe(1);
    expect(down.stdout).toContain("FAIL embedder answers: openai model m1 at http://127.0.0.1:9/v1:");
  });

  it("setup --path X without --generate-config says what it did", async () => {
    const w = world();
    const missing = await w.cli(["setup", "--path", "other.env"]);
    expect(missing.code, show(missing)).toBe(0);
    expect(missing.stdout).toContain(
      "other.env does not exist: checked the defaults (and the environment); nothing was written",
    );
    expect(existsSync(join(w.dir, "other.env"))).toBe(false);
    writeFileSync(join(w.dir, "other.env"), "TEXT_CHUNK_SIZE=800\n");
    const found = await w.cli(["setup", "--path", "other.env", "--json"]);
    expect(found.json).toMatchObject({
      written: null,
      env_file: "other.env",
      env_file_found: true,
      ok: true,
    });
  });

  it("--mode fts neither creates nor asks the embedder", async () => {
    const w = world();
    const server = await startEmbeddingsServer({ dimensions: 16 });
    servers.push(server);
    const openai = { EMBEDDING_PROVIDER: "openai", EMBEDDING_BASE_URL: server.url };
    const synced = await w.cli(["sync", w.docs, "--user", "alice"], openai);
    expect(synced.code, show(synced)).toBe(0);
    expect(server.requests.length).toBeGreaterThan(0);
    server.reset();
    const r = await w.cli(["search", "lighthouse", "--user", "alice", "--mode", "fts", "--json"], openai);
    expect(r.code, show(r)).toBe(0);
    expect(r.json.hits[0].title).toBe("Alpha");
    expect(server.requests).toHaveLength(0);
    await server.close();
    servers.splice(0);
    const offline = await w.cli(["search", "lighthouse", "--user", "alice", "--mode", "fts"], openai);
    expect(offline.code, show(offline)).toBe(0);
  });
});
