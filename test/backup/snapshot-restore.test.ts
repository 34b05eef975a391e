import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { restoreBackup } from "../../src/app/restore-backup.js";
import { objectKey, readManifest, referencedKeys } from "../../src/backup/snapshot-manifest.js";
import { resolveConfig } from "../../src/config/load-config.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import type { SyncSystem } from "../../src/index.js";
import { acquireLock, WRITER_LOCK } from "../../src/storage/lease-lock.js";
import { SqliteJournal } from "../../src/storage/sqlite-journal.js";
import { rejection } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { journalItems } from "../integration/support.js";
import {
  addFolderSource,
  dataDir,
  localTarget,
  openSystem,
  snapshotOfTables,
  targetObjects,
  writeCorpus,
  writes,
} from "./support.js";

let tmp: ReturnType<typeof makeTempDir>;
const systems: SyncSystem[] = [];

beforeEach(() => {
  tmp = makeTempDir("backup-snap-");
});
afterEach(async () => {
  for (const s of systems.splice(0)) await s.stop().catch(() => undefined);
  tmp.cleanup();
});

async function system(dir: string, backups = join(tmp.path, "backups")): Promise<SyncSystem> {
  const s = await openSystem(dir, [localTarget(backups)]);
  systems.push(s);
  return s;
}

async function withSource(sys: SyncSystem, root: string): Promise<void> {
  await addFolderSource(sys, "alice", "notes", root);
}

const configFor = (dir: string) => resolveConfig(dataDir(dir));

describe("backup and restore (local directory target)", () => {
  it("restores into an empty directory the same documents, chunks, vectors, search results and journal; the next sync is a no-op", async () => {
    const root = join(tmp.path, "files");
    writeCorpus(root, 30, 1);
    const live = join(tmp.path, "live");
    const sys = await system(live);
    await withSource(sys, root);
    const synced = await sys.syncSource({ userId: "alice", sourceId: "notes" });
    expect(synced.added).toBe(30);

    const unprotected = (await sys.status()).backup;
    expect(unprotected).toMatchObject({
      configured: true,
      s3_sync_available: null,
      recovery_point: null,
      last_backup: null,
    });
    expect(unprotected?.pending_syncs).toBeGreaterThan(0);
    const backup = await sys.backups.run();
    expect((await sys.status()).backup).toMatchObject({
      pending_syncs: 0,
      s3_sync_available: 1,
      recovery_point: { snapshot_id: backup.snapshot_id, created_at: backup.created_at },
    });
    expect(backup.snapshot_id).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
    expect(backup.files_uploaded).toBe(backup.total_files);
    expect(backup.files_skipped).toBe(0);
    expect(backup.bytes_uploaded).toBe(backup.total_bytes);
    expect(backup.tables.map((t) => t.rows)).toEqual([30, synced.embedded_chunks + synced.reused_chunks]);
    const hits = await sys.search({ userId: "alice", query: "granite harbour", mode: "vector", limit: 5 });
    const before = await snapshotOfTables(join(live, "lancedb"));
    await sys.stop();

    const restoredDir = join(tmp.path, "restored");
    const restored = await restoreBackup(configFor(live), [localTarget(join(tmp.path, "backups"))], {
      targetDir: restoredDir,
    });
    expect(restored).toMatchObject({ snapshot_id: backup.snapshot_id, files: backup.total_files });
    expect(restored.tables).toEqual(backup.tables);
    expect(await snapshotOfTables(join(restoredDir, "lancedb"))).toEqual(before);
    const items = (p: string) => journalItems(p).sort((a, b) => (a.item_key < b.item_key ? -1 : 1));
    expect(items(join(restoredDir, "state.db"))).toEqual(items(join(live, "state.db")));

    const again = await system(restoredDir);
    expect(
      await again.search({ userId: "alice", query: "granite harbour", mode: "vector", limit: 5 }),
    ).toEqual(hits);
    const next = await again.syncSource({ userId: "alice", sourceId: "notes" });
    expect(writes(next)).toBe(0);
    expect(next.unchanged).toBe(30);
  });

  it("incremental: after a 1% change the second backup uploads only the files the change created", async () => {
    const root = join(tmp.path, "files");
    const paths = writeCorpus(root, 100, 2);
    const live = join(tmp.path, "live");
    const sys = await system(live);
    await withSource(sys, root);
    await sys.syncSource({ userId: "alice", sourceId: "notes" });
    const first = await sys.backups.run();
    writeFileSync(paths[5] as string, "# changed\n\nA brand new paragraph about walnut furnaces.\n");
    const changed = await sys.syncSource({ userId: "alice", sourceId: "notes" });
    expect(changed.updated).toBe(1);
    const second = await sys.backups.run();

    const target = localTarget(join(tmp.path, "backups"));
    const m1 = await readManifest(target, first.snapshot_id);
    const m2 = await readManifest(target, second.snapshot_id);
    const old = referencedKeys(m1);
    const fresh = new Map<string, number>();
    for (const t of m2.tables)
      for (const f of t.files) if (!old.has(objectKey(f.sha256))) fresh.set(f.sha256, f.size);
    if (!old.has(objectKey(m2.journal.sha256))) fresh.set(m2.journal.sha256, m2.journal.size);
    expect(fresh.size).toBeGreaterThan(0);
    expect(second.files_uploaded).toBe(fresh.size);
    expect(second.bytes_uploaded).toBe([...fresh.values()].reduce((a, b) => a + b, 0));
    expect(second.files_skipped).toBe(second.total_files - second.files_uploaded);
    expect(second.bytes_uploaded).toBeLessThan(first.bytes_uploaded / 5);
    expect(second.tables[0]?.version).toBeGreaterThan(first.tables[0]?.version ?? 0);
  });

  it("point in time: an earlier snapshot restores the earlier contents with its journal; a sync brings it forward", async () => {
    const root = join(tmp.path, "files");
    const paths = writeCorpus(root, 12, 3);
    const live = join(tmp.path, "live");
    const sys = await system(live);
    await withSource(sys, root);
    await sys.syncSource({ userId: "alice", sourceId: "notes" });
    const early = await sys.backups.run();
    const earlyTables = await snapshotOfTables(join(live, "lancedb"));
    writeFileSync(paths[0] as string, "# rewritten\n\nThe ferry now leaves at noon.\n");
    writeCorpus(join(root, "more"), 3, 4, "extra");
    await sys.syncSource({ userId: "alice", sourceId: "notes" });
    const late = await sys.backups.run();
    expect(late.tables[1]?.version).toBeGreaterThan(early.tables[1]?.version ?? 0);
    const lateTables = await snapshotOfTables(join(live, "lancedb"));
    await sys.stop();

    const back = join(tmp.path, "back");
    const restored = await restoreBackup(configFor(live), [localTarget(join(tmp.path, "backups"))], {
      targetDir: back,
      at: new Date(Date.parse(late.created_at) - 1).toISOString(),
    });
    expect(restored.snapshot_id).toBe(early.snapshot_id);
    expect(await snapshotOfTables(join(back, "lancedb"))).toEqual(earlyTables);
    const docs = (await snapshotOfTables(join(back, "lancedb"))).docs as Array<{
      doc_id: string;
      content_hash: string;
    }>;
    const items = journalItems(join(back, "state.db"));
    expect(items.map((i) => i.doc_id).sort()).toEqual(docs.map((d) => d.doc_id).sort());
    for (const i of items) expect(docs.find((d) => d.doc_id === i.doc_id)?.content_hash).toBe(i.content_hash);

    const again = await system(back);
    const forward = await again.syncSource({ userId: "alice", sourceId: "notes" });
    expect(forward).toMatchObject({ added: 3, updated: 1, deleted: 0 });
    const now = await snapshotOfTables(join(back, "lancedb"));
    expect(now.docs).toEqual(lateTables.docs);
    expect(now.chunks).toEqual(lateTables.chunks);
  });

  it("the backed-up journal holds no secret: configs hold names of variables, the embedder key stays out", async () => {
    const secret = "sk-live-9f8e7d6c5b4a3210-do-not-leak";
    const root = join(tmp.path, "files");
    writeCorpus(root, 3, 5);
    const live = join(tmp.path, "live");
    const backups = join(tmp.path, "backups");
    const sys = await openSystem(live, [localTarget(backups)], { embeddingApiKey: secret });
    systems.push(sys);
    await withSource(sys, root);
    await sys.syncSource({ userId: "alice", sourceId: "notes" });
    const b = await sys.backups.run();
    const m = await readManifest(localTarget(backups), b.snapshot_id);
    expect(m.journal.encoding).toBe("gzip");
    const journalBytes = gunzipSync(readFileSync(join(backups, objectKey(m.journal.sha256))));
    // The check can fail: the journal copy holds the source's configured root.
    expect(journalBytes.includes(Buffer.from(root))).toBe(true);
    for (const key of targetObjects(backups).keys()) {
      const stored = readFileSync(join(backups, key));
      const plain = key === objectKey(m.journal.sha256) ? gunzipSync(stored) : stored;
      expect(plain.includes(Buffer.from(secret)), key).toBe(false);
    }
    const db = new Database(join(live, "state.db"), { readonly: true });
    expect(JSON.stringify(db.prepare("SELECT * FROM meta").all())).not.toContain(secret);
    db.close();
  });

  it("a restore refuses live data without --force, and a held writer lock even with it", async () => {
    const root = join(tmp.path, "files");
    writeCorpus(root, 4, 6);
    const live = join(tmp.path, "live");
    const sys = await system(live);
    await withSource(sys, root);
    await sys.syncSource({ userId: "alice", sourceId: "notes" });
    const b = await sys.backups.run();
    const targets = [localTarget(join(tmp.path, "backups"))];
    // A running system (a service, a host app) holds the store even when idle: even a forced restore is refused.
    const running = await rejection(restoreBackup(configFor(live), targets, { force: true }));
    expect(isSyncError(running, "SYNC_E_RESTORE_REFUSED")).toBe(true);
    expect((running as Error).message).toContain(`a running lancedb-sync system (process ${process.pid}`);
    await sys.stop();
    const refused = await rejection(restoreBackup(configFor(live), targets, {}));
    expect(isSyncError(refused, "SYNC_E_RESTORE_REFUSED")).toBe(true);
    expect((refused as Error).message).toContain("--force");
    // Another process's writer lock (a sync in flight) refuses even a forced restore.
    const other = new SqliteJournal(join(live, "state.db"));
    const held = await acquireLock(other, WRITER_LOCK, {
      purpose: "sync alice/notes",
      leaseMs: 30_000,
      waitMs: 0,
      busyCode: "SYNC_E_STORE_BUSY",
    });
    const locked = await rejection(restoreBackup(configFor(live), targets, { force: true }));
    expect(isSyncError(locked, "SYNC_E_RESTORE_REFUSED")).toBe(true);
    expect((locked as Error).message).toContain("sync alice/notes");
    held.release();
    other.close();
    const forced = await restoreBackup(configFor(live), targets, { force: true });
    expect(forced.snapshot_id).toBe(b.snapshot_id);
    const again = await system(live);
    expect(writes(await again.syncSource({ userId: "alice", sourceId: "notes" }))).toBe(0);
  });
});

describe("pushed documents", () => {
  it("their bytes (UPLOAD_DIR blobs) are in the snapshot and come back with a restore", async () => {
    const live = join(tmp.path, "live");
    const sys = await system(live);
    const text = "# Pushed\n\nThe cedar ferry leaves the hollow at dawn.\n";
    const pushed = await sys.ingestDocument({
      userId: "alice",
      bytes: new TextEncoder().encode(text),
      filename: "pushed.md",
    });
    expect(pushed.status).toBe("added");
    const b = await sys.backups.run();
    const m = await readManifest(localTarget(join(tmp.path, "backups")), b.snapshot_id);
    expect(m.blobs).toHaveLength(1);
    await sys.stop();

    const back = join(tmp.path, "back");
    await restoreBackup(configFor(live), [localTarget(join(tmp.path, "backups"))], { targetDir: back });
    const sha = m.blobs?.[0]?.sha256 as string;
    expect(readFileSync(join(back, "uploads", sha.slice(0, 2), sha), "utf8")).toBe(text);
    const again = await system(back);
    expect(await again.getDocument({ userId: "alice", docId: pushed.doc_id })).toMatchObject({
      doc_id: pushed.doc_id,
    });
    expect(
      (await again.search({ userId: "alice", query: "cedar ferry", mode: "vector", limit: 1 }))[0]?.doc_id,
    ).toBe(pushed.doc_id);
  });
});
