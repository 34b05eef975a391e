import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import { createSyncSystem, type SyncSystem } from "../../src/index.js";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, expectStoreMatchesFiles, listFiles, makeText, prng } from "./support.js";

/**
 * SIGKILL in the middle of a partial run and of a pushed document: the next run converges, nothing is lost
 * or duplicated. The killed process is a host application using the built library (`dist/index.js`).
 */
const DIST = fileURLToPath(new URL("../../dist/index.js", import.meta.url));

let tmp: ReturnType<typeof makeTempDir>;
let env: ReturnType<typeof envFor>;
const systems: SyncSystem[] = [];

function open(): SyncSystem {
  const s = createSyncSystem({
    lancedbUri: env.LANCEDB_URI,
    stateDbPath: env.STATE_DB_PATH,
    uploadDir: join(tmp.path, "uploads"),
    writeBatchDocs: 4,
    logger: silentLogger,
  });
  systems.push(s);
  return s;
}

/** Runs `applyChanges(keys)` in a host process that kills itself (SIGKILL) at `crashAt`. */
function hostApplyChanges(crashAt: string, keys: string[]): Promise<NodeJS.Signals | number | null> {
  const script = `
    const { createSyncSystem } = await import(${JSON.stringify(DIST)});
    const sys = createSyncSystem({
      lancedbUri: ${JSON.stringify(env.LANCEDB_URI)},
      stateDbPath: ${JSON.stringify(env.STATE_DB_PATH)},
      uploadDir: ${JSON.stringify(join(tmp.path, "uploads"))},
      writeBatchDocs: 4,
      logLevel: "silent",
      lancedbSyncCrashAt: ${JSON.stringify(crashAt)},
    });
    await sys.start();
    await sys.applyChanges({ userId: "u1", sourceId: "docs", keys: ${JSON.stringify(keys)} });
    await sys.stop();
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(signal ?? code));
  });
}

beforeEach(() => {
  tmp = makeTempDir("partial-crash-");
  env = envFor(tmp.path);
});

afterEach(async () => {
  for (const s of systems.splice(0)) await s.stop().catch(() => undefined);
  tmp.cleanup();
});

describe("SIGKILL during a partial run", () => {
  for (const crashAt of ["pending-marked:1", "batch-applied:1", "batch-committed:0", "deletes-applied:0"]) {
    it(`killed at ${crashAt}: the next partial run converges, and a full run then finds nothing to do`, async () => {
      const dir = join(tmp.path, "docs");
      mkdirSync(dir);
      const rand = prng(11);
      for (let i = 0; i < 20; i++) writeFileSync(join(dir, `d${i}.md`), makeText(rand, 1200, `doc${i}`));
      let sys = open();
      await sys.start();
      const view = await sys.sources.add({
        userId: "u1",
        sourceId: "docs",
        type: "fs",
        config: { watch_paths: [dir] },
      });
      const root = (view.config.watch_paths as string[])[0] as string;
      await sys.syncSource({ userId: "u1", sourceId: "docs" });
      await sys.stop();

      const keys: string[] = [];
      for (let i = 0; i < 8; i++) {
        writeFileSync(join(root, `d${i}.md`), makeText(rand, 1200, `doc${i}-edited`));
        keys.push(join(root, `d${i}.md`));
      }
      for (let i = 8; i < 11; i++) {
        rmSync(join(root, `d${i}.md`));
        keys.push(join(root, `d${i}.md`));
      }
      for (let i = 20; i < 26; i++) {
        writeFileSync(join(root, `d${i}.md`), makeText(rand, 1200, `doc${i}`));
        keys.push(join(root, `d${i}.md`));
      }
      expect(await hostApplyChanges(crashAt, keys)).toBe("SIGKILL");

      sys = open();
      await sys.start();
      await sys.applyChanges({ userId: "u1", sourceId: "docs", keys });
      await expectStoreMatchesFiles(env, listFiles(root), { userId: "u1", sourceId: "docs" });
      const full = await sys.syncSource({ userId: "u1", sourceId: "docs" });
      expect(full).toMatchObject({ added: 0, updated: 0, deleted: 0, moved: 0, failed: 0 });
    });
  }
});

describe("SIGKILL while pushing a document", () => {
  for (const crashAt of ["blob-stored:0", "upload-recorded:0", "batch-applied:0"]) {
    it(`killed at ${crashAt}: nothing half-done shows, and pushing again (or the next start) converges`, async () => {
      const file = join(tmp.path, "report.md");
      writeFileSync(file, "# Report\n\nThe tide tables for the northern harbour.");
      const killed = await runCli(["ingest", file, "--user", "u1", "--json"], {
        cwd: tmp.path,
        env: { ...env, UPLOAD_DIR: join(tmp.path, "uploads"), LANCEDB_SYNC_CRASH_AT: crashAt },
      });
      expect(killed.signal).toBe("SIGKILL");
      const blobDir = join(tmp.path, "uploads");
      expect(
        existsSync(blobDir) &&
          readdirSync(blobDir, { recursive: true }).some((f) => String(f).length === 64 + 3),
      ).toBe(true);

      const sys = open();
      await sys.start();
      // A recorded upload is applied by start; a blob without a record is not a document.
      const docs = await sys.listDocuments({ userId: "u1" });
      expect(docs.length).toBe(crashAt === "blob-stored:0" ? 0 : 1);
      const again = await sys.ingestDocument({
        userId: "u1",
        bytes: new TextEncoder().encode("# Report\n\nThe tide tables for the northern harbour."),
        filename: "report.md",
      });
      expect(["added", "unchanged"]).toContain(again.status);
      const after = await sys.listDocuments({ userId: "u1" });
      expect(after.map((d) => d.item_key)).toEqual(["report.md"]);
      const status = await sys.status({ userId: "u1" });
      expect(status).toMatchObject({ documents: 1, pending: 0, failed: 0 });
      const hits = await sys.search({ userId: "u1", query: "tide tables", mode: "fts" });
      expect(hits.map((h) => h.doc_id)).toEqual([again.doc_id]);
    });
  }
});
