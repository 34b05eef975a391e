import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { restoreBackup } from "../../src/app/restore-backup.js";
import { createS3Client } from "../../src/backup/s3-client.js";
import { S3Target } from "../../src/backup/s3-target.js";
import { listSnapshotIds } from "../../src/backup/snapshot-manifest.js";
import { resolveConfig } from "../../src/config/load-config.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import type { SyncSystem } from "../../src/index.js";
import { rejection } from "../helpers/caught.js";
import {
  S3_TEST_CREDENTIALS,
  S3_TEST_REGION,
  type S3TestServer,
  startS3Server,
} from "../helpers/s3-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { addFolderSource, dataDir, openSystem, snapshotOfTables, writeCorpus, writes } from "./support.js";

process.env.AWS_EC2_METADATA_DISABLED = "true";

let tmp: ReturnType<typeof makeTempDir>;
let server: S3TestServer;
const clients: S3Client[] = [];
const systems: SyncSystem[] = [];

beforeEach(async () => {
  tmp = makeTempDir("backup-s3-");
  server = await startS3Server({ buckets: ["backup", "replica"] });
});
afterEach(async () => {
  for (const s of systems.splice(0)) await s.stop().catch(() => undefined);
  for (const c of clients.splice(0)) c.destroy();
  await server.close();
  tmp.cleanup();
});

function s3Target(bucket = "backup"): S3Target {
  const client = createS3Client({
    region: S3_TEST_REGION,
    endpoint: server.endpoint,
    credentials: { ...S3_TEST_CREDENTIALS },
    maxAttempts: 1,
    connectTimeoutMs: 1_000,
  });
  clients.push(client);
  return new S3Target({ client, bucket, prefix: "lancedb-sync/", endpoint: server.endpoint });
}

describe("backups on a real S3 protocol server (s3rver)", () => {
  it("with a replica: each snapshot goes to both buckets, both verify deep, and either restores it", async () => {
    const root = join(tmp.path, "files");
    writeCorpus(root, 15, 21);
    const live = join(tmp.path, "live");
    const targets = [s3Target("backup"), s3Target("replica")];
    const sys = await openSystem(live, targets);
    systems.push(sys);
    await addFolderSource(sys, "cy", "s", root);
    await sys.syncSource({ userId: "cy", sourceId: "s" });
    const b = await sys.backups.run();
    expect(b.targets.map((t) => t.files_uploaded)).toEqual([b.total_files, b.total_files]);
    expect(b.targets[1]?.location).toContain("replica");
    const reports = await sys.backups.verify({ deep: true });
    expect(reports.map((r) => [r.snapshots, r.problems.length])).toEqual([
      [1, 0],
      [1, 0],
    ]);
    const tables = await snapshotOfTables(join(live, "lancedb"));
    for (const [i, target] of [targets[1] as S3Target, targets[0] as S3Target].entries()) {
      const dest = join(tmp.path, `r${i}`);
      await restoreBackup(resolveConfig(dataDir(live)), [target], { targetDir: dest });
      expect(await snapshotOfTables(join(dest, "lancedb"))).toEqual(tables);
    }
  });

  it("S3 stops mid-backup: no snapshot appears, local syncs go on, and the next backup completes without re-uploading what was stored", async () => {
    const root = join(tmp.path, "files");
    const paths = writeCorpus(root, 20, 22);
    const live = join(tmp.path, "live");
    const target = s3Target();
    const sys = await openSystem(live, [target]);
    systems.push(sys);
    await addFolderSource(sys, "cy", "s", root);
    await sys.syncSource({ userId: "cy", sourceId: "s" });
    const first = await sys.backups.run();
    for (let i = 0; i < 3; i++) {
      writeFileSync(paths[i] as string, `# changed ${i}\n\nthistle granite ${i}\n`);
    }
    await sys.syncSource({ userId: "cy", sourceId: "s" });

    const { runBackup } = await import("../../src/app/backups.js");
    const { openAppContext } = await import("../../src/app/app-context.js");
    const { silentLogger } = await import("../../src/core/logger.js");
    const ctx = openAppContext(resolveConfig({ ...dataDir(live), backupConcurrency: 1 }), silentLogger);
    let stored = 0;
    try {
      const err = await rejection(
        runBackup(ctx, [target], {
          onStep: async (step, n) => {
            if (step === "backup-file" && n === 2) {
              stored = n;
              await server.stop();
            }
          },
        }),
      );
      expect(isSyncError(err, "SYNC_E_BACKUP_UNAVAILABLE"), String(err)).toBe(true);
    } finally {
      await ctx.close();
    }
    expect(stored).toBe(2);
    // While S3 is down, local syncs go on.
    writeFileSync(paths[3] as string, "# changed while S3 was down\n\nwalnut crystal\n");
    const during = await sys.syncSource({ userId: "cy", sourceId: "s" });
    expect(during.updated).toBe(1);
    const down = await rejection(sys.backups.run());
    expect(isSyncError(down, "SYNC_E_BACKUP_UNAVAILABLE")).toBe(true);
    const outage = (await sys.status()).backup;
    expect(outage).toMatchObject({
      configured: true,
      s3_sync_available: 0,
      last_backup: { ok: false, code: "SYNC_E_BACKUP_UNAVAILABLE" },
      recovery_point: { snapshot_id: first.snapshot_id },
    });
    // Two syncs that wrote since the first snapshot: each table has versions not backed up yet.
    expect(outage?.pending_syncs).toBeGreaterThanOrEqual(4);

    await server.restart();
    expect(await listSnapshotIds(target)).toEqual([first.snapshot_id]);
    const next = await sys.backups.run();
    expect(await listSnapshotIds(target)).toEqual([first.snapshot_id, next.snapshot_id]);
    expect((await sys.status()).backup).toMatchObject({
      s3_sync_available: 1,
      pending_syncs: 0,
      last_backup: { ok: true, snapshot_id: next.snapshot_id, bytes_uploaded: next.bytes_uploaded },
      recovery_point: { snapshot_id: next.snapshot_id },
    });
    // The two objects stored before the outage were found and skipped, not uploaded again.
    expect(next.files_skipped).toBeGreaterThanOrEqual(2);
    const [report] = await sys.backups.verify({ deep: true });
    expect(report?.problems).toEqual([]);
    const dest = join(tmp.path, "restored");
    await restoreBackup(resolveConfig(dataDir(live)), [target], { targetDir: dest });
    expect(await snapshotOfTables(join(dest, "lancedb"))).toEqual(
      await snapshotOfTables(join(live, "lancedb")),
    );
    const again = await openSystem(dest, [target]);
    systems.push(again);
    expect(writes(await again.syncSource({ userId: "cy", sourceId: "s" }))).toBe(0);
  });
});
