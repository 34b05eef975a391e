import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../../src/backup/s3-client.js";
import { S3Target } from "../../src/backup/s3-target.js";
import {
  OBJECTS_PREFIX,
  objectKey,
  readManifest,
  referencedKeys,
} from "../../src/backup/snapshot-manifest.js";
import { runCli } from "../helpers/run-cli.js";
import {
  S3_TEST_CREDENTIALS,
  S3_TEST_REGION,
  type S3TestServer,
  startS3Server,
} from "../helpers/s3-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { envFor, show } from "../integration/support.js";
import { snapshotOfTables, writeCorpus } from "./support.js";

/** The CLI end to end against s3rver: crash points, verify, drill, restore refusals, prune, lifecycle. */

let tmp: ReturnType<typeof makeTempDir>;
let server: S3TestServer;
let client: S3Client;
let target: S3Target;
let env: Record<string, string>;
const cli = (args: string[], extra: Record<string, string> = {}) =>
  runCli(args, { cwd: tmp.path, env: { ...env, ...extra } });

beforeAll(async () => {
  tmp = makeTempDir("backup-cli-");
  server = await startS3Server();
  env = { ...envFor(tmp.path), ...server.env, S3_PREFIX: "cli/" };
  client = createS3Client({
    region: S3_TEST_REGION,
    endpoint: server.endpoint,
    credentials: { ...S3_TEST_CREDENTIALS },
  });
  target = new S3Target({ client, bucket: "backup", prefix: "cli/", endpoint: server.endpoint });
});
afterAll(async () => {
  client?.destroy();
  await server?.close();
  tmp?.cleanup();
});

async function objectKeys(): Promise<Set<string>> {
  return new Set((await target.list(OBJECTS_PREFIX)).map((o) => o.key));
}

describe("lancedb-sync backup / restore (CLI, s3rver)", () => {
  const root = () => join(tmp.path, "files");

  it("SIGKILL at several points of a backup: no snapshot appears; the next backup completes, uploading no complete file twice", async () => {
    writeCorpus(root(), 40, 41);
    const synced = await cli(["sync", root(), "-u", "alice", "-s", "notes", "--json"]);
    expect(synced.code, show(synced)).toBe(0);
    for (const at of ["backup-captured:0", "backup-file:3", "backup-manifest:0", "backup-file:1"]) {
      const crashed = await cli(["backup", "--json"], { LANCEDB_SYNC_CRASH_AT: at });
      expect(crashed.signal, `${at}: ${show(crashed)}`).toBe("SIGKILL");
      const list = await cli(["backup", "list", "--json"]);
      expect(list.json, show(list)).toEqual({ snapshots: [] });
    }
    const present = await objectKeys();
    // The crashes stored some objects (3, then every file before the manifest).
    expect(present.size).toBeGreaterThanOrEqual(5);
    const done = await cli(["backup", "--json"]);
    expect(done.code, show(done)).toBe(0);
    // The journal copies the killed backups left are gone.
    expect(readdirSync(dirname(env.STATE_DB_PATH as string)).filter((n) => n.startsWith(".backup-"))).toEqual(
      [],
    );
    const m = await readManifest(target, done.json.snapshot_id);
    const needed = referencedKeys(m);
    const missing = [...needed].filter((k) => !present.has(k));
    expect(done.json.files_uploaded).toBe(missing.length);
    expect(done.json.files_skipped).toBe(done.json.total_files - missing.length);
    expect(done.json).toMatchObject({ bytes_uploaded: expect.any(Number), duration_ms: expect.any(Number) });
    const verify = await cli(["backup", "verify", "--deep", "--json"]);
    expect(verify.code, show(verify)).toBe(0);
    expect(verify.json.targets[0].problems).toEqual([]);
  });

  it("status --json shows the recovery point; verify --deep names a corrupted object (exit 4); restore names it too", async () => {
    const status = await cli(["status", "--json"]);
    expect(status.code, show(status)).toBe(0);
    expect(status.json.backup).toMatchObject({ configured: true, s3_sync_available: 1, pending_syncs: 0 });
    const [snap] = (await cli(["backup", "list", "--json"])).json.snapshots;
    const m = await readManifest(target, snap.snapshot_id);
    const chunks = m.tables.find((t) => t.role === "chunks");
    const f = chunks?.files.find((x) => x.path.startsWith("data/"));
    if (!chunks || !f) throw new Error("no data file in the manifest");
    const key = objectKey(f.sha256);
    const dir = join(server.directory, "backup", "cli", "objects", f.sha256.slice(0, 2));
    const file = readdirSync(dir).find((n) => n.startsWith(f.sha256) && n.endsWith("._S3rver_object"));
    if (!file) throw new Error(`s3rver file of ${key} not found in ${dir}`);
    const original = readFileSync(join(dir, file));
    const bad = Buffer.from(original);
    bad[0] = (bad[0] as number) ^ 0xff;
    writeFileSync(join(dir, file), bad);
    try {
      const verify = await cli(["backup", "verify", "--deep", "--json"]);
      expect(verify.code, show(verify)).toBe(4);
      expect(verify.json.targets[0].problems).toEqual([
        expect.objectContaining({ key, holds: `${chunks.name}.lance/${f.path}`, problem: "sha256" }),
      ]);
      const restore = await cli(["restore", "--target", join(tmp.path, "bad-restore"), "--json"]);
      expect(restore.code, show(restore)).toBe(1);
      expect(restore.json.error.code).toBe("SYNC_E_BACKUP_CORRUPT");
      expect(restore.json.error.message).toContain(key);
    } finally {
      writeFileSync(join(dir, file), original);
    }
  });

  it("restore refuses the live store without --force; --target and --drill restore and check; prune and lifecycle", async () => {
    const refused = await cli(["restore", "--json"]);
    expect(refused.code, show(refused)).toBe(1);
    expect(refused.json.error.code).toBe("SYNC_E_RESTORE_REFUSED");

    const drill = await cli(["restore", "--drill", "--json"]);
    expect(drill.code, show(drill)).toBe(0);
    expect(drill.json).toMatchObject({ ok: true, tables: [{ rows: 40, expected_rows: 40 }, {}] });
    expect(drill.json.search.hits).toBeGreaterThan(0);
    expect(drill.json.duration_ms).toEqual(expect.any(Number));

    const dest = join(tmp.path, "copy");
    const restored = await cli(["restore", "--target", dest, "--json"]);
    expect(restored.code, show(restored)).toBe(0);
    expect(await snapshotOfTables(join(dest, "lancedb"))).toEqual(
      await snapshotOfTables(env.LANCEDB_URI as string),
    );
    const onCopy = await cli(["sync", "-u", "alice", "-s", "notes", "--json"], {
      LANCEDB_URI: join(dest, "lancedb"),
      STATE_DB_PATH: join(dest, "state.db"),
    });
    expect(onCopy.code, show(onCopy)).toBe(0);
    expect(onCopy.json).toMatchObject({ added: 0, updated: 0, deleted: 0, embedded_chunks: 0 });

    writeFileSync(join(root(), "doc-0001.txt"), "changed for a second snapshot\n");
    expect((await cli(["sync", "-u", "alice", "-s", "notes"])).code).toBe(0);
    expect((await cli(["compact", "--retention-hours", "0"])).code).toBe(0);
    const second = await cli(["backup", "--json"]);
    expect(second.code, show(second)).toBe(0);
    const pruned = await cli(["backup", "prune", "--keep-last", "1", "--json"]);
    expect(pruned.code, show(pruned)).toBe(0);
    expect(pruned.json.targets[0]).toMatchObject({
      kept: [second.json.snapshot_id],
      removed_snapshots: [expect.any(String)],
    });
    expect(pruned.json.targets[0].removed_objects).toBeGreaterThan(0);
    const forced = await cli(["restore", "--force", "--json"]);
    expect(forced.code, show(forced)).toBe(0);
    expect(forced.json.snapshot_id).toBe(second.json.snapshot_id);

    const lifecycle = await cli(["backup", "lifecycle", "--apply", "--json"]);
    expect(lifecycle.code, show(lifecycle)).toBe(0);
    expect(lifecycle.json.targets[0]).toMatchObject({
      applied: false,
      reason: expect.stringMatching(/not|support/i),
    });
  });
});
