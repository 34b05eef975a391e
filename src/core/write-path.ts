import { describeError } from "../errors/sync-error.js";
import { buildRows } from "./build-rows.js";
import type { ContentProcessor } from "./content-processor.js";
import { byHash, type Candidate } from "./detect-changes.js";
import type { DocumentStore } from "./document-store.js";
import { embedMisses } from "./embed-misses.js";
import type { Embedder } from "./embedder.js";
import type { ItemState, Journal, RunStats } from "./journal.js";
import { type Logger, silentLogger } from "./logger.js";
import { mapConcurrent } from "./map-concurrent.js";
import { type ItemFailure, type PreparedWrite, prepareItem } from "./prepare-item.js";
import type { Gate } from "./semaphore.js";
import type { Source, SourceItemRef } from "./source.js";

/** Runs one store write exclusively (see {@link WriteDeps.exclusive}). */
export type Exclusive = <T>(fn: () => Promise<T>) => Promise<T>;

/** Points of a run reported to `onStep` (tests use them to crash a run on purpose). */
export type SyncStep = "listed" | "pending-marked" | "batch-applied" | "batch-committed" | "deletes-applied";

/** Collaborators of the write path. The store is opened lazily: a run with nothing to write never opens it. */
export interface WriteDeps {
  journal: Journal;
  openStore: () => Promise<DocumentStore>;
  embedder: Embedder;
  process: ContentProcessor;
  logger?: Logger;
  now?: () => Date;
  /**
   * Runs one write to the store together with its journal commit, excluding every other writer of the store
   * (other runs, compact, reset). It throws — and the run fails, leaving its items `pending` — when the lock
   * cannot be had in time (`SYNC_E_STORE_BUSY`) or the store was reset or replaced since the run began
   * (`SYNC_E_STORE_CHANGED`). Default: runs `fn` directly (single writer).
   */
  exclusive?: Exclusive;
}

/** Settings of the write path for one run over one source. */
export interface WriteSettings {
  userId: string;
  source: Source;
  /** A write batch closes at this many documents… */
  writeBatchDocs: number;
  /** …or before it would pass this many chunks (default 1024). A larger document is written alone. */
  writeBatchChunks?: number;
  /** Items fetched and processed at once by this run. */
  concurrency: number;
  /**
   * Shared limit across concurrent runs (`MAX_CONCURRENT_PROCESSING` for a whole process): every item is
   * read and processed inside it. Default: none beyond `concurrency`.
   */
  gate?: Gate;
  /** `user` (default): cached vectors are reused only from this user's chunks; `global`: from anyone's. */
  embeddingCacheScope?: "user" | "global";
  signal?: AbortSignal;
  onProgress?: (progress: { done: number; total: number }) => void;
  onStep?: (step: SyncStep, batch: number) => void;
}

/** How an accepted write counts in the run's figures, decided by the planner (see {@link WritePath}). */
export type WriteKind = "added" | "updated" | "repaired" | { movedFrom: ItemState };

/**
 * Pairs writes with items that are gone, by content hash: a new item whose content an item that is gone had
 * is a move (its vectors come from the cache; the old item's rows go with the deletions).
 */
export class MoveTracker {
  /** Old halves of the moves found so far: to delete after the writes. */
  readonly movedFrom: ItemState[] = [];
  private byHash = new Map<string, ItemState[]>();
  private readonly moved = new Set<string>();

  /** Sets the items that are gone (only synced ones with a known hash can be the old half of a move). */
  expect(gone: readonly ItemState[]): void {
    this.byHash = byHash(gone);
  }

  /** How a write counts: `updated` for a known item, a move when a gone item had its content, else `added`. */
  classify(w: PreparedWrite): WriteKind {
    if (w.prev && w.prev.contentHash !== "") return "updated";
    const twin = this.byHash.get(w.hash)?.pop();
    if (!twin) return "added";
    this.movedFrom.push(twin);
    this.moved.add(twin.key);
    return { movedFrom: twin };
  }

  isMoved(key: string): boolean {
    return this.moved.has(key);
  }
}

/** Zeroed run figures. */
export function emptyStats(): RunStats {
  return {
    added: 0,
    updated: 0,
    moved: 0,
    deleted: 0,
    unchanged: 0,
    failed: 0,
    held_deletions: 0,
    embedded_chunks: 0,
    reused_chunks: 0,
    listed: 0,
    repaired: 0,
  };
}

/**
 * The one write path of full runs, partial runs and pushed documents: read candidates, extract and chunk
 * changed content, embed what the vector cache lacks, and apply to the store in batches, each batch under
 * `exclusive` as: mark `pending` in the journal → replace rows (chunks before documents) → commit the items as
 * `synced`. Deletions (and the old halves of moves) go last, in batches, rows before journal entries.
 * Every write is keyed by stable ids, so a crash at any point is repaired by replaying: the next run finds
 * the `pending` items and writes them again, and nothing is duplicated.
 *
 * Contract: the planner decides *what* (candidates, deletions) and how each accepted write counts
 * (`classify`); the write path decides *how* (batching, vectors, ordering, journal protocol). One instance
 * serves one run; call {@link finish} before {@link remove}, and read {@link stats}, {@link failures} and
 * {@link warnings} at the end. Items whose texts the embedder rejects fail alone; a `pending` item that fails
 * has its partial rows removed by {@link finish}.
 */
export class WritePath {
  readonly stats: RunStats = emptyStats();
  readonly failures: ItemFailure[] = [];
  readonly warnings: string[] = [];
  /** Written, touched or deleted anything (the store binding is then recorded again). */
  wroteAny = false;

  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly exclusive: Exclusive;
  private readonly cacheUser: string | undefined;
  private store: DocumentStore | undefined;
  private inflight: Promise<void> | undefined;
  private storeWasEmpty: boolean | undefined;
  private batchNo = 0;
  private pending: PreparedWrite[] = [];
  private pendingChunks = 0;
  /** Vectors of the batch being written: its rows are not yet visible to cache lookups. */
  private inflightVectors = new Map<string, Float32Array>();
  /** Items left `pending` by an interrupted run that failed this time: their partial rows are removed. */
  private readonly purge: ItemState[] = [];
  private readonly purged = new Set<string>();

  constructor(
    private readonly deps: WriteDeps,
    private readonly settings: WriteSettings,
    private readonly classify: (w: PreparedWrite) => WriteKind,
  ) {
    this.log = deps.logger ?? silentLogger;
    this.now = deps.now ?? (() => new Date());
    this.exclusive = deps.exclusive ?? ((fn) => fn());
    this.cacheUser = settings.embeddingCacheScope === "global" ? undefined : settings.userId;
  }

  /** The store, opened on first use. */
  async openStore(): Promise<DocumentStore> {
    this.store ??= await this.deps.openStore();
    return this.store;
  }

  /** Records a failed item (journal, figures, log); a `pending` one is queued for purging. */
  fail(ref: SourceItemRef, prev: ItemState | undefined, failure: ItemFailure): void {
    const { userId, source } = this.settings;
    this.failures.push(failure);
    this.deps.journal.recordFailure(
      userId,
      source.name,
      ref.key,
      ref.fingerprint,
      failure.code,
      failure.error,
      failure.retryable,
    );
    this.log.warn({ key: ref.key, code: failure.code }, failure.error);
    if (prev?.status === "pending") this.purge.push(prev);
  }

  /** Name of the source this run writes. */
  get sourceName(): string {
    return this.settings.source.name;
  }

  /** Adds a warning to the run's report and the log. */
  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.warnings.push(message);
    this.log.warn({ source: this.settings.source.name, ...fields }, message);
  }

  /**
   * Reads, processes and writes `candidates` (in groups, `concurrency` at a time). Items whose content hash
   * did not change only have their fingerprint recorded (`unchanged`). Returns the candidates that vanished
   * since they were listed (the planner decides whether they are deletions).
   */
  async process(candidates: readonly Candidate[]): Promise<SourceItemRef[]> {
    const { source, signal, concurrency } = this.settings;
    const maxChunks = this.settings.writeBatchChunks ?? 1024;
    const group = Math.max(16, concurrency * 4);
    const vanished: SourceItemRef[] = [];
    let done = 0;
    for (let i = 0; i < candidates.length; i += group) {
      signal?.throwIfAborted();
      const prepared = await mapConcurrent(candidates.slice(i, i + group), concurrency, async (c) => {
        const prepare = () => prepareItem(source, this.deps.process, c, signal);
        const p = await (this.settings.gate ? this.settings.gate(prepare) : prepare());
        this.settings.onProgress?.({ done: ++done, total: candidates.length });
        return p;
      });
      const touches: ItemState[] = [];
      for (const p of prepared) {
        if (p.kind === "touch") touches.push(p.state);
        else if (p.kind === "failed") this.fail(p.ref, p.prev, p.failure);
        else if (p.kind === "gone") {
          this.log.debug({ key: p.ref.key }, "item vanished since the listing");
          vanished.push(p.ref);
        } else {
          for (const w of p.content.warnings ?? []) this.warn(`${p.ref.key}: ${w}`, { key: p.ref.key });
          const n = p.content.chunks.length;
          if (this.pending.length > 0 && this.pendingChunks + n > maxChunks) await this.flush();
          this.pending.push(p);
          this.pendingChunks += n;
          if (this.pending.length >= this.settings.writeBatchDocs || this.pendingChunks >= maxChunks) {
            await this.flush();
          }
        }
      }
      if (touches.length > 0) this.commit(touches);
      this.stats.unchanged += touches.length;
    }
    return vanished;
  }

  /** Writes what is still queued, waits for the last batch, and removes partial rows of failed `pending` items. */
  async finish(): Promise<void> {
    await this.flush();
    await this.settle();
    this.stats.failed = this.failures.length;
    if (this.purge.length === 0) return;
    const { userId, source } = this.settings;
    const s = await this.openStore();
    const purge = this.purge.splice(0);
    for (const p of purge) this.purged.add(p.key);
    await this.exclusive(async () => {
      await s.applyBatch({ upserts: [], replaceDocIds: [], deleteDocIds: purge.map((p) => p.docId) });
      this.deps.journal.commitItems(
        userId,
        source.name,
        [],
        purge.map((p) => p.key),
      );
    });
    this.wroteAny = true;
    this.warn(
      `removed the partial rows of ${purge.length} items of source "${source.name}" left by an interrupted run that failed again`,
      { purged: purge.length },
    );
  }

  /** Keys whose partial rows {@link finish} removed (not to be deleted again). */
  purgedKeys(): ReadonlySet<string> {
    return this.purged;
  }

  /** Deletes the rows of `items` and forgets them, in batches of `writeBatchDocs`, rows first. */
  async remove(items: readonly ItemState[]): Promise<void> {
    if (items.length === 0) return;
    const { userId, source, writeBatchDocs } = this.settings;
    const s = await this.openStore();
    for (let i = 0; i < items.length; i += writeBatchDocs) {
      const slice = items.slice(i, i + writeBatchDocs);
      await this.exclusive(async () => {
        await s.applyBatch({ upserts: [], replaceDocIds: [], deleteDocIds: slice.map((d) => d.docId) });
        this.settings.onStep?.("deletes-applied", i);
        this.deps.journal.commitItems(
          userId,
          source.name,
          [],
          slice.map((d) => d.key),
        );
      });
    }
    this.wroteAny = true;
  }

  /** Brings the store's lookup structures up to date after a run that wrote; a failure only costs speed. */
  async maintain(): Promise<void> {
    const st = this.store;
    if (!st?.maintain || !this.wroteAny) return;
    try {
      await this.exclusive(async () => st.maintain?.());
    } catch (err) {
      this.log.warn({ err: describeError(err) }, "index maintenance failed; lookups fall back to scans");
    }
  }

  /** Waits for a write in flight, ignoring its failure (used when the run is failing anyway). */
  async abandon(): Promise<void> {
    await this.inflight?.catch(() => undefined);
  }

  private commit(states: ItemState[]): void {
    const { userId, source } = this.settings;
    this.deps.journal.commitItems(userId, source.name, states, []);
    this.deps.journal.clearFailures(
      userId,
      source.name,
      states.map((st) => st.key),
    );
  }

  private async settle(): Promise<void> {
    const p = this.inflight;
    this.inflight = undefined;
    await p;
  }

  /**
   * Builds rows for the queued writes, embeds what the cache lacks (isolating items whose texts the embedder
   * rejects), and starts writing them; the write runs while the next items are prepared.
   */
  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    let writes = this.pending;
    this.pending = [];
    this.pendingChunks = 0;
    const b = this.batchNo++;
    const { userId, source, signal } = this.settings;
    const { journal, embedder } = this.deps;
    const s = await this.openStore();
    // A store that was empty when the run began holds no rows of this run's new documents, so their writes
    // need no replace-delete and no cache lookup. Otherwise every written document replaces rows it may have
    // (the journal can lag the store after an OS crash), and the cache is consulted. Asked at the first
    // write: a run whose candidates are all unchanged content never opens the store.
    this.storeWasEmpty ??= await s.isEmpty();
    let rows = buildRows(writes, {
      userId,
      source,
      ingestedAt: this.now().toISOString(),
      replaceAll: !this.storeWasEmpty,
    });
    const vectors = new Map<string, Float32Array>();
    let misses: string[] = [];
    for (const h of rows.texts.keys()) {
      const v = this.inflightVectors.get(h);
      if (v) vectors.set(h, v);
      else misses.push(h);
    }
    // Texts the store holds whose vectors are computed again, not read back (a `recomputable` embedder).
    let recomputed = 0;
    if (!this.storeWasEmpty && misses.length > 0) {
      if (embedder.recomputable) {
        const stored = await s.storedTextHashes(misses, this.cacheUser, rows.replaceDocIds);
        recomputed = misses.filter((h) => stored.has(h)).length;
      } else {
        for (const [h, v] of await s.lookupVectors(misses, this.cacheUser, rows.replaceDocIds))
          vectors.set(h, v);
        misses = misses.filter((h) => !vectors.has(h));
      }
    }
    const rejected = new Map<string, ItemFailure>();
    const embeddedNow = Math.max(
      0,
      (await embedMisses(embedder, rows, misses, vectors, rejected, signal)) - recomputed,
    );
    this.stats.embedded_chunks += embeddedNow;
    if (rejected.size > 0) {
      const bad = writes.filter((w) => rejected.has(w.ref.key));
      for (const w of bad) this.fail(w.ref, w.prev, rejected.get(w.ref.key) as ItemFailure);
      writes = writes.filter((w) => !rejected.has(w.ref.key));
      const keep = new Set(writes.map((w) => w.ref.key));
      const keptIds = new Set(rows.upserts.filter((u) => keep.has(u.doc.item_key)).map((u) => u.doc.doc_id));
      rows = {
        upserts: rows.upserts.filter((u) => keptIds.has(u.doc.doc_id)),
        replaceDocIds: rows.replaceDocIds.filter((id) => keptIds.has(id)),
        states: rows.states.filter((st) => keep.has(st.key)),
        texts: rows.texts,
      };
      if (writes.length === 0) return;
    }
    for (const w of writes) {
      const kind = this.classify(w);
      if (typeof kind === "object") this.stats.moved++;
      else this.stats[kind]++;
    }
    let written = 0;
    for (const u of rows.upserts) {
      for (const c of u.chunks) c.vector = vectors.get(c.text_hash) as Float32Array;
      written += u.chunks.length;
    }
    this.stats.reused_chunks += written - embeddedNow;
    await this.settle();
    this.inflightVectors = vectors;
    const batch = rows;
    this.wroteAny = true;
    this.inflight = this.exclusive(async () => {
      journal.markPending(
        userId,
        source.name,
        batch.upserts.map((u) => ({ key: u.doc.item_key, docId: u.doc.doc_id })),
      );
      this.settings.onStep?.("pending-marked", b);
      await s.applyBatch({ upserts: batch.upserts, replaceDocIds: batch.replaceDocIds, deleteDocIds: [] });
      this.settings.onStep?.("batch-applied", b);
      this.commit(batch.states);
      this.settings.onStep?.("batch-committed", b);
    });
    this.inflight.catch(() => undefined);
  }
}
