import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type CliResult, spawnCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, readTables, show } from "./support.js";

const temps: Array<{ cleanup: () => void }> = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.cleanup();
});

/** Runs the CLI, killing it after `ms` (a hang is a failure, not a slow test). */
async function runWithin(
  args: string[],
  cwd: string,
  env: Record<string, string>,
  ms = 10_000,
): Promise<CliResult & { ms: number }> {
  const t0 = Date.now();
  const { child, done } = spawnCli(args, { cwd, env });
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    const r = await done;
    return { ...r, ms: Date.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

function setup() {
  const tmp = makeTempDir("lancedb-sync-settings-");
  temps.push(tmp);
  const docs = join(tmp.path, "docs");
  mkdirSync(docs);
  writeFileSync(join(docs, "a.txt"), "river stone lantern orchard\n");
  return { dir: tmp.path, docs, env: envFor(tmp.path) };
}

/** Exit 1 with SYNC_E_CONFIG_INVALID naming `variable` and `value`, quickly, with nothing else on stderr. */
function expectConfigError(r: CliResult & { ms: number }, variable: string, value: string) {
  expect(r.signal, `killed after ${r.ms} ms (hung)\n${show(r)}`).toBeNull();
  expect(r.code, show(r)).toBe(1);
  expect(r.stderr).toMatch(/^lancedb-sync: SYNC_E_CONFIG_INVALID: /);
  expect(r.stderr).toContain(variable);
  expect(r.stderr).toContain(value);
  expect(r.stderr.trim().split("\n"), "one line on stderr").toHaveLength(1);
  expect(r.ms, "answered within 2 s (plus process start)").toBeLessThan(4000);
}

describe("settings are checked up front", () => {
  it("a table name LanceDB would not accept", async () => {
    const s = setup();
    for (const variable of ["LANCEDB_TABLE_NAME", "LANCEDB_CHUNKS_TABLE_NAME"]) {
      const r = await runWithin(["sync", s.docs, "--user", "u", "--json"], s.dir, {
        ...s.env,
        [variable]: "bad name!",
      });
      expectConfigError(r, variable, "bad name!");
      expect(r.json?.error?.code).toBe("SYNC_E_CONFIG_INVALID");
    }
    // Names LanceDB accepts stay accepted.
    const ok = await runWithin(["sync", s.docs, "--user", "u", "--json"], s.dir, {
      ...s.env,
      LANCEDB_TABLE_NAME: "docs.v2-x_1",
      LANCEDB_CHUNKS_TABLE_NAME: "chunks.v2-x_1",
    });
    expect(ok.code, show(ok)).toBe(0);
  });

  it("LANCEDB_URI pointing at a file", async () => {
    const s = setup();
    const file = join(s.dir, "not-a-dir");
    writeFileSync(file, "x");
    for (const cmd of [["sync", s.docs, "--user", "u"], ["status"]]) {
      const r = await runWithin(cmd, s.dir, { ...s.env, LANCEDB_URI: file });
      expectConfigError(r, "LANCEDB_URI", file);
      expect(r.stderr).toContain("not a directory");
    }
  });

  it(".env that is a directory", async () => {
    const s = setup();
    mkdirSync(join(s.dir, ".env"));
    const r = await runWithin(["status"], s.dir, s.env);
    expectConfigError(r, ".env", "directory");
  });

  it("LOG_FILE or STATE_DB_PATH that is a directory", async () => {
    const s = setup();
    const dir = join(s.dir, "a-dir");
    mkdirSync(dir);
    for (const variable of ["LOG_FILE", "STATE_DB_PATH"]) {
      const r = await runWithin(["sync", s.docs, "--user", "u"], s.dir, { ...s.env, [variable]: dir });
      expectConfigError(r, variable, dir);
      expect(r.stderr).toContain("is a directory");
    }
  });

  it("LOG_FILE, STATE_DB_PATH or LANCEDB_URI where no directory can be made (a file as parent, /proc)", async () => {
    const s = setup();
    const file = join(s.dir, "plain-file");
    writeFileSync(file, "x");
    const cases: Array<[string, string]> = [
      ["LOG_FILE", join(file, "logs", "sync.log")],
      ["STATE_DB_PATH", join(file, "state.db")],
      ["LANCEDB_URI", join(file, "db")],
      ["LOG_FILE", "/proc/lancedb-sync-test/sync.log"],
      ["STATE_DB_PATH", "/proc/lancedb-sync-test/x/state.db"],
      ["LANCEDB_URI", "/proc/lancedb-sync-test/db"],
    ];
    for (const [variable, value] of cases) {
      const r = await runWithin(["status"], s.dir, { ...s.env, [variable]: value });
      expectConfigError(r, variable, value);
    }
  });
});

describe("a failed embedder trial", () => {
  it("leaves empty tables that the next embedder may take over", async () => {
    const s = setup();
    const trial = await runWithin(
      ["sync", s.docs, "--user", "u", "--json"],
      s.dir,
      {
        ...s.env,
        EMBEDDING_PROVIDER: "openai",
        EMBEDDING_BASE_URL: "http://127.0.0.1:1/v1",
        EMBEDDING_DIMENSIONS: "16",
        EMBEDDING_DEADLINE_MS: "3000",
      },
      60_000,
    );
    expect(trial.code, show(trial)).toBe(1);
    expect(trial.json?.error?.code, show(trial)).toMatch(/^SYNC_E_EMBEDDING/);

    const back = await runWithin(["sync", s.docs, "--user", "u", "--json"], s.dir, s.env, 60_000);
    expect(back.code, show(back)).toBe(0);
    expect(back.json).toMatchObject({ added: 1, failed: 0 });
    const { docs, chunks } = await readTables(s.env.LANCEDB_URI);
    expect(docs.length).toBe(1);
    expect(chunks.length).toBeGreaterThan(0);
    const status = await runWithin(["status", "--json"], s.dir, s.env);
    expect(status.json.table_embedder).toBe(status.json.embedder);

    // Tables that hold rows stay bound: another embedder is refused, naming both.
    const other = await runWithin(["sync", s.docs, "--user", "u", "--json"], s.dir, {
      ...s.env,
      EMBEDDING_DIMENSIONS: "128",
    });
    expect(other.code, show(other)).toBe(1);
    expect(other.json.error.code).toBe("SYNC_E_EMBEDDER_MISMATCH");
  });
});
