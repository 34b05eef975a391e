import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type EmbeddingsServer, startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { CLI, runCli, spawnCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, show, writeCorpus } from "../integration/support.js";

/** Runs the built CLI on a pseudo-terminal (util-linux `script`); resolves with the captured screen. */
function onTerminal(
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; screen: string }> {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const child = spawn("/usr/bin/script", ["-qec", quoted, "/dev/null"], {
    cwd,
    env: { ...cleanEnv(), AWS_EC2_METADATA_DISABLED: "true", TERM: "xterm", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let screen = "";
  child.stdout.on("data", (d) => {
    screen += d;
  });
  child.stderr.on("data", (d) => {
    screen += d;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, screen }));
  });
}

function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(LANCEDB_|EMBEDDING_|S3_|AWS_|STATE_DB_PATH|LOG_)/.test(k)) out[k] = v;
  }
  return out;
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe("terminal output of sync", () => {
  const temps: Array<{ cleanup: () => void }> = [];
  const servers: EmbeddingsServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
    for (const t of temps.splice(0)) t.cleanup();
  });

  function world() {
    const tmp = makeTempDir("lancedb-sync-term-");
    temps.push(tmp);
    const docs = join(tmp.path, "docs");
    mkdirSync(docs);
    writeFileSync(join(docs, "good.txt"), "Lighthouse keeping notes.\nThe lamp is lit at dusk.\n");
    return { dir: tmp.path, docs, env: envFor(tmp.path) };
  }

  it("on a terminal: no JSON on the screen, the failing file named once after the bar, full JSON in LOG_FILE", async () => {
    const w = world();
    writeFileSync(join(w.docs, "broken.docx"), "PK\u0003\u0004 this is not a zip archive at all");
    const logFile = join(w.dir, "sync.log");
    const r = await onTerminal(["sync", w.docs, "--user", "alice"], w.dir, {
      ...w.env,
      LOG_LEVEL: "info",
      LOG_FILE: logFile,
    });
    expect(r.code, r.screen).toBe(2);
    expect(r.screen).not.toContain('{"level"');
    expect(r.screen).not.toMatch(/"msg"\s*:/);
    expect(count(r.screen, "broken.docx"), r.screen).toBe(1);
    expect(r.screen).toMatch(/failed: docs\/broken\.docx: .*\[SYNC_E_CORRUPT_FILE\]/);
    expect(r.screen).toContain("1 added");
    const log = readFileSync(logFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(log.some((l) => l.level === 40 && String(l.msg).includes("broken.docx"))).toBe(true);
    expect(log.some((l) => l.level === 30 && l.msg === "sync finished")).toBe(true);
  });

  it("off a terminal: no bar, a failure is a JSON warning on stderr", async () => {
    const w = world();
    writeFileSync(join(w.docs, "broken.docx"), "PK\u0003\u0004 not a zip");
    const r = await runCli(["sync", w.docs, "--user", "alice"], {
      cwd: w.dir,
      env: { ...w.env, LOG_LEVEL: "info" },
    });
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).not.toContain("syncing [");
    const lines = r.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({ level: 40, code: "SYNC_E_CORRUPT_FILE" })]);
  });

  it("off a terminal, a successful run at the default level writes nothing to stderr", async () => {
    const w = world();
    const r = await runCli(["sync", w.docs, "--user", "alice"], {
      cwd: w.dir,
      env: { ...w.env, LOG_LEVEL: "info" },
    });
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("embedded 1 chunk (0 reused)");
    const again = await runCli(["search", "lamp", "--user", "alice"], {
      cwd: w.dir,
      env: { ...w.env, LOG_LEVEL: "info" },
    });
    expect(again.code, show(again)).toBe(0);
    expect(again.stderr).toBe("");
    // Debug asks for more: the info lines come back on stderr.
    const debug = await runCli(["sync", w.docs, "--user", "alice"], {
      cwd: w.dir,
      env: { ...w.env, LOG_LEVEL: "debug" },
    });
    expect(debug.stderr).toContain('"msg":"sync finished"');
  });

  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`${signal} during a sync stops it cleanly: exit ${code}, the run is recorded interrupted, the next sync finishes`, async () => {
      const w = world();
      writeCorpus(w.docs, 300, 7);
      const server = await startEmbeddingsServer({ dimensions: 16, behaviour: () => ({ delayMs: 60 }) });
      servers.push(server);
      const env = {
        ...w.env,
        EMBEDDING_PROVIDER: "openai",
        EMBEDDING_BASE_URL: server.url,
        EMBEDDING_DIMENSIONS: "16",
        EMBEDDING_BATCH_SIZE: "8",
      };
      const run = spawnCli(["sync", w.docs, "--user", "alice", "--json"], { cwd: w.dir, env });
      const t0 = Date.now();
      while (server.requests.length < 3) {
        if (Date.now() - t0 > 30_000) throw new Error("the sync never reached the embedder");
        await new Promise((r) => setTimeout(r, 20));
      }
      run.child.kill(signal);
      const r = await run.done;
      expect(r.code, show(r)).toBe(code);
      expect(r.json.error.code).toBe("SYNC_E_INTERRUPTED");
      expect(r.json.exit_code).toBe(code);
      expect(r.stderr).toMatch(new RegExp(`interrupted by ${signal}: \\d+ of 301 items processed`));
      expect(r.stderr).toContain("recorded as interrupted");

      const status = await runCli(["status", "--json"], { cwd: w.dir, env });
      expect(status.json.last_run).toMatchObject({ status: "interrupted" });
      expect(status.json.documents).toBeLessThan(301);

      server.setBehaviour(undefined);
      const next = await runCli(["sync", w.docs, "--user", "alice", "--json"], { cwd: w.dir, env });
      expect(next.code, show(next)).toBe(0);
      const done = await runCli(["status", "--json"], { cwd: w.dir, env });
      expect(done.json.documents).toBe(301);
      expect(done.json.last_run).toMatchObject({ status: "succeeded" });
    });
  }
});
