import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSyncSystem } from "../../src/app/sync-system.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import { runLockName } from "../../src/storage/lease-lock.js";
import { openJournal } from "../../src/storage/sqlite-journal.js";
import { rejection } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import {
  chunkTableRows,
  chunkTableSchema,
  DIMS,
  EMBEDDER_ID,
  readAll,
  USERS,
  writeTable,
} from "./legacy-fixtures.js";

const temps: Array<{ cleanup: () => void }> = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.cleanup();
});

describe("SyncSystem.migrate", () => {
  it("migrates through the library; waits for, then refuses, a source whose run lock another holder has", async () => {
    const tmp = makeTempDir("lancedb-sync-migrate-lib-");
    temps.push(tmp);
    const legacy = join(tmp.path, "legacy");
    await writeTable(legacy, "kb", (await chunkTableRows(1, 2, "same")) as never, chunkTableSchema());
    const system = createSyncSystem({
      lancedbUri: join(tmp.path, "db"),
      stateDbPath: join(tmp.path, "state.db"),
      uploadDir: join(tmp.path, "uploads"),
      embeddingDimensions: DIMS,
      lockWaitSeconds: 1,
      logLevel: "silent",
    });
    await system.start();
    const other = openJournal(join(tmp.path, "state.db"));
    try {
      expect(other.tryLease(runLockName(USERS[1], "migrated-kb"), "someone", "sync", 60_000)).toBeUndefined();
      const err = await rejection(
        system.migrate({ from: legacy, table: "kb", allUsers: true, legacyEmbedder: EMBEDDER_ID }),
      );
      expect(isSyncError(err, "SYNC_E_SOURCE_BUSY"), String(err)).toBe(true);
      other.releaseLease(runLockName(USERS[1], "migrated-kb"), "someone");
      const r = await system.migrate({
        from: legacy,
        table: "kb",
        allUsers: true,
        legacyEmbedder: EMBEDDER_ID,
      });
      expect(r).toMatchObject({ documents: 3, chunks: 6, vectors_kept: 6, users: 3 });
      // The locks were released: a sync of the migrated source runs.
      const run = await system.syncSource({ userId: USERS[1], sourceId: "migrated-kb" });
      expect(run).toMatchObject({ unchanged: 1, deleted: 0, embedded_chunks: 0 });
      expect(await readAll(join(tmp.path, "db"), "document_chunks")).toHaveLength(6);
    } finally {
      other.close();
      await system.stop();
    }
  });
});
