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
} from "../../src/core/journal.js";
import { retypeError } from "../../src/core/journal.js";

const scope = (userId: string, name: string) => `${userId}\0${name}`;

/**
 * An in-memory {@link Journal} with the semantics of the SQLite one: `markPending` inserts unknown items with
 * empty fingerprint and hash and only flips the status of known ones; `recordFailure` increments `attempts`
 * only when the fingerprint is the recorded one (else restarts at 1); `setSourceHealth` updates a registered
 * source only. Every read returns copies, so callers cannot change the stored state by mutating results.
 */
export class MemoryJournal implements Journal {
  private readonly sources = new Map<string, SourceRecord>();
  private readonly items = new Map<string, Map<string, ItemState>>();
  private readonly failures = new Map<string, Map<string, FailureState>>();
  private readonly runs: RunRecord[] = [];
  private readonly meta = new Map<string, string>();
  private readonly leases = new Map<string, LeaseHolder>();
  private readonly uploads = new Map<string, Map<string, UploadRecord>>();
  private clock = 0;
  /** Highest run id pruned or removed, so that ids keep increasing (AUTOINCREMENT). */
  private pruned = 0;
  closed = false;
  /** Every call, by method name (for assertions on the protocol). */
  readonly calls: string[] = [];

  private now(): string {
    this.clock++;
    return new Date(Date.UTC(2025, 0, 1, 0, 0, this.clock)).toISOString();
  }

  upsertSource(source: SourceRecord): void {
    this.calls.push("upsertSource");
    const key = scope(source.userId, source.name);
    const prev = this.sources.get(key);
    if (prev && prev.type !== source.type) throw retypeError(source, prev.type);
    const now = this.now();
    this.sources.set(key, {
      ...(prev ?? {
        createdAt: now,
        lastRunAt: null,
        healthy: true,
        lastError: null,
        storeEpoch: this.storeEpoch(),
        pollInterval: null,
        enabled: true,
        state: {},
      }),
      userId: source.userId,
      name: source.name,
      type: source.type,
      config: structuredClone(source.config),
      updatedAt: now,
      ...(source.pollInterval !== undefined ? { pollInterval: source.pollInterval } : {}),
      ...(source.enabled !== undefined ? { enabled: source.enabled } : {}),
    });
  }

  removeSource(userId: string, name: string): RemovedSource {
    const key = scope(userId, name);
    const removed = {
      items: this.items.get(key)?.size ?? 0,
      failures: this.failures.get(key)?.size ?? 0,
      uploads: this.uploads.get(key)?.size ?? 0,
      runs: this.runs.filter((r) => r.userId === userId && r.sourceName === name).length,
    };
    for (const m of [this.items, this.failures, this.uploads, this.sources]) m.delete(key);
    this.dropRuns((r) => r.userId === userId && r.sourceName === name);
    this.leases.delete(`run:${userId}\0${name}`);
    return removed;
  }

  setSourceState(userId: string, name: string, state: Record<string, unknown>): void {
    const s = this.sources.get(scope(userId, name));
    if (s) s.state = structuredClone(state);
  }

  getSource(userId: string, name: string): SourceRecord | undefined {
    const s = this.sources.get(scope(userId, name));
    return s ? structuredClone(s) : undefined;
  }

  listSources(userId?: string): SourceRecord[] {
    return [...this.sources.values()]
      .filter((s) => userId === undefined || s.userId === userId)
      .sort((a, b) => (a.userId === b.userId ? cmp(a.name, b.name) : cmp(a.userId, b.userId)))
      .map((s) => structuredClone(s));
  }

  setSourceHealth(userId: string, name: string, healthy: boolean, error: string | null): void {
    this.calls.push("setSourceHealth");
    const s = this.sources.get(scope(userId, name));
    if (!s) return; // an UPDATE of no row
    s.healthy = healthy;
    s.lastError = error;
    s.lastRunAt = this.now();
  }

  private itemMap(userId: string, name: string): Map<string, ItemState> {
    const key = scope(userId, name);
    let m = this.items.get(key);
    if (!m) {
      m = new Map();
      this.items.set(key, m);
    }
    return m;
  }

  listItems(userId: string, name: string): Map<string, ItemState> {
    const m = this.items.get(scope(userId, name)) ?? new Map<string, ItemState>();
    return new Map([...m.entries()].map(([k, v]) => [k, { ...v }]));
  }

  getItem(userId: string, name: string, key: string): ItemState | undefined {
    const it = this.items.get(scope(userId, name))?.get(key);
    return it ? { ...it } : undefined;
  }

  markPending(userId: string, name: string, items: ReadonlyArray<{ key: string; docId: string }>): void {
    this.calls.push("markPending");
    const m = this.itemMap(userId, name);
    for (const it of items) {
      const prev = m.get(it.key);
      if (prev) prev.status = "pending";
      else
        m.set(it.key, { key: it.key, docId: it.docId, fingerprint: "", contentHash: "", status: "pending" });
    }
  }

  commitItems(
    userId: string,
    name: string,
    items: readonly ItemState[],
    deletedKeys: readonly string[],
  ): void {
    this.calls.push("commitItems");
    const m = this.itemMap(userId, name);
    for (const it of items) m.set(it.key, { ...it, status: "synced" });
    for (const key of deletedKeys) m.delete(key);
  }

  demoteItems(userId: string, name: string, keys: readonly string[]): void {
    this.calls.push("demoteItems");
    const m = this.itemMap(userId, name);
    for (const key of keys) {
      const it = m.get(key);
      if (it) Object.assign(it, { status: "pending", fingerprint: "", contentHash: "" });
    }
  }

  markSourceVerified(userId: string, name: string, epoch: number): void {
    const s = this.sources.get(scope(userId, name));
    if (s) s.storeEpoch = epoch;
  }

  lastRunStart(userId: string, name: string): string | undefined {
    for (let i = this.runs.length - 1; i >= 0; i--) {
      const r = this.runs[i] as RunRecord;
      if (
        r.userId === userId &&
        r.sourceName === name &&
        r.kind === "full" &&
        (r.status === "succeeded" || r.status === "partial")
      )
        return r.startedAt;
    }
    return undefined;
  }

  listFailures(userId?: string, name?: string): FailureState[] {
    const out: FailureState[] = [];
    for (const m of this.failures.values()) {
      for (const f of m.values()) {
        if (userId !== undefined && f.userId !== userId) continue;
        if (name !== undefined && f.sourceName !== name) continue;
        out.push({ ...f });
      }
    }
    return out.sort((a, b) =>
      `${a.userId}\0${a.sourceName}\0${a.key}` < `${b.userId}\0${b.sourceName}\0${b.key}` ? -1 : 1,
    );
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
    this.calls.push("recordFailure");
    const sk = scope(userId, name);
    let m = this.failures.get(sk);
    if (!m) {
      m = new Map();
      this.failures.set(sk, m);
    }
    const now = this.now();
    const prev = m.get(key);
    m.set(key, {
      userId,
      sourceName: name,
      key,
      fingerprint,
      attempts: prev && prev.fingerprint === fingerprint ? prev.attempts + 1 : 1,
      code,
      error,
      firstFailedAt: prev?.firstFailedAt ?? now,
      lastFailedAt: now,
      retryable,
    });
  }

  clearFailures(userId: string, name: string, keys: readonly string[]): void {
    this.calls.push("clearFailures");
    const m = this.failures.get(scope(userId, name));
    if (!m) return;
    for (const k of keys) m.delete(k);
  }

  cleanupFailures(userId?: string, name?: string): number {
    let n = 0;
    for (const m of this.failures.values()) {
      for (const [k, f] of m) {
        if (userId !== undefined && f.userId !== userId) continue;
        if (name !== undefined && f.sourceName !== name) continue;
        m.delete(k);
        n++;
      }
    }
    return n;
  }

  startRun(userId: string, name: string, kind: RunKind = "full"): number {
    this.calls.push("startRun");
    const runId = Math.max(this.pruned, this.runs.at(-1)?.runId ?? 0) + 1;
    this.runs.push({
      runId,
      kind,
      userId,
      sourceName: name,
      startedAt: this.now(),
      finishedAt: null,
      status: "running",
      stats: null,
      error: null,
    });
    return runId;
  }

  finishRun(runId: number, status: RunRecord["status"], stats: RunStats | null, error: string | null): void {
    this.calls.push("finishRun");
    const r = this.runs.find((x) => x.runId === runId);
    if (!r) throw new Error(`MemoryJournal: no run ${runId}`);
    r.finishedAt = this.now();
    r.status = status;
    r.stats = stats ? { ...stats } : null;
    r.error = error;
  }

  lastRuns(limit: number, userId?: string): RunRecord[] {
    return this.runs
      .filter((r) => userId === undefined || r.userId === userId)
      .sort((a, b) => b.runId - a.runId)
      .slice(0, limit)
      .map((r) => structuredClone(r));
  }

  private dropRuns(which: (r: RunRecord) => boolean): void {
    for (const r of this.runs) if (which(r)) this.pruned = Math.max(this.pruned, r.runId);
    const kept = this.runs.filter((r) => !which(r));
    this.runs.splice(0, this.runs.length, ...kept);
  }

  abandonRuns(userId?: string, name?: string): number {
    let n = 0;
    for (const r of this.runs) {
      if (r.status !== "running") continue;
      if (userId !== undefined && name !== undefined) {
        if (r.userId !== userId || r.sourceName !== name) continue;
      } else {
        const lease = this.leases.get(`run:${r.userId}\0${r.sourceName}`);
        if (lease && lease.expiresAt > Date.now()) continue;
      }
      Object.assign(r, {
        status: "abandoned",
        finishedAt: this.now(),
        error: "process ended during the run",
      });
      n++;
    }
    return n;
  }

  pruneRuns(keep: number): number {
    const seen = new Map<string, number>();
    const drop = new Set<number>();
    for (const r of [...this.runs].sort((a, b) => b.runId - a.runId)) {
      if (r.status === "running") continue;
      const k = scope(r.userId, r.sourceName);
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      if (n > keep) drop.add(r.runId);
    }
    this.dropRuns((r) => drop.has(r.runId));
    return drop.size;
  }

  counts(userId?: string, name?: string): { items: number; pending: number; failures: number } {
    let items = 0;
    let pending = 0;
    for (const [k, m] of this.items) {
      if (userId !== undefined && !k.startsWith(`${userId}\0`)) continue;
      if (name !== undefined && k !== scope(userId ?? "", name)) continue;
      items += m.size;
      for (const it of m.values()) if (it.status === "pending") pending++;
    }
    const failures = this.listFailures(userId, userId === undefined ? undefined : name).length;
    return { items, pending, failures };
  }

  storeEpoch(): number {
    return Number(this.meta.get("store_epoch") ?? "0");
  }

  bumpStoreEpoch(): number {
    const next = this.storeEpoch() + 1;
    this.meta.set("store_epoch", String(next));
    return next;
  }

  forgetAll(): number {
    const epoch = this.storeEpoch() + 1;
    this.items.clear();
    this.failures.clear();
    this.meta.clear();
    this.meta.set("store_epoch", String(epoch));
    for (const s of this.sources.values()) s.storeEpoch = epoch;
    return epoch;
  }

  getMeta(key: string): string | undefined {
    return this.meta.get(key);
  }

  setMeta(key: string, value: string): void {
    this.meta.set(key, value);
  }

  tryLease(name: string, owner: string, purpose: string, leaseMs: number): LeaseHolder | undefined {
    const now = Date.now();
    const cur = this.leases.get(name);
    if (cur && cur.owner !== owner && cur.expiresAt > now) return { ...cur };
    this.leases.set(name, {
      name,
      owner,
      purpose,
      pid: process.pid,
      host: "memory",
      acquiredAt: cur && cur.owner === owner ? cur.acquiredAt : new Date(now).toISOString(),
      expiresAt: now + leaseMs,
    });
    return undefined;
  }

  renewLease(name: string, owner: string, leaseMs: number): boolean {
    const cur = this.leases.get(name);
    if (!cur || cur.owner !== owner) return false;
    cur.expiresAt = Date.now() + leaseMs;
    return true;
  }

  releaseLease(name: string, owner: string): void {
    if (this.leases.get(name)?.owner === owner) this.leases.delete(name);
  }

  clearLease(name: string): LeaseHolder | undefined {
    const cur = this.leases.get(name);
    this.leases.delete(name);
    return cur ? { ...cur } : undefined;
  }

  listLeases(): LeaseHolder[] {
    return [...this.leases.values()].sort((a, b) => cmp(a.name, b.name)).map((l) => ({ ...l }));
  }

  putUpload(upload: UploadRecord): void {
    const key = scope(upload.userId, upload.sourceName);
    let m = this.uploads.get(key);
    if (!m) {
      m = new Map();
      this.uploads.set(key, m);
    }
    m.set(upload.key, structuredClone(upload));
  }

  getUpload(userId: string, name: string, key: string): UploadRecord | undefined {
    const u = this.uploads.get(scope(userId, name))?.get(key);
    return u ? structuredClone(u) : undefined;
  }

  listUploads(userId: string, name: string): UploadRecord[] {
    return [...(this.uploads.get(scope(userId, name))?.values() ?? [])]
      .sort((a, b) => cmp(a.key, b.key))
      .map((u) => structuredClone(u));
  }

  deleteUpload(userId: string, name: string, key: string): boolean {
    return this.uploads.get(scope(userId, name))?.delete(key) ?? false;
  }

  referencedBlobs(): Set<string> {
    const out = new Set<string>();
    for (const m of this.uploads.values()) for (const u of m.values()) out.add(u.blobHash);
    return out;
  }

  close(): void {
    this.closed = true;
  }

  /** A copy of the whole state, for {@link restore}. */
  snapshot(): unknown {
    return structuredClone({
      sources: this.sources,
      items: this.items,
      failures: this.failures,
      runs: this.runs,
      clock: this.clock,
    });
  }

  /**
   * Puts back a {@link snapshot}: every transaction since is lost, as after an OS crash with
   * `synchronous=NORMAL` (the store may have kept writes the journal forgot).
   */
  restore(snapshot: unknown): void {
    const s = structuredClone(snapshot) as {
      sources: Map<string, SourceRecord>;
      items: Map<string, Map<string, ItemState>>;
      failures: Map<string, Map<string, FailureState>>;
      runs: RunRecord[];
      clock: number;
    };
    for (const [target, from] of [
      [this.sources, s.sources],
      [this.items, s.items],
      [this.failures, s.failures],
    ] as const) {
      target.clear();
      for (const [k, v] of from as Map<string, never>) (target as Map<string, never>).set(k, v);
    }
    this.runs.splice(0, this.runs.length, ...s.runs);
    this.clock = s.clock;
  }

  /** Items of every source still marked `pending`. */
  pendingItems(): ItemState[] {
    return [...this.items.values()].flatMap((m) => [...m.values()].filter((s) => s.status === "pending"));
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
