import { describeError, SyncError } from "../errors/sync-error.js";
import { buildRows } from "./build-rows.js";
import type { ContentProcessor } from "./content-processor.js";
import { detectChanges, underPrefix } from "./detect-changes.js";
import type { DocumentStore } from "./document-store.js";
import { embedMisses } from "./embed-misses.js";
import type { Embedder } from "./embedder.js";
import type { FailureState, ItemState, Journal, RunStats } from "./journal.js";
import { type Logger, silentLogger } from "./logger.js";
import { mapConcurrent } from "./map-concurrent.js";
import { type ItemFailure, type PreparedWrite, prepareItem } from "./prepare-item.js";
import { rebuildJournal, verifyAgainstStore } from "./reconcile-journal.js";
import type { Source, SourceItemRef, SourceListing } from "./source.js";

export type { ItemFailure } from "./prepare-item.js";

/** Runs one store write exclusively (see {@link SyncDeps.exclusive}). */
export type Exclusive = <T>(fn: () => Promise<T>) => Promise<T>;

/** Collaborators of {@link runSync}. The store is opened lazily: a run with nothing to write never opens it. */
export interface SyncDeps {
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

/** Points of a run reported to {@link SyncOptions.onStep} (tests use them to crash a run on purpose). */
export type SyncStep = "listed" | "pending-marked" | "batch-applied" | "batch-committed" | "deletes-applied";

/** Options of one run over one source. */
export interface SyncOptions {
  userId: string;
  source: Source;
  /** A write batch closes at this many documents… */
  writeBatchDocs: number;
  /**
   * …or before it would pass this many chunks (default 1024), whichever comes first: bounds memory and
   * commit size. A single larger document is written alone, its chunks in commits of at most this many.
   */
  writeBatchChunks?: number;
  /** Items fetched and processed at once. */
  concurrency: number;
  /** Share of a source's documents above which deletions are held. */
  massDeleteThreshold: number;
  allowMassDelete?: boolean;
  /**
   * Treat a root that lists no item as really empty (its documents become deletions, still subject to the
   * mass-delete guard). Default false: such a root — an unmounted mount point looks like this — makes the
   * source unavailable when documents were synced from it, whatever `allowMassDelete` says.
   */
  allowEmptyRoots?: boolean;
  /** A failed item whose fingerprint did not move is retried until it has failed this many times. */
  maxRetryAttempts: number;
  /**
   * The store's current epoch. A source last verified at an older epoch (the store was found missing,
   * replaced or behind since) has its items checked against the store first; those whose rows are missing
   * or differ are re-processed (cached vectors reused where they exist).
   */
  storeEpoch?: number;
  /** `user` (default): cached vectors are reused only from this user's chunks; `global`: from anyone's. */
  embeddingCacheScope?: "user" | "global";
  /**
   * Items modified less than this many ms before the previous run's start are re-read even when their
   * fingerprint did not move (default: 2000 for whole-second timestamps, 100 otherwise).
   */
  racyWindowMs?: number;
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

/** At most this many listing warnings are reported one by one; the rest are counted. */
const MAX_LISTED_WARNINGS = 20;

/**
 * Brings the store in step with one source for one user, incrementally:
 * list → compare fingerprints with the journal → read and hash only moved fingerprints → extract, chunk and
 * embed only changed content (vectors reused by chunk text hash) → apply in batches → delete what a
 * successful listing no longer has, unless that is more than `massDeleteThreshold` of the source.
 * A crash at any point is recovered by the next run: items are marked `pending` before writes and written
 * under stable ids, so a replay neither duplicates nor loses a document. An item whose texts the embedder
 * rejects fails alone (found by bisecting the batch); a `pending` item that fails has its partial rows
 * removed. Throws `SYNC_E_SOURCE_UNAVAILABLE` (nothing deleted) when the listing fails or a root that held
 * documents lists empty.
 */
export async function runSync(deps: SyncDeps, options: SyncOptions): Promise<SyncResult> {
  const { journal, embedder } = deps;
  const log = deps.logger ?? silentLogger;
  const now = deps.now ?? (() => new Date());
  const exclusive: Exclusive = deps.exclusive ?? ((fn) => fn());
  const { userId, source, signal } = options;
  const name = source.name;
  const cacheUser = options.embeddingCacheScope === "global" ? undefined : userId;
  const t0 = performance.now();
  const prevRunStart = journal.lastRunStart(userId, name);
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
    repaired: 0,
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
  // Items left `pending` by an interrupted run that failed this time: their partial rows are removed.
  const purge: ItemState[] = [];
  const fail = (ref: SourceItemRef, prev: ItemState | undefined, failure: ItemFailure): void => {
    failures.push(failure);
    journal.recordFailure(userId, name, ref.key, ref.fingerprint, failure.code, failure.error);
    log.warn({ key: ref.key, code: failure.code }, failure.error);
    if (prev?.status === "pending") purge.push(prev);
  };

  try {
    let listResult: SourceListing;
    try {
      listResult = await source.list(signal);
    } catch (err) {
      throw unavailable(
        journal,
        userId,
        source,
        `listing failed, nothing deleted: ${describeError(err)}`,
        err,
      );
    }
    const listing = uniqueKeys(listResult.items, warnings, log, name);
    addListingWarnings(listResult.warnings, warnings, log, name);
    stats.listed = listing.length;

    let known = journal.listItems(userId, name);
    if (known.size === 0 && listing.length > 0)
      known = await rebuildJournal(journal, await getStore(), userId, name);
    for (const root of options.allowEmptyRoots ? [] : listResult.emptyRoots) {
      const held = [...known.keys()].filter((k) => underPrefix(k, [root])).length;
      if (held > 0) {
        throw unavailable(
          journal,
          userId,
          source,
          `root ${root} lists no item but ${held} documents were synced from it (not mounted?); nothing ` +
            "deleted (if it really is empty now, rerun with --allow-empty-root --allow-mass-delete)",
        );
      }
    }
    journal.setSourceHealth(userId, name, true, null);
    options.onStep?.("listed", 0);

    const repairing = new Set<string>();
    if (options.storeEpoch !== undefined && known.size > 0) {
      const verifiedAt = journal.getSource(userId, name)?.storeEpoch ?? -1;
      if (verifiedAt < options.storeEpoch) {
        const found = await verifyAgainstStore(journal, await getStore(), userId, name, known);
        for (const key of found.demoted) repairing.add(key);
        if (found.adopted > 0) {
          const msg = `the store holds ${found.adopted} documents of source "${name}" the journal did not know (an older copy of the store?): they are checked against the listing`;
          warnings.push(msg);
          log.warn({ source: name, adopted: found.adopted }, msg);
        }
        if (repairing.size > 0 || found.adopted > 0) known = journal.listItems(userId, name);
        if (repairing.size > 0) {
          const msg =
            `the store lacks or differs from the rows of ${repairing.size} documents the journal recorded as ` +
            `synced in source "${name}" (store missing, replaced or behind): they are re-processed`;
          warnings.push(msg);
          log.warn({ source: name, repairing: repairing.size }, msg);
        }
      }
    }
    if (options.storeEpoch !== undefined) journal.markSourceVerified(userId, name, options.storeEpoch);

    const failed = new Map<string, FailureState>();
    for (const f of journal.listFailures(userId, name)) failed.set(f.key, f);
    const changes = detectChanges(listing, known, failed, {
      maxRetryAttempts: options.maxRetryAttempts,
      prevRunStartMs: prevRunStart === undefined ? undefined : Date.parse(prevRunStart),
      racyWindowMs: options.racyWindowMs,
      incompletePrefixes: listResult.incompletePrefixes,
    });
    const { candidates, gone, goneByHash, listed } = changes;
    stats.unchanged += changes.unchanged;
    const givenUp = changes.givenUp;
    const movedFrom: ItemState[] = [];

    // A store that was empty when the run began holds no rows of this run's new documents, so their
    // writes need no replace-delete and no cache lookup. Otherwise every written document replaces rows it
    // may have (the journal can lag the store after an OS crash), and the cache is consulted.
    // Asked at the first write, not up front: a run whose candidates are all unchanged content (touched or
    // racily-clean files) never opens the store.
    let storeWasEmpty: boolean | undefined;
    let batchNo = 0;
    let pending: PreparedWrite[] = [];
    let pendingChunks = 0;
    // Vectors of the batch being written: its rows are not yet visible to cache lookups.
    let inflightVectors = new Map<string, Float32Array>();

    // Builds rows for the pending writes, embeds what the cache lacks (isolating items whose texts the
    // embedder rejects), and starts writing them; the write runs while the next items are prepared.
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      let writes = pending;
      pending = [];
      pendingChunks = 0;
      const b = batchNo++;
      const s = await getStore();
      storeWasEmpty ??= await s.isEmpty();
      let rows = buildRows(writes, {
        userId,
        source,
        ingestedAt: now().toISOString(),
        replaceAll: !storeWasEmpty,
      });
      const vectors = new Map<string, Float32Array>();
      let misses: string[] = [];
      for (const h of rows.texts.keys()) {
        const v = inflightVectors.get(h);
        if (v) vectors.set(h, v);
        else misses.push(h);
      }
      if (!storeWasEmpty && misses.length > 0) {
        for (const [h, v] of await s.lookupVectors(misses, cacheUser)) vectors.set(h, v);
        misses = misses.filter((h) => !vectors.has(h));
      }
      const rejected = new Map<string, ItemFailure>();
      const embeddedNow = await embedMisses(embedder, rows, misses, vectors, rejected, signal);
      stats.embedded_chunks += embeddedNow;
      if (rejected.size > 0) {
        const bad = writes.filter((w) => rejected.has(w.ref.key));
        for (const w of bad) fail(w.ref, w.prev, rejected.get(w.ref.key) as ItemFailure);
        writes = writes.filter((w) => !rejected.has(w.ref.key));
        const keep = new Set(writes.map((w) => w.ref.key));
        const keptIds = new Set(
          rows.upserts.filter((u) => keep.has(u.doc.item_key)).map((u) => u.doc.doc_id),
        );
        rows = {
          upserts: rows.upserts.filter((u) => keptIds.has(u.doc.doc_id)),
          replaceDocIds: rows.replaceDocIds.filter((id) => keptIds.has(id)),
          states: rows.states.filter((st) => keep.has(st.key)),
          texts: rows.texts,
        };
        if (writes.length === 0) return;
      }
      for (const w of writes) {
        if (repairing.has(w.ref.key)) stats.repaired++;
        else if (w.prev && w.prev.contentHash !== "") stats.updated++;
        else {
          const twin = goneByHash.get(w.hash)?.pop();
          if (twin) {
            movedFrom.push(twin);
            stats.moved++;
          } else stats.added++;
        }
      }
      let written = 0;
      for (const u of rows.upserts) {
        for (const c of u.chunks) c.vector = vectors.get(c.text_hash) as Float32Array;
        written += u.chunks.length;
      }
      stats.reused_chunks += written - embeddedNow;
      await settle();
      inflightVectors = vectors;
      const batch = rows;
      inflight = exclusive(async () => {
        journal.markPending(
          userId,
          name,
          batch.upserts.map((u) => ({ key: u.doc.item_key, docId: u.doc.doc_id })),
        );
        options.onStep?.("pending-marked", b);
        await s.applyBatch({ upserts: batch.upserts, replaceDocIds: batch.replaceDocIds, deleteDocIds: [] });
        options.onStep?.("batch-applied", b);
        commit(batch.states);
        options.onStep?.("batch-committed", b);
      });
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
        else if (p.kind === "failed") fail(p.ref, p.prev, p.failure);
        else if (p.kind === "gone") log.debug({ key: p.ref.key }, "item vanished since the listing");
        else {
          for (const w of p.content.warnings ?? []) {
            warnings.push(`${p.ref.key}: ${w}`);
            log.warn({ key: p.ref.key }, w);
          }
          const n = p.content.chunks.length;
          if (pending.length > 0 && pendingChunks + n > maxChunks) await flush();
          pending.push(p);
          pendingChunks += n;
          if (pending.length >= options.writeBatchDocs || pendingChunks >= maxChunks) await flush();
        }
      }
      if (touches.length > 0) commit(touches);
      stats.unchanged += touches.length;
    }
    await flush();
    await settle();
    stats.failed = failures.length;

    if (purge.length > 0) {
      const s = await getStore();
      await exclusive(async () => {
        await s.applyBatch({ upserts: [], replaceDocIds: [], deleteDocIds: purge.map((p) => p.docId) });
        journal.commitItems(
          userId,
          name,
          [],
          purge.map((p) => p.key),
        );
      });
      const msg = `removed the partial rows of ${purge.length} items of source "${name}" left by an interrupted run that failed again`;
      warnings.push(msg);
      log.warn({ source: name, purged: purge.length }, msg);
    }

    // Deletions last: moves need the old rows until their new copies are written.
    const moved = new Set(movedFrom.map((m) => m.key));
    const purged = new Set(purge.map((p) => p.key));
    let deletes = gone.filter((g) => !moved.has(g.key) && !purged.has(g.key));
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
        await exclusive(async () => {
          await s.applyBatch({ upserts: [], replaceDocIds: [], deleteDocIds: slice.map((d) => d.docId) });
          options.onStep?.("deletes-applied", i);
          journal.commitItems(
            userId,
            name,
            [],
            slice.map((d) => d.key),
          );
        });
      }
      stats.deleted = deletes.length;
    }
    if (store && batchNo + toDelete.length > 0 && store.maintain) {
      const st = store;
      try {
        await exclusive(async () => st.maintain?.());
      } catch (err) {
        log.warn({ err: describeError(err) }, "index maintenance failed; lookups fall back to scans");
      }
    }
    // Failures of items the listing could not see (under an incomplete prefix) are kept, like their items.
    const staleFailures = [...failed.keys()].filter(
      (k) => !listed.has(k) && !underPrefix(k, listResult.incompletePrefixes),
    );
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

function unavailable(
  journal: Journal,
  userId: string,
  source: Source,
  why: string,
  cause?: unknown,
): SyncError {
  const msg = `${source.type} source "${source.name}": ${why}`;
  journal.setSourceHealth(userId, source.name, false, msg);
  return new SyncError("SYNC_E_SOURCE_UNAVAILABLE", msg, cause === undefined ? undefined : { cause });
}

/** Drops repeated keys of a listing (API-backed sources can page one item twice), with a warning. */
function uniqueKeys(
  items: readonly SourceItemRef[],
  warnings: string[],
  log: Logger,
  name: string,
): SourceItemRef[] {
  const seen = new Set<string>();
  const out: SourceItemRef[] = [];
  let repeats = 0;
  for (const ref of items) {
    if (seen.has(ref.key)) repeats++;
    else {
      seen.add(ref.key);
      out.push(ref);
    }
  }
  if (repeats > 0) {
    const msg = `source "${name}" listed ${repeats} keys more than once; the repeats were dropped`;
    warnings.push(msg);
    log.warn({ source: name, repeats }, msg);
  }
  return out;
}

function addListingWarnings(found: readonly string[], warnings: string[], log: Logger, name: string): void {
  for (const w of found.slice(0, MAX_LISTED_WARNINGS)) {
    warnings.push(w);
    log.warn({ source: name }, w);
  }
  if (found.length > MAX_LISTED_WARNINGS) {
    const msg = `source "${name}": ${found.length - MAX_LISTED_WARNINGS} more listing warnings (see the log)`;
    warnings.push(msg);
    for (const w of found.slice(MAX_LISTED_WARNINGS)) log.debug({ source: name }, w);
  }
}
