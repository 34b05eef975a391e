import { describeError, SyncError } from "../errors/sync-error.js";
import { buildRows } from "./build-rows.js";
import type { ContentProcessor } from "./content-processor.js";
import { detectChanges } from "./detect-changes.js";
import type { DocumentStore } from "./document-store.js";
import type { Embedder } from "./embedder.js";
import type { FailureState, ItemState, Journal, RunStats } from "./journal.js";
import { type Logger, silentLogger } from "./logger.js";
import { mapConcurrent } from "./map-concurrent.js";
import { type ItemFailure, type PreparedWrite, prepareItem } from "./prepare-item.js";
import type { Source, SourceItemRef, SourceListing } from "./source.js";

export type { ItemFailure } from "./prepare-item.js";

/** Collaborators of {@link runSync}. The store is opened lazily: a run with nothing to write never opens it. */
export interface SyncDeps {
  journal: Journal;
  openStore: () => Promise<DocumentStore>;
  embedder: Embedder;
  process: ContentProcessor;
  logger?: Logger;
  now?: () => Date;
}

/** Points of a run reported to {@link SyncOptions.onStep} (tests use them to crash a run on purpose). */
export type SyncStep = "listed" | "pending-marked" | "batch-applied" | "batch-committed" | "deletes-applied";

/** Options of one run over one source. */
export interface SyncOptions {
  userId: string;
  source: Source;
  /** A write batch closes at this many documents… */
  writeBatchDocs: number;
  /** …or at this many chunks (default 1024), whichever comes first: bounds memory and commit size. */
  writeBatchChunks?: number;
  /** Items fetched and processed at once. */
  concurrency: number;
  /** Share of a source's documents above which deletions are held. */
  massDeleteThreshold: number;
  allowMassDelete?: boolean;
  /** A failed item whose fingerprint did not move is retried until it has failed this many times. */
  maxRetryAttempts: number;
  signal?: AbortSignal;
  onProgress?: (progress: { done: number; total: number }) => void;
  onStep?: (step: SyncStep, batch: number) => void;
}

/** Outcome of {@link runSync}. */
export interface SyncResult extends RunStats {
  run_id: number;
  duration_ms: number;
  /** Failed items that reached the attempt limit and were not retried this run. */
  given_up: number;
  failures: ItemFailure[];
  warnings: string[];
}

/**
 * Brings the store in step with one source for one user, incrementally:
 * list → compare fingerprints with the journal → read and hash only moved fingerprints → extract, chunk and
 * embed only changed content (vectors reused by chunk text hash) → apply in batches → delete what a
 * successful listing no longer has, unless that is more than `massDeleteThreshold` of the source.
 * A crash at any point is recovered by the next run: items are marked `pending` before writes and written
 * under stable ids, so a replay neither duplicates nor loses a document.
 * Throws `SYNC_E_SOURCE_UNAVAILABLE` (nothing deleted) when the listing fails.
 */
export async function runSync(deps: SyncDeps, options: SyncOptions): Promise<SyncResult> {
  const { journal, embedder } = deps;
  const log = deps.logger ?? silentLogger;
  const now = deps.now ?? (() => new Date());
  const { userId, source, signal } = options;
  const name = source.name;
  const t0 = performance.now();
  const runId = journal.startRun(userId, name);
  const stats: RunStats = {
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
  };
  const failures: ItemFailure[] = [];
  const warnings: string[] = [];
  let store: DocumentStore | undefined;
  let inflight: Promise<void> | undefined;
  const settle = async (): Promise<void> => {
    const p = inflight;
    inflight = undefined;
    await p;
  };
  const commit = (states: ItemState[]): void => {
    journal.commitItems(userId, name, states, []);
    journal.clearFailures(
      userId,
      name,
      states.map((st) => st.key),
    );
  };
  const getStore = async (): Promise<DocumentStore> => {
    store ??= await deps.openStore();
    return store;
  };

  try {
    let listing: SourceItemRef[];
    let listResult: SourceListing;
    try {
      listResult = await source.list(signal);
      listing = listResult.items;
    } catch (err) {
      const msg = `${source.type} source "${name}": listing failed, nothing deleted: ${describeError(err)}`;
      journal.setSourceHealth(userId, name, false, msg);
      throw new SyncError("SYNC_E_SOURCE_UNAVAILABLE", msg, { cause: err });
    }
    journal.setSourceHealth(userId, name, true, null);
    stats.listed = listing.length;
    options.onStep?.("listed", 0);

    let known = journal.listItems(userId, name);
    if (known.size === 0 && listing.length > 0)
      known = await rebuildJournal(journal, await getStore(), userId, name);
    const failed = new Map<string, FailureState>();
    for (const f of journal.listFailures(userId, name)) failed.set(f.key, f);
    const changes = detectChanges(listing, known, failed, options.maxRetryAttempts);
    const { candidates, gone, goneByHash, listed } = changes;
    stats.unchanged += changes.unchanged;
    const givenUp = changes.givenUp;
    const movedFrom: ItemState[] = [];

    // A store that was empty when the run began holds no rows of this run's new documents, so their
    // writes need no replace-delete and no cache lookup. Otherwise every written document replaces rows it
    // may have (the journal can lag the store after an OS crash), and the cache is consulted.
    const storeWasEmpty = candidates.length > 0 && (await getStore().then((st) => st.isEmpty()));
    let batchNo = 0;
    let pending: PreparedWrite[] = [];
    let pendingChunks = 0;
    // Vectors of the batch being written: its rows are not yet visible to cache lookups.
    let inflightVectors = new Map<string, Float32Array>();

    // Builds rows for the pending writes, embeds what the cache lacks, and starts writing them; the write
    // runs while the next items are read, parsed and embedded.
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const writes = pending;
      pending = [];
      pendingChunks = 0;
      const b = batchNo++;
      const rows = buildRows(writes, {
        userId,
        source,
        ingestedAt: now().toISOString(),
        replaceAll: !storeWasEmpty,
      });
      for (const w of writes) {
        if (w.prev && w.prev.contentHash !== "") stats.updated++;
        else {
          const twin = goneByHash.get(w.hash)?.pop();
          if (twin) {
            movedFrom.push(twin);
            stats.moved++;
          } else stats.added++;
        }
      }
      const s = await getStore();
      const vectors = new Map<string, Float32Array>();
      let misses: string[] = [];
      for (const h of rows.texts.keys()) {
        const v = inflightVectors.get(h);
        if (v) vectors.set(h, v);
        else misses.push(h);
      }
      if (!storeWasEmpty && misses.length > 0) {
        for (const [h, v] of await s.lookupVectors(misses)) vectors.set(h, v);
        misses = misses.filter((h) => !vectors.has(h));
      }
      if (misses.length > 0) {
        const embedded = await embedder.embed(
          misses.map((h) => rows.texts.get(h) as string),
          signal,
        );
        for (const [i, h] of misses.entries()) vectors.set(h, embedded[i] as Float32Array);
      }
      let written = 0;
      for (const u of rows.upserts) {
        for (const c of u.chunks) c.vector = vectors.get(c.text_hash) as Float32Array;
        written += u.chunks.length;
      }
      stats.embedded_chunks += misses.length;
      stats.reused_chunks += written - misses.length;
      await settle();
      inflightVectors = vectors;
      journal.markPending(
        userId,
        name,
        rows.upserts.map((u) => ({ key: u.doc.item_key, docId: u.doc.doc_id })),
      );
      options.onStep?.("pending-marked", b);
      inflight = (async () => {
        await s.applyBatch({ upserts: rows.upserts, replaceDocIds: rows.replaceDocIds, deleteDocIds: [] });
        options.onStep?.("batch-applied", b);
        commit(rows.states);
        options.onStep?.("batch-committed", b);
      })();
      inflight.catch(() => undefined);
    };

    const maxChunks = options.writeBatchChunks ?? 1024;
    const group = Math.max(16, options.concurrency * 4);
    let done = 0;
    for (let i = 0; i < candidates.length; i += group) {
      signal?.throwIfAborted();
      const prepared = await mapConcurrent(candidates.slice(i, i + group), options.concurrency, async (c) => {
        const p = await prepareItem(source, deps.process, c, signal);
        options.onProgress?.({ done: ++done, total: candidates.length });
        return p;
      });
      const touches: ItemState[] = [];
      for (const p of prepared) {
        if (p.kind === "touch") touches.push(p.state);
        else if (p.kind === "failed") {
          failures.push(p.failure);
          journal.recordFailure(userId, name, p.ref.key, p.ref.fingerprint, p.failure.code, p.failure.error);
          log.warn({ key: p.ref.key, code: p.failure.code }, p.failure.error);
        } else {
          pending.push(p);
          pendingChunks += p.content.chunks.length;
          if (pending.length >= options.writeBatchDocs || pendingChunks >= maxChunks) await flush();
        }
      }
      if (touches.length > 0) commit(touches);
      stats.unchanged += touches.length;
    }
    await flush();
    await settle();
    stats.failed = failures.length;

    // Deletions last: moves need the old rows until their new copies are written.
    const moved = new Set(movedFrom.map((m) => m.key));
    let deletes = gone.filter((g) => !moved.has(g.key));
    if (deletes.length > 0 && !options.allowMassDelete) {
      const share = deletes.length / known.size;
      if (listing.length === 0 || share > options.massDeleteThreshold) {
        stats.held_deletions = deletes.length;
        const msg =
          `held ${deletes.length} deletions of ${known.size} documents in source "${name}" ` +
          `(${Math.round(share * 100)}% > ${Math.round(options.massDeleteThreshold * 100)}%` +
          `${listing.length === 0 ? ", listing was empty" : ""}); rerun with --allow-mass-delete to apply them`;
        warnings.push(msg);
        log.warn({ source: name, held: deletes.length }, msg);
        deletes = [];
      }
    }
    const toDelete = [...movedFrom, ...deletes];
    if (toDelete.length > 0) {
      const s = await getStore();
      for (let i = 0; i < toDelete.length; i += options.writeBatchDocs) {
        const slice = toDelete.slice(i, i + options.writeBatchDocs);
        await s.applyBatch({ upserts: [], replaceDocIds: [], deleteDocIds: slice.map((d) => d.docId) });
        options.onStep?.("deletes-applied", i);
        journal.commitItems(
          userId,
          name,
          [],
          slice.map((d) => d.key),
        );
      }
      stats.deleted = deletes.length;
    }
    if (store && batchNo + toDelete.length > 0 && store.maintain) {
      try {
        await store.maintain();
      } catch (err) {
        log.warn({ err: describeError(err) }, "index maintenance failed; lookups fall back to scans");
      }
    }
    const staleFailures = [...failed.keys()].filter((k) => !listed.has(k));
    if (staleFailures.length > 0) journal.clearFailures(userId, name, staleFailures);

    const status = failures.length > 0 ? "partial" : "succeeded";
    journal.finishRun(runId, status, stats, null);
    const durationMs = Math.round(performance.now() - t0);
    log.info({ user: userId, source: name, run: runId, ...stats, duration_ms: durationMs }, "sync finished");
    return {
      ...stats,
      run_id: runId,
      duration_ms: durationMs,
      given_up: givenUp,
      failures,
      warnings,
    };
  } catch (err) {
    await inflight?.catch(() => undefined);
    journal.finishRun(runId, "failed", stats, describeError(err));
    throw err;
  }
}

/** Journal lost but documents present: re-learn items from the store so a rescan hashes and embeds nothing. */
async function rebuildJournal(
  journal: Journal,
  store: DocumentStore,
  userId: string,
  name: string,
): Promise<Map<string, ItemState>> {
  const rows = await store.listDocuments(userId, name);
  if (rows.length === 0) return new Map();
  journal.commitItems(
    userId,
    name,
    rows.map((r) => ({
      key: r.item_key,
      docId: r.doc_id,
      fingerprint: "",
      contentHash: r.content_hash,
      status: "synced" as const,
    })),
    [],
  );
  return journal.listItems(userId, name);
}
