import { describeError, isSyncError, SyncError } from "../errors/sync-error.js";
import type { ContentProcessor, PreparedContent } from "./content-processor.js";
import type { ApplyBatch, ChunkRow, DocumentRow, DocumentStore } from "./document-store.js";
import type { Embedder } from "./embedder.js";
import { hashContent, makeChunkId, makeDocId } from "./ids.js";
import type { FailureState, ItemState, Journal, RunStats } from "./journal.js";
import { type Logger, silentLogger } from "./logger.js";
import { mapConcurrent } from "./map-concurrent.js";
import type { Source, SourceItemRef } from "./source.js";

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
  /** Documents per write batch (one batch is a handful of LanceDB commits). */
  writeBatchDocs: number;
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

/** One item that failed in this run. */
export interface ItemFailure {
  key: string;
  code: string;
  error: string;
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

interface Candidate {
  ref: SourceItemRef;
  prev: ItemState | undefined;
}

type Prepared =
  | { kind: "touch"; state: ItemState }
  | {
      kind: "write";
      ref: SourceItemRef;
      prev: ItemState | undefined;
      fingerprint: string;
      hash: string;
      size: number;
      content: PreparedContent;
    }
  | { kind: "failed"; ref: SourceItemRef; failure: ItemFailure };

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
  let givenUp = 0;
  let store: DocumentStore | undefined;
  const getStore = async (): Promise<DocumentStore> => {
    store ??= await deps.openStore();
    return store;
  };

  try {
    let listing: SourceItemRef[];
    try {
      listing = await source.list(signal);
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

    const listed = new Set<string>();
    const candidates: Candidate[] = [];
    for (const ref of listing) {
      listed.add(ref.key);
      const prev = known.get(ref.key);
      const failure = failed.get(ref.key);
      if (
        failure &&
        failure.fingerprint === ref.fingerprint &&
        failure.attempts >= options.maxRetryAttempts
      ) {
        givenUp++;
        continue;
      }
      if (!prev || prev.status === "pending" || prev.fingerprint !== ref.fingerprint || failure) {
        candidates.push({ ref, prev });
      } else stats.unchanged++;
    }
    const gone = [...known.values()].filter((s) => !listed.has(s.key));
    const goneByHash = new Map<string, ItemState[]>();
    for (const g of gone) {
      if (g.contentHash === "" || g.status !== "synced") continue;
      const list = goneByHash.get(g.contentHash) ?? [];
      list.push(g);
      goneByHash.set(g.contentHash, list);
    }
    const movedFrom: ItemState[] = [];

    let cacheable = candidates.length > 0 && (await getStore().then((s) => s.countChunks())) > 0;
    const total = candidates.length;
    let done = 0;
    for (let b = 0; b * options.writeBatchDocs < candidates.length; b++) {
      signal?.throwIfAborted();
      const slice = candidates.slice(b * options.writeBatchDocs, (b + 1) * options.writeBatchDocs);
      const prepared = await mapConcurrent(slice, options.concurrency, async (c) => {
        const p = await prepareItem(deps, source, c, signal);
        done++;
        options.onProgress?.({ done, total });
        return p;
      });
      const writes: Extract<Prepared, { kind: "write" }>[] = [];
      const touches: ItemState[] = [];
      for (const p of prepared) {
        if (p.kind === "touch") touches.push(p.state);
        else if (p.kind === "write") writes.push(p);
        else {
          failures.push(p.failure);
          journal.recordFailure(userId, name, p.ref.key, p.ref.fingerprint, p.failure.code, p.failure.error);
          log.warn({ key: p.ref.key, code: p.failure.code }, p.failure.error);
        }
      }
      stats.unchanged += touches.length;

      const upserts: ApplyBatch["upserts"][number][] = [];
      const replaceDocIds: string[] = [];
      const states: ItemState[] = [...touches];
      const chunkTexts = new Map<string, string>();
      const ingestedAt = now().toISOString();
      for (const w of writes) {
        const docId = makeDocId(userId, name, w.ref.key);
        if (w.prev) {
          replaceDocIds.push(docId);
          stats.updated++;
        } else {
          const twin = goneByHash.get(w.hash)?.pop();
          if (twin) {
            movedFrom.push(twin);
            stats.moved++;
          } else stats.added++;
        }
        const doc: DocumentRow = {
          doc_id: docId,
          user_id: userId,
          source_type: source.type,
          source_id: name,
          item_key: w.ref.key,
          title: w.content.title,
          mime_type: w.content.mimeType,
          size_bytes: w.size,
          content_hash: w.hash,
          chunk_count: w.content.chunks.length,
          modified_at: w.ref.modifiedAt ?? ingestedAt,
          ingested_at: ingestedAt,
          metadata: JSON.stringify(w.content.metadata),
        };
        const chunks: ChunkRow[] = w.content.chunks.map((c) => {
          const textHash = hashContent(c.text);
          chunkTexts.set(textHash, c.text);
          return {
            chunk_id: makeChunkId(docId, c.ordinal),
            doc_id: docId,
            user_id: userId,
            ordinal: c.ordinal,
            text: c.text,
            text_hash: textHash,
            start: c.start,
            end: c.end,
            vector: EMPTY,
            title: w.content.title,
            source_id: name,
            item_key: w.ref.key,
          };
        });
        upserts.push({ doc, chunks });
        states.push({
          key: w.ref.key,
          docId,
          fingerprint: w.fingerprint,
          contentHash: w.hash,
          status: "synced",
        });
      }

      if (upserts.length > 0) {
        const s = await getStore();
        const vectors = cacheable
          ? await s.lookupVectors([...chunkTexts.keys()])
          : new Map<string, Float32Array>();
        const missing = [...chunkTexts.keys()].filter((h) => !vectors.has(h));
        if (missing.length > 0) {
          const embedded = await embedder.embed(
            missing.map((h) => chunkTexts.get(h) as string),
            signal,
          );
          for (const [i, h] of missing.entries()) vectors.set(h, embedded[i] as Float32Array);
        }
        stats.embedded_chunks += missing.length;
        for (const u of upserts) {
          for (const c of u.chunks) {
            c.vector = vectors.get(c.text_hash) as Float32Array;
          }
          stats.reused_chunks += u.chunks.length;
        }
        journal.markPending(
          userId,
          name,
          upserts.map((u) => ({ key: u.doc.item_key, docId: u.doc.doc_id })),
        );
        options.onStep?.("pending-marked", b);
        await s.applyBatch({ upserts, replaceDocIds, deleteDocIds: [] });
        options.onStep?.("batch-applied", b);
        cacheable = true;
      }
      journal.commitItems(userId, name, states, []);
      journal.clearFailures(
        userId,
        name,
        states.map((s) => s.key),
      );
      options.onStep?.("batch-committed", b);
    }
    stats.reused_chunks -= stats.embedded_chunks;
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
    const staleFailures = [...failed.keys()].filter((k) => !listed.has(k));
    if (staleFailures.length > 0) journal.clearFailures(userId, name, staleFailures);

    const status = failures.length > 0 ? "partial" : "succeeded";
    journal.finishRun(runId, status, stats, null);
    return {
      ...stats,
      run_id: runId,
      duration_ms: Math.round(performance.now() - t0),
      given_up: givenUp,
      failures,
      warnings,
    };
  } catch (err) {
    journal.finishRun(runId, "failed", stats, describeError(err));
    throw err;
  }
}

const EMPTY = new Float32Array(0);

async function prepareItem(
  deps: SyncDeps,
  source: Source,
  c: Candidate,
  signal: AbortSignal | undefined,
): Promise<Prepared> {
  try {
    const fetched = await source.fetch(c.ref, signal);
    const hash = hashContent(fetched.bytes);
    const fingerprint = fetched.fingerprint ?? c.ref.fingerprint;
    if (c.prev && c.prev.status === "synced" && c.prev.contentHash === hash) {
      return { kind: "touch", state: { ...c.prev, fingerprint } };
    }
    const content = await deps.process(fetched, signal);
    return {
      kind: "write",
      ref: c.ref,
      prev: c.prev,
      fingerprint,
      hash,
      size: fetched.bytes.length,
      content,
    };
  } catch (err) {
    if (signal?.aborted) throw err;
    const code = isSyncError(err) ? err.code : "SYNC_E_INTERNAL";
    const error = isSyncError(err) ? describeError(err) : `${c.ref.key}: ${describeError(err)}`;
    return { kind: "failed", ref: c.ref, failure: { key: c.ref.key, code, error } };
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
