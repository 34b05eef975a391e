import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as lancedb from "@lancedb/lancedb";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV_VARS } from "../../src/config/schema.js";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, expectStoreMatchesFiles, listFiles, readTables, show, suiteTempDir } from "./support.js";

const SAMPLES = fileURLToPath(new URL("../../samples/", import.meta.url));

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

describe("setup", () => {
  it("--generate-config writes a .env naming every variable, refuses to overwrite unless --force", async () => {
    const tmp = makeTempDir("lancedb-sync-setup-");
    try {
      const env = envFor(tmp.path);
      const r = await runCli(["setup", "--generate-config", "--json"], { cwd: tmp.path, env });
      expect(r.code, show(r)).toBe(0);
      expect(r.json.written).toBe(".env");
      expect(r.json.ok).toBe(true);
      const text = readFileSync(join(tmp.path, ".env"), "utf8");
      for (const [name, spec] of Object.entries(ENV_VARS)) {
        const line = new RegExp(
          `^(# )?${name}=${spec.default.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`,
          "m",
        );
        expect(text, name).toMatch(line);
      }

      writeFileSync(join(tmp.path, ".env"), "# my own settings\n");
      const again = await runCli(["setup", "--generate-config", "--json"], { cwd: tmp.path, env });
      expect(again.code, show(again)).toBe(1);
      expect(again.json.error.code).toBe("SYNC_E_ALREADY_EXISTS");
      expect(again.stderr).toContain("SYNC_E_ALREADY_EXISTS");
      expect(readFileSync(join(tmp.path, ".env"), "utf8")).toBe("# my own settings\n");

      const forced = await runCli(["setup", "--generate-config", "--force", "--json"], {
        cwd: tmp.path,
        env,
      });
      expect(forced.code, show(forced)).toBe(0);
      expect(readFileSync(join(tmp.path, ".env"), "utf8")).toBe(text);

      // The generated file is a valid configuration: the CLI runs with it and nothing else.
      const fromFile = await runCli(["status", "--json"], { cwd: tmp.path });
      expect(fromFile.code, show(fromFile)).toBe(0);
    } finally {
      tmp.cleanup();
    }
  });

  it("checks pass in a fresh directory", async () => {
    const tmp = makeTempDir("lancedb-sync-setup-");
    try {
      const env = envFor(join(tmp.path, "not", "yet", "there"));
      const r = await runCli(["setup", "--json"], { cwd: tmp.path, env });
      expect(r.code, show(r)).toBe(0);
      expect(r.json.ok).toBe(true);
      expect(r.json.written).toBeNull();
      const names = (r.json.checks as Check[]).map((c) => c.name);
      expect(names).toEqual(
        expect.arrayContaining([
          "state dir writable",
          "lancedb dir writable",
          "lancedb opens",
          "s3 reachable",
        ]),
      );
      for (const c of r.json.checks as Check[]) expect(c.ok, `${c.name}: ${c.detail}`).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  it("a bad value exits 1 and names the variable and the value, from the environment or from .env", async () => {
    const tmp = makeTempDir("lancedb-sync-setup-");
    try {
      const env = envFor(tmp.path);
      for (const args of [["setup"], ["status"], ["sync", tmp.path, "--user", "alice"]]) {
        const r = await runCli(args, { cwd: tmp.path, env: { ...env, MAX_CONCURRENT_PROCESSING: "abc" } });
        expect(r.code, show(r)).toBe(1);
        expect(r.stderr).toContain("SYNC_E_CONFIG_INVALID");
        expect(r.stderr).toContain("MAX_CONCURRENT_PROCESSING");
        expect(r.stderr).toContain("abc");
      }
      writeFileSync(join(tmp.path, ".env"), "WRITE_BATCH_DOCS=zero\n");
      const f = await runCli(["status", "--json"], { cwd: tmp.path, env });
      expect(f.code, show(f)).toBe(1);
      expect(f.json.error.code).toBe("SYNC_E_CONFIG_INVALID");
      expect(f.json.error.message).toContain("WRITE_BATCH_DOCS");
      expect(f.json.error.message).toContain("zero");
    } finally {
      tmp.cleanup();
    }
  });

  describe("S3 check against a local s3rver", () => {
    const tmp = suiteTempDir("lancedb-sync-s3-");
    let server: S3rver;
    let endpoint: string;
    beforeAll(async () => {
      tmp.create();
      const dir = join(tmp.path, "s3");
      mkdirSync(dir);
      server = new S3rver({
        port: 0,
        address: "127.0.0.1",
        silent: true,
        directory: dir,
        configureBuckets: [{ name: "backup" }],
      });
      const { port } = await server.run();
      endpoint = `http://127.0.0.1:${port}`;
    });
    afterAll(async () => {
      await server.close();
      tmp.cleanup();
    });
    const s3env = (bucket: string) => ({
      ...envFor(tmp.path),
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REGION: "us-east-1",
    });

    it("an existing bucket is reachable", async () => {
      const r = await runCli(["setup", "--json"], { cwd: tmp.path, env: s3env("backup") });
      expect(r.code, show(r)).toBe(0);
      const s3 = (r.json.checks as Check[]).find((c) => c.name === "s3 reachable");
      expect(s3).toMatchObject({ ok: true });
      expect(s3?.detail).toContain("backup");
    });

    it("a missing bucket fails the check (exit 1)", async () => {
      const r = await runCli(["setup", "--json"], { cwd: tmp.path, env: s3env("missing") });
      expect(r.code, show(r)).toBe(1);
      expect(r.json.ok).toBe(false);
      const s3 = (r.json.checks as Check[]).find((c) => c.name === "s3 reachable");
      expect(s3).toMatchObject({ ok: false });
      expect(s3?.detail).toContain("missing");
      const plain = await runCli(["setup"], { cwd: tmp.path, env: s3env("missing") });
      expect(plain.code).toBe(1);
      expect(plain.stdout).toMatch(/FAIL s3 reachable/);
    });
  });
});

describe("compact", () => {
  it("--retention-hours 0 after several syncs drops old versions and keeps every row", async () => {
    const tmp = makeTempDir("lancedb-sync-compact-");
    try {
      const env = envFor(tmp.path);
      const dir = join(tmp.path, "docs");
      mkdirSync(dir);
      for (let i = 0; i < 5; i++) writeFileSync(join(dir, `n${i}.txt`), `note ${i} about sea otters\n`);
      const sync = () => runCli(["sync", dir, "--user", "alice", "--json"], { cwd: tmp.path, env });
      expect((await sync()).code).toBe(0);
      for (let round = 0; round < 4; round++) {
        appendFileSync(join(dir, `n${round}.txt`), `edit ${round}: kelp forests\n`);
        writeFileSync(join(dir, `extra${round}.txt`), `extra note ${round} about urchins\n`);
        const r = await sync();
        expect(r.code, show(r)).toBe(0);
      }
      const before = await readTables(env.LANCEDB_URI);

      const r = await runCli(["compact", "--retention-hours", "0", "--json"], { cwd: tmp.path, env });
      expect(r.code, show(r)).toBe(0);
      expect(r.json.retention_hours).toBe(0);
      for (const name of ["processed_documents", "document_chunks"]) {
        const b = r.json.before.find((t: { name: string }) => t.name === name);
        const a = r.json.after.find((t: { name: string }) => t.name === name);
        // Five syncs each appended to both tables: several small fragments and versions to drop.
        expect(b.versions, name).toBeGreaterThan(2);
        expect(b.fragments, name).toBeGreaterThanOrEqual(5);
        expect(b.small_fragments, name).toBe(b.fragments);
        // Retention 0: every version older than the compaction is gone; at most the pre-compaction head
        // survives next to the versions compaction itself wrote.
        expect(a.versions, name).toBeLessThan(b.versions);
        expect(a.version, name).toBeGreaterThan(b.version);
        expect(a.versions, name).toBeLessThanOrEqual(a.version - b.version + 1);
        expect(a.rows, name).toBe(b.rows);
        // Compaction merged the small fragments: strictly fewer, and nine rows fit in one.
        expect(a.fragments, name).toBeLessThan(b.fragments);
        expect(a.fragments, name).toBe(1);
        expect(a.small_fragments, name).toBeLessThanOrEqual(a.fragments);
      }
      // The same, read straight from LanceDB rather than through the CLI's report.
      const db = await lancedb.connect(env.LANCEDB_URI);
      try {
        for (const name of ["processed_documents", "document_chunks"]) {
          const a = r.json.after.find((t: { name: string }) => t.name === name);
          const table = await db.openTable(name);
          try {
            expect((await table.stats()).fragmentStats.numFragments, name).toBe(a.fragments);
            expect((await table.listVersions()).length, name).toBe(a.versions);
          } finally {
            table.close();
          }
        }
      } finally {
        db.close();
      }

      const after = await readTables(env.LANCEDB_URI);
      expect(after.docs.map((d) => d.doc_id).sort()).toEqual(before.docs.map((d) => d.doc_id).sort());
      expect(after.chunks.map((c) => c.chunk_id).sort()).toEqual(before.chunks.map((c) => c.chunk_id).sort());
      await expectStoreMatchesFiles(env, listFiles(dir), { userId: "alice" });
      const s = await runCli(["search", "kelp", "--user", "alice", "--mode", "fts", "--json"], {
        cwd: tmp.path,
        env,
      });
      expect(s.json.hits).toHaveLength(4);
      const again = await sync();
      expect(again.json).toMatchObject({ unchanged: 9, added: 0, updated: 0 });

      const bad = await runCli(["compact", "--retention-hours", "-1", "--json"], { cwd: tmp.path, env });
      expect(bad.code).toBe(1);
      expect(bad.json.error.code).toBe("SYNC_E_INVALID_ARGUMENT");
    } finally {
      tmp.cleanup();
    }
  });
});

describe("demo", () => {
  it("syncs the bundled samples for user demo and finds hits for both sample searches", async () => {
    const tmp = makeTempDir("lancedb-sync-demo-");
    try {
      const env = envFor(tmp.path);
      const r = await runCli(["demo", "--json"], { cwd: tmp.path, env });
      expect(r.code, show(r)).toBe(0);
      const samples = readdirSync(SAMPLES).length;
      expect(r.json.sync).toMatchObject({ added: samples, failed: 0 });
      expect(r.json.searches).toHaveLength(2);
      for (const s of r.json.searches) {
        expect(s.hits.length, s.query).toBeGreaterThan(0);
        for (const h of s.hits) expect(h.item_key).toContain("/samples/");
      }
      const [travel, password] = r.json.searches;
      expect(travel.hits[0].item_key).toMatch(/expense-policy\.pdf$/);
      expect(password.hits[0].item_key).toMatch(/security-guidelines\.md$/);
      const { docs } = await readTables(env.LANCEDB_URI);
      expect(docs.every((d) => d.user_id === "demo")).toBe(true);

      const again = await runCli(["demo", "--json"], { cwd: tmp.path, env });
      expect(again.code, show(again)).toBe(0);
      expect(again.json.sync).toMatchObject({ added: 0, unchanged: samples, embedded_chunks: 0 });
    } finally {
      tmp.cleanup();
    }
  });
});
