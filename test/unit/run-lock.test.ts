import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SyncError } from "../../src/errors/sync-error.js";
import { SqliteJournal } from "../../src/storage/sqlite-journal.js";
import { makeTempDir } from "../helpers/temp-dir.js";

describe("SqliteJournal run locks", () => {
  const dirs: Array<{ cleanup: () => void }> = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup();
  });
  const open = () => {
    const dir = makeTempDir();
    dirs.push(dir);
    return join(dir.path, "state.db");
  };

  it("refuses a second run of the same source while the first holds the lock", () => {
    const path = open();
    const a = new SqliteJournal(path);
    const b = new SqliteJournal(path);
    const token = a.acquireRunLock("alice", "notes");
    const err = (() => {
      try {
        b.acquireRunLock("alice", "notes");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SyncError);
    expect((err as SyncError).code).toBe("SYNC_E_SOURCE_BUSY");
    expect((err as SyncError).message).toContain(`process ${process.pid}`);
    // Other sources and other users are not blocked.
    b.releaseRunLock("bob", "notes", b.acquireRunLock("bob", "notes"));
    b.releaseRunLock("alice", "other", b.acquireRunLock("alice", "other"));
    a.releaseRunLock("alice", "notes", token);
    const again = b.acquireRunLock("alice", "notes");
    b.releaseRunLock("alice", "notes", again);
    a.close();
    b.close();
  });

  it("takes over a lock left by a process that died", () => {
    const path = open();
    // A child process takes the lock and exits without releasing it (as after kill -9).
    const script = `
      const { SqliteJournal } = await import(${JSON.stringify(new URL("../../dist/storage/sqlite-journal.js", import.meta.url).href)});
      new SqliteJournal(${JSON.stringify(path)}).acquireRunLock("alice", "notes");
      process.exit(0);`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(child.status, child.stderr).toBe(0);
    const j = new SqliteJournal(path);
    const held = j.db.prepare("SELECT pid FROM run_locks").get() as { pid: number };
    expect(held.pid).toBe(child.pid);
    const token = j.acquireRunLock("alice", "notes");
    expect(token.startsWith(`${process.pid}:`)).toBe(true);
    j.releaseRunLock("alice", "notes", token);
    expect(j.db.prepare("SELECT count(*) AS n FROM run_locks").get()).toEqual({ n: 0 });
    j.close();
  });
});
