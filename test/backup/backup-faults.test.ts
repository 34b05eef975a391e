import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { restoreBackup } from "../../src/app/restore-backup.js";
import { objectKey, readManifest, referencedKeys } from "../../src/backup/snapshot-manifest.js";
import { resolveConfig } from "../../src/config/load-config.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import type { SyncSystem } from "../../src/index.js";
import { manifestVersions } from "../../src/storage/lance-files.js";
import { rejection } from "../helpers/caught.js";
import { startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";
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
  tmp = makeTempDir("backup-faults-");
});
afterEach(async () => {
  for (const s of systems.splice(0)) await s.stop().catch(() => undefined);
  tmp.cleanup();
});

/** A live system with one synced source of `count` files and one backup taken. */
async function backedUp(count = 8) {
  const root = join(tmp.path, "files");
  const paths = writeCorpus(root, count, 11);
  const live = join(tmp.path, "live");
  const backups = join(tmp.path, "backups");
  const sys = await openSystem(live, [localTarget(backups)]);
  systems.push(sys);
  await addFolderSource(sys, "bob", "docs", root);
  await sys.syncSource({ userId: "bob", sourceId: "docs" });
  const backup = await sys.backups.run();
  const manifest = await readManifest(localTarget(backups), backup.snapshot_id);
  return { root, paths, live, backups, sys, backup, manifest };
}

/** The biggest data file of the chunks table in a manifest, with its object key. */
function dataFile(m: Awaited<ReturnType<typeof readManifest>>) {
  const t = m.tables.find((x) => x.role === "chunks");
  const f = [...(t?.files ?? [])]
    .filter((x) => x.path.startsWith("data/"))
    .sort((a, b) => b.size - a.size)[0];
  if (!t || !f) throw new Error("no data file");
  return { holds: `${t.name}.lance/${f.path}`, key: objectKey(f.sha256) };
}

describe("backup faults", () => {
  it("a corrupted object: verify --deep and restore both name it; the destination is left untouched", async () => {
    const { backups, sys, manifest, live } = await backedUp();
    const bad = dataFile(manifest);
    const path = join(backups, bad.key);
    // Same size, other bytes: only a deep check can tell.
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] as number) ^ 0xff;
    writeFileSync(path, bytes);

    const shallow = await sys.backups.verify();
    expect(shallow[0]?.problems).toEqual([]);
    const deep = await sys.backups.verify({ deep: true });
    expect(deep[0]?.problems).toEqual([
      expect.objectContaining({
        key: bad.key,
        holds: bad.holds,
        problem: "sha256",
        snapshot_id: manifest.snapshot_id,
      }),
    ]);

    const dest = join(tmp.path, "restore");
    const err = await rejection(
      restoreBackup(resolveConfig(dataDir(live)), [localTarget(backups)], { targetDir: dest }),
    );
    expect(isSyncError(err, "SYNC_E_BACKUP_CORRUPT")).toBe(true);
    expect((err as Error).message).toContain(bad.key);
    expect((err as Error).message).toContain(bad.holds);
    // Nothing looking like good data: no tables, no journal, no staging left.
    expect(existsSync(join(dest, "state.db"))).toBe(false);
    expect(existsSync(join(dest, "lancedb")) ? readdirSync(join(dest, "lancedb")) : []).toEqual([]);
    expect(readdirSync(dest).filter((n) => n.includes("restore"))).toEqual([]);
  });

  it("a deleted object: verify and restore name it; the next backup stores it again and verifies clean", async () => {
    const { backups, sys, manifest, live } = await backedUp();
    const gone = dataFile(manifest);
    rmSync(join(backups, gone.key));
    const report = await sys.backups.verify();
    expect(report[0]?.problems).toEqual([
      expect.objectContaining({ key: gone.key, holds: gone.holds, problem: "missing" }),
    ]);
    const before = await snapshotOfTables(join(live, "lancedb"));
    await sys.stop();
    const err = await rejection(
      restoreBackup(resolveConfig(dataDir(live)), [localTarget(backups)], { force: true }),
    );
    expect(isSyncError(err, "SYNC_E_BACKUP_OBJECT_MISSING")).toBe(true);
    expect((err as Error).message).toContain(gone.key);
    expect((err as Error).message).toContain(gone.holds);
    // The forced restore failed before the swap: the live store is as it was.
    expect(await snapshotOfTables(join(live, "lancedb"))).toEqual(before);

    const reopened = await openSystem(live, [localTarget(backups)]);
    systems.push(reopened);
    const next = await reopened.backups.run();
    expect(next.files_uploaded).toBeGreaterThanOrEqual(1);
    expect(
      (await reopened.backups.verify({ deep: true }))[0]?.problems.filter(
        (p) => p.snapshot_id === next.snapshot_id,
      ),
    ).toEqual([]);
  });

  it("compaction during a backup defers clean-up (the fence); the snapshot restores in full", async () => {
    const { paths, live, backups, sys } = await backedUp(6);
    for (let i = 0; i < 3; i++) {
      writeFileSync(paths[i] as string, `# edit ${i}\n\nthe cedar hollow ${i}\n`);
      await sys.syncSource({ userId: "bob", sourceId: "docs" });
    }
    let compacted: Awaited<ReturnType<SyncSystem["compact"]>> | undefined;
    const { runBackup } = await import("../../src/app/backups.js");
    const { openAppContext } = await import("../../src/app/app-context.js");
    const { silentLogger } = await import("../../src/core/logger.js");
    const ctx = openAppContext(resolveConfig(dataDir(live)), silentLogger);
    try {
      const b = await runBackup(ctx, [localTarget(backups)], {
        onStep: async (step) => {
          if (step === "backup-captured") compacted = await sys.compact({ retentionHours: 0 });
        },
      });
      expect(compacted?.cleanup_deferred).toBe(true);
      const dest = join(tmp.path, "restored");
      const r = await restoreBackup(resolveConfig(dataDir(live)), [localTarget(backups)], {
        snapshotId: b.snapshot_id,
        targetDir: dest,
      });
      expect(r.tables).toEqual(b.tables);
    } finally {
      await ctx.close();
    }
    // Without a backup running, the next compaction cleans up.
    const later = await sys.compact({ retentionHours: 0 });
    expect(later.cleanup_deferred).toBeUndefined();
    expect(later.after[1]?.versions).toBe(1);
  });

  it("prune keeps what a kept snapshot needs (restoring it still works) and removes the rest", async () => {
    const { paths, live, backups, sys } = await backedUp(10);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      writeFileSync(paths[i] as string, `# prune ${i}\n\nthe delta pepper ${i}\n`);
      await sys.syncSource({ userId: "bob", sourceId: "docs" });
      await sys.compact({ retentionHours: 0 });
      ids.push((await sys.backups.run()).snapshot_id);
    }
    const newest = ids[ids.length - 1] as string;
    const target = localTarget(backups);
    const keep = referencedKeys(await readManifest(target, newest));
    const before = [...targetObjects(backups).keys()].filter((k) => k.startsWith("objects/"));
    expect(before.some((k) => !keep.has(k))).toBe(true);

    const [report] = await sys.backups.prune({ keepLast: 1, keepDays: 0 });
    expect(report?.kept).toEqual([newest]);
    expect(report?.removed_snapshots).toHaveLength(2);
    const after = [...targetObjects(backups).keys()];
    expect(after.filter((k) => k.startsWith("objects/")).sort()).toEqual([...keep].sort());
    expect(after.filter((k) => k.startsWith("snapshots/"))).toEqual([`snapshots/${newest}.json`]);
    expect(report?.removed_objects).toBe(before.length - keep.size);

    const live2 = await snapshotOfTables(join(live, "lancedb"));
    const dest = join(tmp.path, "restored");
    await restoreBackup(resolveConfig(dataDir(live)), [target], { targetDir: dest });
    expect(await snapshotOfTables(join(dest, "lancedb"))).toEqual(live2);
    const again = await openSystem(dest, [target]);
    systems.push(again);
    expect(writes(await again.syncSource({ userId: "bob", sourceId: "docs" }))).toBe(0);
  });

  it("backup while a sync writes -> restore -> sync: every document once, nothing missing", async () => {
    const root = join(tmp.path, "files");
    writeCorpus(root, 5, 12);
    const live = join(tmp.path, "live");
    const backups = join(tmp.path, "backups");
    const embeddings = await startEmbeddingsServer();
    const sys = await openSystem(live, [localTarget(backups)], {
      embeddingProvider: "openai",
      embeddingBaseUrl: embeddings.url,
      embeddingModel: "test-embed",
      embeddingDimensions: 16,
      embeddingBatchSize: 8,
      writeBatchDocs: 10,
    });
    systems.push(sys);
    try {
      await addFolderSource(sys, "bob", "docs", root);
      await sys.syncSource({ userId: "bob", sourceId: "docs" });
      const startVersion = manifestVersions(join(live, "lancedb"), "processed_documents")[0]?.version ?? 0;
      writeCorpus(join(root, "wave"), 120, 13, "wave");
      // Each time the sync asks for embeddings after one of its batches was committed, take a backup before
      // answering: the snapshots are taken in the middle of the sync, between its commits, by construction.
      const taken: Array<{ id: string; rows: number }> = [];
      let lastVersion = startVersion;
      embeddings.setBehaviour(async (): Promise<"default"> => {
        const v = manifestVersions(join(live, "lancedb"), "processed_documents")[0]?.version ?? 0;
        if (v > lastVersion && taken.length < 3) {
          lastVersion = v;
          const b = await sys.backups.run();
          taken.push({ id: b.snapshot_id, rows: b.tables[0]?.rows ?? 0 });
        }
        return "default";
      });
      await sys.syncSource({ userId: "bob", sourceId: "docs" });
      embeddings.setBehaviour(undefined);
      expect(taken.length).toBeGreaterThan(0);
      for (const t of taken) expect(t.rows > 5 && t.rows < 125, `rows ${t.rows}`).toBe(true);
      const final = await snapshotOfTables(join(live, "lancedb"));
      for (const { id } of taken) {
        const dest = join(tmp.path, `r-${id}`);
        await restoreBackup(resolveConfig(dataDir(live)), [localTarget(backups)], {
          snapshotId: id,
          targetDir: dest,
        });
        const s = await openSystem(dest, [localTarget(backups)], {
          embeddingProvider: "openai",
          embeddingBaseUrl: embeddings.url,
          embeddingModel: "test-embed",
          embeddingDimensions: 16,
        });
        systems.push(s);
        await s.syncSource({ userId: "bob", sourceId: "docs" });
        const t = await snapshotOfTables(join(dest, "lancedb"));
        const docs = t.docs as Array<{ doc_id: string }>;
        const chunks = t.chunks as Array<{ chunk_id: string }>;
        expect(docs).toHaveLength(125);
        expect(new Set(docs.map((d) => d.doc_id)).size).toBe(125);
        expect(new Set(chunks.map((c) => c.chunk_id)).size).toBe(chunks.length);
        expect(t).toEqual(final);
        await s.stop();
      }
    } finally {
      await embeddings.close();
    }
  });
});
