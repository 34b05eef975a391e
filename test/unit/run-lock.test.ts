import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isSyncError } from "../../src/errors/sync-error.js";
import { acquireLock, runLockName, WRITER_LOCK } from "../../src/storage/lease-lock.js";
import { hostIdentity, SqliteJournal } from "../../src/storage/sqlite-journal.js";
import { rejection } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const dirs: Array<{ cleanup: () => void }> = [];
const journals: SqliteJournal[] = [];
afterEach(() => {
  for (const j of journals.splice(0)) j.close();
  for (const d of dirs.splice(0)) d.cleanup();
});
function journalPath(): string {
  const dir = makeTempDir();
  dirs.push(dir);
  return join(dir.path, "state.db");
}
function open(path: string): SqliteJournal {
  const j = new SqliteJournal(path);
  journals.push(j);
  return j;
}
const opts = { purpose: "test", leaseMs: 10_000, waitMs: 0, busyCode: "SYNC_E_SOURCE_BUSY" as const };
const NAME = runLockName("alice", "notes");

/** Writes a lease row as another process (on another host or PID namespace) would have left it. */
function plant(j: SqliteJournal, row: { pid: number; host: string; expiresInMs: number }): void {
  j.db
    .prepare(
      "INSERT INTO leases (name, owner, purpose, pid, host, acquired_at, expires_at) VALUES (?, 'other', 'sync of alice/notes', ?, ?, ?, ?)",
    )
    .run(NAME, row.pid, row.host, new Date().toISOString(), Date.now() + row.expiresInMs);
}

describe("leases (run locks and the writer lock)", () => {
  it("refuses a second holder while the first holds the lock, in one process and across journals", async () => {
    const path = journalPath();
    const a = open(path);
    const b = open(path);
    const held = await acquireLock(a, NAME, opts);
    const err = await rejection(acquireLock(b, NAME, opts));
    expect(isSyncError(err, "SYNC_E_SOURCE_BUSY")).toBe(true);
    expect((err as Error).message).toContain(`process ${process.pid}`);
    expect(isSyncError(await rejection(acquireLock(a, NAME, opts)), "SYNC_E_SOURCE_BUSY")).toBe(true);
    // Other names are independent.
    (await acquireLock(b, runLockName("bob", "notes"), opts)).release();
    (await acquireLock(b, WRITER_LOCK, opts)).release();
    held.release();
    (await acquireLock(b, NAME, opts)).release();
    expect(a.listLeases()).toEqual([]);
  });

  it("waits up to waitMs for a holder that releases, then takes the lock", async () => {
    const j = open(journalPath());
    const held = await acquireLock(j, WRITER_LOCK, opts);
    setTimeout(() => held.release(), 150);
    const t0 = Date.now();
    const second = await acquireLock(j, WRITER_LOCK, { ...opts, waitMs: 5000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    second.release();
  });

  it("a live holder renews its lease: it is never taken over, however long it runs", async () => {
    const j = open(journalPath());
    const held = await acquireLock(j, NAME, { ...opts, leaseMs: 300 });
    await new Promise((r) => setTimeout(r, 1000));
    expect(
      isSyncError(await rejection(acquireLock(j, NAME, { ...opts, leaseMs: 300 })), "SYNC_E_SOURCE_BUSY"),
    ).toBe(true);
    expect(held.signal.aborted).toBe(false);
    held.release();
  });

  it("a lock whose process died on this host is taken over at once", async () => {
    const path = journalPath();
    const child = spawnSync(process.execPath, ["-e", "process.exit(0)"]);
    expect(child.status).toBe(0);
    const j = open(path);
    plant(j, { pid: child.pid as number, host: hostIdentity(), expiresInMs: 60_000 });
    (await acquireLock(j, NAME, opts)).release();
  });

  it("a lock from another host (docker run --rm gave a new hostname) is taken over only after its lease", async () => {
    const j = open(journalPath());
    plant(j, { pid: 999_999, host: "old-container/pid:[1]", expiresInMs: 400 });
    const err = await rejection(acquireLock(j, NAME, opts));
    expect((err as Error).message).toContain("old-container");
    await new Promise((r) => setTimeout(r, 500));
    (await acquireLock(j, NAME, opts)).release();
  });

  it("the same PID in another PID namespace (PID 1 after docker restart) is not taken for this process", async () => {
    const j = open(journalPath());
    plant(j, { pid: process.pid, host: `${hostIdentity()}-previous-namespace`, expiresInMs: 400 });
    expect(isSyncError(await rejection(acquireLock(j, NAME, opts)), "SYNC_E_SOURCE_BUSY")).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    (await acquireLock(j, NAME, opts)).release();
  });

  it("a live lock in another PID namespace is never stolen, even when its PID does not exist here", async () => {
    const j = open(journalPath());
    plant(j, { pid: 4_000_000, host: `${hostIdentity().split("/")[0]}/pid:[other]`, expiresInMs: 60_000 });
    expect(isSyncError(await rejection(acquireLock(j, NAME, opts)), "SYNC_E_SOURCE_BUSY")).toBe(true);
  });

  it("a holder that loses its lease (cleared by unlock) sees its signal abort", async () => {
    const j = open(journalPath());
    const held = await acquireLock(j, NAME, { ...opts, leaseMs: 150 });
    expect(j.clearLease(NAME)?.purpose).toBe("test");
    await new Promise((r) => setTimeout(r, 300));
    expect(held.signal.aborted).toBe(true);
    held.release();
  });

  it("runs left running by a dead process are closed as abandoned", () => {
    const j = open(journalPath());
    const run = j.startRun("alice", "notes");
    expect(j.abandonRuns()).toBe(1);
    expect(j.lastRuns(1)[0]).toMatchObject({ runId: run, status: "abandoned" });
  });
});
