import { existsSync, mkdirSync, readlinkSync, renameSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type {
  FailureState,
  ItemState,
  Journal,
  LeaseHolder,
  RemovedSource,
  RunKind,
  RunRecord,
  RunStats,
  SourceRecord,
  UploadRecord,
} from "../core/journal.js";
import { retypeError } from "../core/journal.js";
import { SyncError } from "../errors/sync-error.js";
import { JOURNAL_MIGRATIONS } from "./journal-migrations.js";

type Row = Record<string, unknown>;

/**
 * {@link Journal} on SQLite (WAL, `synchronous=NORMAL`: a committed transaction survives a process crash;
 * an OS crash may lose the last ones, which the `pending` protocol and idempotent applies tolerate).
 */
export class SqliteJournal implements Journal {
  /** The underlying database (for online backup by later work). */
  readonly db: Database.Database;

  private readonly statements = new Map<string, Database.Statement>();

  /** Prepares `sql` once per journal; later calls reuse the statement. */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Opens (creating if needed) the journal at `path` and applies pending migrations. */
  constructor(path: string) {
    try {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      // Before anything that locks: processes opening a new journal at once wait for each other.
      this.db.pragma("busy_timeout = 5000");
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma("foreign_keys = ON");
      this.migrate();
    } catch (err) {
      throw new SyncError("SYNC_E_JOURNAL", `journal: open ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  private migrate(): void {
    const version = () => this.db.pragma("user_version", { simple: true }) as number;
    if (version() >= JOURNAL_MIGRATIONS.length) return;
    // Each step reads the version inside its IMMEDIATE transaction: processes opening a new journal at once
    // apply each migration exactly once (a version read outside would let two apply the same step).
    const step = this.db.transaction((): boolean => {
      const v = version();
      if (v >= JOURNAL_MIGRATIONS.length) return false;
      this.db.exec(JOURNAL_MIGRATIONS[v] as string);
      this.db.pragma(`user_version = ${v + 1}`);
      return true;
    });
    while (step.immediate()) {}
  }

  upsertSource(s: SourceRecord): void {
    const now = new Date().toISOString();
    this.db
      .transaction(() => {
        const prev = this.stmt("SELECT type FROM sources WHERE user_id = ? AND name = ?").get(
          s.userId,
          s.name,
        ) as { type: string } | undefined;
        if (prev && prev.type !== s.type) throw retypeError(s, prev.type);
        this.stmt(
          `INSERT INTO sources (user_id, name, type, config_json, created_at, updated_at, store_epoch,
             poll_interval, enabled)
           VALUES (@userId, @name, @type, @config, @now, @now, @epoch, @poll, coalesce(@enabled, 1))
           ON CONFLICT (user_id, name) DO UPDATE SET config_json = excluded.config_json,
             updated_at = excluded.updated_at,
             poll_interval = CASE WHEN @pollGiven THEN @poll ELSE sources.poll_interval END,
             enabled = coalesce(@enabled, sources.enabled)`,
        ).run({
          userId: s.userId,
          name: s.name,
          type: s.type,
          config: JSON.stringify(s.config),
          now,
          epoch: this.storeEpoch(),
          poll: s.pollInterval ?? null,
          pollGiven: s.pollInterval === undefined ? 0 : 1,
          enabled: s.enabled === undefined ? null : s.enabled ? 1 : 0,
        });
      })
      .immediate();
  }

  removeSource(userId: string, name: string): RemovedSource {
    return this.db
      .transaction((): RemovedSource => {
        const del = (table: string, col = "source_name") =>
          this.stmt(`DELETE FROM ${table} WHERE user_id = ? AND ${col} = ?`).run(userId, name).changes;
        const removed = {
          items: del("items"),
          failures: del("failures"),
          uploads: del("uploads"),
          runs: del("runs"),
        };
        del("sources", "name");
        this.stmt("DELETE FROM leases WHERE name = ?").run(runLeaseName(userId, name));
        return removed;
      })
      .immediate();
  }

  setSourceState(userId: string, name: string, state: Record<string, unknown>): void {
    this.stmt("UPDATE sources SET state_json = ? WHERE user_id = ? AND name = ?").run(
      JSON.stringify(state),
      userId,
      name,
    );
  }

  getSource(userId: string, name: string): SourceRecord | undefined {
    const row = this.stmt("SELECT * FROM sources WHERE user_id = ? AND name = ?").get(userId, name);
    return row ? toSource(row as Row) : undefined;
  }

  listSources(userId?: string): SourceRecord[] {
    const rows =
      userId === undefined
        ? this.stmt("SELECT * FROM sources ORDER BY user_id, name").all()
        : this.stmt("SELECT * FROM sources WHERE user_id = ? ORDER BY name").all(userId);
    return (rows as Row[]).map(toSource);
  }

  setSourceHealth(userId: string, name: string, healthy: boolean, error: string | null): void {
    this.stmt(
      "UPDATE sources SET healthy = ?, last_error = ?, last_run_at = ? WHERE user_id = ? AND name = ?",
    ).run(healthy ? 1 : 0, error, new Date().toISOString(), userId, name);
  }

  listItems(userId: string, name: string): Map<string, ItemState> {
    const rows = this.stmt(
      `SELECT item_key AS key, doc_id AS docId, fingerprint, content_hash AS contentHash, status
         FROM items WHERE user_id = ? AND source_name = ?`,
    ).all(userId, name) as ItemState[];
    return new Map(rows.map((r) => [r.key, r]));
  }

  getItem(userId: string, name: string, key: string): ItemState | undefined {
    return this.stmt(
      `SELECT item_key AS key, doc_id AS docId, fingerprint, content_hash AS contentHash, status
       FROM items WHERE user_id = ? AND source_name = ? AND item_key = ?`,
    ).get(userId, name, key) as ItemState | undefined;
  }

  markPending(userId: string, name: string, items: ReadonlyArray<{ key: string; docId: string }>): void {
    const now = new Date().toISOString();
    const stmt = this.stmt(
      `INSERT INTO items (user_id, source_name, item_key, doc_id, status, updated_at)
       VALUES (?, ?, ?, ?, 'pending', ?)
       ON CONFLICT (user_id, source_name, item_key) DO UPDATE SET status = 'pending', updated_at = excluded.updated_at`,
    );
    this.db.transaction(() => {
      for (const it of items) stmt.run(userId, name, it.key, it.docId, now);
    })();
  }

  commitItems(
    userId: string,
    name: string,
    items: readonly ItemState[],
    deletedKeys: readonly string[],
  ): void {
    const now = new Date().toISOString();
    const upsert = this.stmt(
      `INSERT INTO items (user_id, source_name, item_key, doc_id, fingerprint, content_hash, status, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'synced', ?)
       ON CONFLICT (user_id, source_name, item_key) DO UPDATE SET doc_id = excluded.doc_id,
         fingerprint = excluded.fingerprint, content_hash = excluded.content_hash, status = 'synced',
         updated_at = excluded.updated_at`,
    );
    const del = this.stmt("DELETE FROM items WHERE user_id = ? AND source_name = ? AND item_key = ?");
    this.db.transaction(() => {
      for (const it of items) upsert.run(userId, name, it.key, it.docId, it.fingerprint, it.contentHash, now);
      for (const key of deletedKeys) del.run(userId, name, key);
    })();
  }

  demoteItems(userId: string, name: string, keys: readonly string[]): void {
    const st = this.stmt(
      `UPDATE items SET status = 'pending', fingerprint = '', content_hash = '', updated_at = ?
       WHERE user_id = ? AND source_name = ? AND item_key = ?`,
    );
    const now = new Date().toISOString();
    this.db.transaction(() => {
      for (const key of keys) st.run(now, userId, name, key);
    })();
  }

  markSourceVerified(userId: string, name: string, epoch: number): void {
    this.stmt("UPDATE sources SET store_epoch = ? WHERE user_id = ? AND name = ?").run(epoch, userId, name);
  }

  lastRunStart(userId: string, name: string): string | undefined {
    const row = this.stmt(
      `SELECT started_at FROM runs WHERE user_id = ? AND source_name = ? AND status IN ('succeeded', 'partial')
         AND kind = 'full' ORDER BY run_id DESC LIMIT 1`,
    ).get(userId, name) as { started_at: string } | undefined;
    return row?.started_at;
  }

  storeEpoch(): number {
    return Number(this.getMeta(STORE_EPOCH_KEY) ?? "0");
  }

  bumpStoreEpoch(): number {
    return this.db.transaction(() => {
      const next = this.storeEpoch() + 1;
      this.setMeta(STORE_EPOCH_KEY, String(next));
      return next;
    })();
  }

  abandonRuns(userId?: string, name?: string): number {
    const now = new Date().toISOString();
    if (userId === undefined || name === undefined) {
      return this.stmt(
        `UPDATE runs SET status = 'abandoned', finished_at = ?, error = 'process ended during the run'
         WHERE status = 'running' AND NOT EXISTS (
           SELECT 1 FROM leases WHERE leases.name = 'run:' || runs.user_id || char(0) || runs.source_name
             AND leases.expires_at > ?)`,
      ).run(now, Date.now()).changes;
    }
    return this.stmt(
      `UPDATE runs SET status = 'abandoned', finished_at = ?, error = 'process ended during the run'
       WHERE status = 'running' AND user_id = ? AND source_name = ?`,
    ).run(now, userId, name).changes;
  }

  listFailures(userId?: string, name?: string): FailureState[] {
    const where: string[] = [];
    const args: string[] = [];
    if (userId !== undefined) {
      where.push("user_id = ?");
      args.push(userId);
    }
    if (name !== undefined) {
      where.push("source_name = ?");
      args.push(name);
    }
    const sql = `SELECT user_id AS userId, source_name AS sourceName, item_key AS key, fingerprint, attempts, code,
        error, first_failed_at AS firstFailedAt, last_failed_at AS lastFailedAt, retryable = 1 AS retryable
      FROM failures ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY user_id, source_name, item_key`;
    return (
      this.stmt(sql).all(...args) as Array<Omit<FailureState, "retryable"> & { retryable: number }>
    ).map((f) => ({
      ...f,
      retryable: f.retryable === 1,
    }));
  }

  recordFailure(
    userId: string,
    name: string,
    key: string,
    fingerprint: string,
    code: string,
    error: string,
    retryable = false,
  ): void {
    const now = new Date().toISOString();
    this.stmt(
      `INSERT INTO failures (user_id, source_name, item_key, fingerprint, attempts, code, error,
           first_failed_at, last_failed_at, retryable)
         VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)
         ON CONFLICT (user_id, source_name, item_key) DO UPDATE SET
           attempts = CASE WHEN failures.fingerprint = excluded.fingerprint THEN failures.attempts + 1 ELSE 1 END,
           fingerprint = excluded.fingerprint, code = excluded.code, error = excluded.error,
           last_failed_at = excluded.last_failed_at, retryable = excluded.retryable`,
    ).run(userId, name, key, fingerprint, code, error, now, now, retryable ? 1 : 0);
  }

  clearFailures(userId: string, name: string, keys: readonly string[]): void {
    if (keys.length === 0) return;
    const del = this.stmt("DELETE FROM failures WHERE user_id = ? AND source_name = ? AND item_key = ?");
    this.db.transaction(() => {
      for (const key of keys) del.run(userId, name, key);
    })();
  }

  cleanupFailures(userId?: string, name?: string): number {
    if (userId === undefined) return this.stmt("DELETE FROM failures").run().changes;
    if (name === undefined) return this.stmt("DELETE FROM failures WHERE user_id = ?").run(userId).changes;
    return this.stmt("DELETE FROM failures WHERE user_id = ? AND source_name = ?").run(userId, name).changes;
  }

  startRun(userId: string, name: string, kind: RunKind = "full"): number {
    const res = this.stmt(
      "INSERT INTO runs (user_id, source_name, started_at, status, kind) VALUES (?, ?, ?, 'running', ?)",
    ).run(userId, name, new Date().toISOString(), kind);
    return Number(res.lastInsertRowid);
  }

  finishRun(runId: number, status: RunRecord["status"], stats: RunStats | null, error: string | null): void {
    this.stmt("UPDATE runs SET finished_at = ?, status = ?, stats_json = ?, error = ? WHERE run_id = ?").run(
      new Date().toISOString(),
      status,
      stats ? JSON.stringify(stats) : null,
      error,
      runId,
    );
  }

  lastRuns(limit: number, userId?: string): RunRecord[] {
    const rows =
      userId === undefined
        ? this.stmt("SELECT * FROM runs ORDER BY run_id DESC LIMIT ?").all(limit)
        : this.stmt("SELECT * FROM runs WHERE user_id = ? ORDER BY run_id DESC LIMIT ?").all(userId, limit);
    return (rows as Row[]).map((r) => ({
      runId: r.run_id as number,
      userId: r.user_id as string,
      sourceName: r.source_name as string,
      startedAt: r.started_at as string,
      finishedAt: (r.finished_at as string | null) ?? null,
      status: r.status as RunRecord["status"],
      kind: r.kind as RunKind,
      stats: r.stats_json ? (JSON.parse(r.stats_json as string) as RunStats) : null,
      error: (r.error as string | null) ?? null,
    }));
  }

  pruneRuns(keep: number): number {
    return this.stmt(
      `DELETE FROM runs WHERE status != 'running' AND run_id IN (
         SELECT run_id FROM (
           SELECT run_id, row_number() OVER (PARTITION BY user_id, source_name ORDER BY run_id DESC) AS n
           FROM runs WHERE status != 'running')
         WHERE n > ?)`,
    ).run(Math.max(0, Math.floor(keep))).changes;
  }

  putUpload(u: UploadRecord): void {
    this.stmt(
      `INSERT INTO uploads (user_id, source_name, item_key, blob_hash, file_name, size_bytes, metadata_json,
         uploaded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, source_name, item_key) DO UPDATE SET blob_hash = excluded.blob_hash,
         file_name = excluded.file_name, size_bytes = excluded.size_bytes,
         metadata_json = excluded.metadata_json, uploaded_at = excluded.uploaded_at`,
    ).run(
      u.userId,
      u.sourceName,
      u.key,
      u.blobHash,
      u.fileName,
      u.sizeBytes,
      JSON.stringify(u.metadata),
      u.uploadedAt,
    );
  }

  getUpload(userId: string, name: string, key: string): UploadRecord | undefined {
    const row = this.stmt("SELECT * FROM uploads WHERE user_id = ? AND source_name = ? AND item_key = ?").get(
      userId,
      name,
      key,
    );
    return row ? toUpload(row as Row) : undefined;
  }

  listUploads(userId: string, name: string): UploadRecord[] {
    return (
      this.stmt("SELECT * FROM uploads WHERE user_id = ? AND source_name = ? ORDER BY item_key").all(
        userId,
        name,
      ) as Row[]
    ).map(toUpload);
  }

  deleteUpload(userId: string, name: string, key: string): boolean {
    return (
      this.stmt("DELETE FROM uploads WHERE user_id = ? AND source_name = ? AND item_key = ?").run(
        userId,
        name,
        key,
      ).changes > 0
    );
  }

  referencedBlobs(): Set<string> {
    const rows = this.stmt("SELECT DISTINCT blob_hash FROM uploads").all() as Array<{ blob_hash: string }>;
    return new Set(rows.map((r) => r.blob_hash));
  }

  counts(userId?: string, name?: string): { items: number; pending: number; failures: number } {
    const where = [
      userId === undefined ? "" : "user_id = @userId",
      name === undefined ? "" : "source_name = @name",
    ]
      .filter((w) => w !== "")
      .join(" AND ");
    const scope = where === "" ? "" : `WHERE ${where}`;
    const row = this.stmt(
      `SELECT (SELECT count(*) FROM items ${scope}) AS items,
           (SELECT count(*) FROM items ${scope ? `${scope} AND` : "WHERE"} status = 'pending') AS pending,
           (SELECT count(*) FROM failures ${scope}) AS failures`,
    ).get({ ...(userId === undefined ? {} : { userId }), ...(name === undefined ? {} : { name }) });
    return row as { items: number; pending: number; failures: number };
  }

  forgetAll(): number {
    return this.db.transaction(() => {
      const epoch = this.storeEpoch() + 1;
      this.db.exec("DELETE FROM items; DELETE FROM failures; DELETE FROM meta;");
      this.setMeta(STORE_EPOCH_KEY, String(epoch));
      this.stmt("UPDATE sources SET store_epoch = ?").run(epoch);
      return epoch;
    })();
  }

  /**
   * Takes or renews the lease `name` for `owner` until `leaseMs` from now, in one IMMEDIATE transaction.
   * Returns undefined on success, or the current holder when another owner holds an unexpired lease. A lease
   * whose owner stopped renewing it (the process died, on any host or PID namespace) is taken over once it
   * expires; a live owner renews it and keeps it.
   */
  tryLease(name: string, owner: string, purpose: string, leaseMs: number): LeaseHolder | undefined {
    return this.db
      .transaction((): LeaseHolder | undefined => {
        const now = Date.now();
        const row = this.stmt("SELECT * FROM leases WHERE name = ?").get(name) as LeaseRow | undefined;
        if (row && row.owner !== owner && row.expires_at > now && !diedOnThisHost(row)) return toHolder(row);
        this.stmt(
          `INSERT INTO leases (name, owner, purpose, pid, host, acquired_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, purpose = excluded.purpose,
             pid = excluded.pid, host = excluded.host, expires_at = excluded.expires_at,
             acquired_at = CASE WHEN leases.owner = excluded.owner THEN leases.acquired_at
               ELSE excluded.acquired_at END`,
        ).run(name, owner, purpose, process.pid, hostIdentity(), new Date(now).toISOString(), now + leaseMs);
        return undefined;
      })
      .immediate();
  }

  /** Extends a lease still held by `owner`; false when it was lost (expired and taken, or cleared). */
  renewLease(name: string, owner: string, leaseMs: number): boolean {
    return (
      this.stmt("UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ?").run(
        Date.now() + leaseMs,
        name,
        owner,
      ).changes === 1
    );
  }

  /** Releases a lease held by `owner`; a no-op when it no longer holds it. */
  releaseLease(name: string, owner: string): void {
    this.stmt("DELETE FROM leases WHERE name = ? AND owner = ?").run(name, owner);
  }

  /** Removes a lease whoever holds it (`unlock`); returns the holder it removed, if any. */
  clearLease(name: string): LeaseHolder | undefined {
    return this.db.transaction(() => {
      const row = this.stmt("SELECT * FROM leases WHERE name = ?").get(name) as LeaseRow | undefined;
      if (row) this.stmt("DELETE FROM leases WHERE name = ?").run(name);
      return row ? toHolder(row) : undefined;
    })();
  }

  /** Every lease, expired ones included (status and tests). */
  listLeases(): LeaseHolder[] {
    return (this.stmt("SELECT * FROM leases ORDER BY name").all() as LeaseRow[]).map(toHolder);
  }

  /** A recorded setting, e.g. `embedder_id` (the embedder the tables were last opened with). */
  getMeta(key: string): string | undefined {
    const row = this.stmt("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    return row?.value;
  }

  /** Records a setting. */
  setMeta(key: string, value: string): void {
    this.stmt(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(key, value);
  }

  /**
   * Reads a little of every table (a damaged file usually fails here rather than in the middle of a run);
   * see {@link openJournal}.
   */
  probe(): void {
    for (const table of ["meta", "sources", "items", "failures", "runs", "leases", "uploads"]) {
      this.db.prepare(`SELECT count(*) FROM ${table}`).get();
    }
  }

  /**
   * Copies the journal to `path` with SQLite's online backup API: a consistent copy of every committed
   * transaction, taken while other connections keep reading and writing. `path` is replaced.
   */
  async backupTo(path: string): Promise<void> {
    try {
      await this.db.backup(path);
    } catch (err) {
      throw new SyncError("SYNC_E_JOURNAL", `journal: online backup to ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** The file of the journal. */
  get path(): string {
    return this.db.name;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * True when `err` (or its cause) is SQLite saying the database file is damaged: `SQLITE_CORRUPT`
 * ("database disk image is malformed") or `SQLITE_NOTADB` ("file is not a database").
 */
export function isJournalCorruption(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; cur instanceof Error && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && /^SQLITE_(CORRUPT|NOTADB)/.test(code)) return true;
    if (/database disk image is malformed|file is not a database/.test(cur.message)) return true;
    cur = cur.cause;
  }
  return false;
}

/**
 * Runs `PRAGMA quick_check` on the journal file at `path` (read-only): undefined when it passes, else what
 * SQLite found. Slow on a large journal (it reads every page): only for when a query already failed.
 */
export function journalDamage(path: string): string | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const rows = db.pragma("quick_check(5)", { simple: false }) as Array<{ quick_check: string }>;
    const found = rows.map((r) => r.quick_check).filter((m) => m !== "ok");
    return found.length > 0 ? found.join("; ") : undefined;
  } catch (err) {
    return isJournalCorruption(err) ? (err as Error).message : undefined;
  } finally {
    db?.close();
  }
}

/**
 * Renames a damaged journal (and its `-wal` and `-shm` files) to `<path>.damaged-<timestamp>` so that a fresh
 * one can be created in its place; returns the new name. The tables keep every document's content hash, so
 * the next sync rebuilds the journal's items from them, embedding nothing.
 */
export function moveJournalAside(path: string): string {
  const aside = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  for (const suffix of ["-wal", "-shm"]) {
    if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
  }
  renameSync(path, aside);
  return aside;
}

/** Blobs the uploads of the journal file at `path` refer to (opened read-only: e.g. a backup's copy). */
export function referencedBlobsIn(path: string): Set<string> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT DISTINCT blob_hash FROM uploads").all() as Array<{ blob_hash: string }>;
    return new Set(rows.map((r) => r.blob_hash));
  } catch (err) {
    throw new SyncError("SYNC_E_JOURNAL", `journal: read uploads of ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    db.close();
  }
}

/** What {@link openJournal} did with a damaged journal. */
export interface JournalRecovery {
  path: string;
  movedTo: string;
  /** What SQLite found. */
  damage: string;
}

/**
 * Opens the journal at `path`. When opening it or a first read of its tables fails because the file is
 * damaged (and `PRAGMA quick_check` confirms it), the file is moved aside ({@link moveJournalAside}), a fresh
 * journal is created and `onRecovered` is told. A healthy journal costs a handful of tiny queries more.
 * Throws `SYNC_E_JOURNAL` naming the file and the way out when it cannot be moved.
 */
export function openJournal(path: string, onRecovered?: (r: JournalRecovery) => void): SqliteJournal {
  let first: unknown;
  try {
    const journal = new SqliteJournal(path);
    try {
      journal.probe();
      return journal;
    } catch (err) {
      journal.close();
      throw err;
    }
  } catch (err) {
    if (path === ":memory:" || !isJournalCorruption(err)) throw err;
    first = err;
  }
  const damage = journalDamage(path) ?? describeCause(first);
  let movedTo: string;
  try {
    movedTo = moveJournalAside(path);
  } catch (err) {
    throw damagedJournalError(path, damage, err);
  }
  const journal = new SqliteJournal(path);
  onRecovered?.({ path, movedTo, damage });
  return journal;
}

/**
 * `SYNC_E_JOURNAL` for a damaged journal: names the file, what SQLite found, and the way out.
 */
export function damagedJournalError(path: string, damage: string, cause?: unknown): SyncError {
  return new SyncError(
    "SYNC_E_JOURNAL",
    `journal ${path} is damaged (${damage}): move it aside (with its -wal and -shm files); the next sync ` +
      "rebuilds it from the tables with nothing re-embedded",
    { cause, retryable: false },
  );
}

function describeCause(err: unknown): string {
  let cur: unknown = err;
  while (cur instanceof Error && cur.cause instanceof Error) cur = cur.cause;
  return cur instanceof Error ? cur.message : String(cur);
}

let cachedHost: string | undefined;

/**
 * This host as lease holders record it: the hostname plus, on Linux, the PID namespace. Only a holder with
 * the same identity can be checked by PID (a PID means nothing in another namespace or on another host).
 */
export function hostIdentity(): string {
  if (cachedHost === undefined) {
    let ns = "";
    try {
      ns = readlinkSync("/proc/self/ns/pid");
    } catch {
      // not Linux, or /proc not mounted: the hostname alone
    }
    cachedHost = ns ? `${hostname()}/${ns}` : hostname();
  }
  return cachedHost;
}

/** A holder in this host and PID namespace, not this process, whose PID no longer exists: it died. */
function diedOnThisHost(row: LeaseRow): boolean {
  if (row.host !== hostIdentity() || row.pid === process.pid) return false;
  try {
    process.kill(row.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** Journal setting holding the store epoch (see {@link SqliteJournal.storeEpoch}). */
export const STORE_EPOCH_KEY = "store_epoch";

export type { LeaseHolder } from "../core/journal.js";

interface LeaseRow {
  name: string;
  owner: string;
  purpose: string;
  pid: number;
  host: string;
  acquired_at: string;
  expires_at: number;
}

function toHolder(r: LeaseRow): LeaseHolder {
  return {
    name: r.name,
    owner: r.owner,
    purpose: r.purpose,
    pid: r.pid,
    host: r.host,
    acquiredAt: r.acquired_at,
    expiresAt: r.expires_at,
  };
}

function toSource(r: Row): SourceRecord {
  return {
    userId: r.user_id as string,
    name: r.name as string,
    type: r.type as string,
    config: JSON.parse(r.config_json as string) as Record<string, unknown>,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    lastRunAt: (r.last_run_at as string | null) ?? null,
    healthy: r.healthy === 1,
    lastError: (r.last_error as string | null) ?? null,
    storeEpoch: r.store_epoch as number,
    pollInterval: (r.poll_interval as number | null) ?? null,
    enabled: r.enabled !== 0,
    state: JSON.parse((r.state_json as string | undefined) ?? "{}") as Record<string, unknown>,
  };
}

function toUpload(r: Row): UploadRecord {
  return {
    userId: r.user_id as string,
    sourceName: r.source_name as string,
    key: r.item_key as string,
    blobHash: r.blob_hash as string,
    fileName: r.file_name as string,
    sizeBytes: r.size_bytes as number,
    metadata: JSON.parse(r.metadata_json as string) as Record<string, unknown>,
    uploadedAt: r.uploaded_at as string,
  };
}

/** Name of the run lease of one source (the same as `runLockName` in lease-lock.ts). */
function runLeaseName(userId: string, name: string): string {
  return `run:${userId}\0${name}`;
}
