import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Config } from "../config/load-config.js";
import type { ContentProcessor } from "../core/content-processor.js";
import type { DocumentStore } from "../core/document-store.js";
import type { Embedder } from "../core/embedder.js";
import type { Journal, SourceRecord } from "../core/journal.js";
import type { Logger } from "../core/logger.js";
import type { Source } from "../core/source.js";
import { isSyncError } from "../errors/sync-error.js";
import { createEmbedder } from "../pipeline/embed/create-embedder.js";
import { createContentProcessor } from "../pipeline/process-content.js";
import { defaultRegistry } from "../sources/default-registry.js";
import type { SourceRegistry } from "../sources/registry.js";
import { BlobStore } from "../sources/upload/blob-store.js";
import { checkManifestFile, checkNewestManifest } from "../storage/lance-files.js";
import type { LanceDbStoreOptions } from "../storage/lancedb-store.js";
import { WRITER_LOCK, withLock } from "../storage/lease-lock.js";
import { probeStore } from "../storage/probe-store.js";
import { openJournal } from "../storage/sqlite-journal.js";
import { bindingHolds, compareStore, readBinding, recordBinding, type StoreDrift } from "./store-binding.js";

/** LanceDB store options from the config. */
export function storeOptions(config: Config): LanceDbStoreOptions {
  return {
    uri: config.lancedbUri,
    documentsTable: config.documentsTable,
    chunksTable: config.chunksTable,
    maxChunkRowsPerCommit: config.writeBatchChunks,
    indexCacheMb: config.indexCacheMb,
    metadataCacheMb: config.metadataCacheMb,
    fullTextIndex: true,
    readConsistencySeconds: config.readConsistencySeconds,
    vectorIndexThreshold: config.vectorIndexThreshold,
    compactSmallFragments: config.syncCompactAfterFragments,
    nprobes: config.searchNprobes,
    refineFactor: config.searchRefineFactor,
    vectorIndexType: config.vectorIndexType,
    ef: config.searchEf,
    indexRefreshRows: config.ftsReindexEveryRows,
  };
}

/**
 * The production store: LanceDB at `LANCEDB_URI`, loaded on first use (a run with nothing to write never pays
 * for LanceDB and Arrow).
 */
export function lanceDbStoreFactory(config: Config): () => Promise<DocumentStore> {
  return async () => {
    const { LanceDbStore } = await import("../storage/lancedb-store.js");
    return new LanceDbStore(storeOptions(config));
  };
}

/** Journal setting holding the embedder the tables were last opened with. */
export const EMBEDDER_META_KEY = "embedder_id";

/** Everything a command needs, built from one {@link Config}. Close it when done. */
export interface AppContext {
  config: Config;
  logger: Logger;
  journal: Journal;
  /**
   * The configured embedder, created on first call (the OpenAI-compatible one may ask its server). A failed
   * creation is not kept: the next call tries again.
   */
  embedder(): Promise<Embedder>;
  process: ContentProcessor;
  /** Source types known to this process. */
  registry: SourceRegistry;
  /** Bytes of pushed documents (`UPLOAD_DIR`). */
  blobs: BlobStore;
  /** The {@link Source} of a registered source record, made by its type's factory. */
  sourceOf(record: SourceRecord): Source;
  /**
   * Opens the LanceDB store once (creating tables or checking the embedder) and returns it. A failed open is
   * not kept: the next call tries again.
   */
  openStore(): Promise<DocumentStore>;
  /** A new, unopened store handle (`reset` drops tables through one: it must work when they cannot be opened). */
  newStore(): Promise<DocumentStore>;
  /**
   * The store for reading only (status, `fts` search): the open store when there is one, else the existing
   * tables opened read-only once and kept (commits by other processes are seen within
   * `LANCEDB_READ_CONSISTENCY_SECONDS`). Undefined when the tables do not exist: nothing is created.
   */
  readStore(): Promise<DocumentStore | undefined>;
  /**
   * Runs `fn` holding the store's writer lock (waiting up to `LOCK_WAIT_SECONDS`, then
   * `SYNC_E_STORE_BUSY`). Every writer of the tables goes through it: sync batches, compact, reset, index
   * builds.
   */
  withWriterLock<T>(purpose: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /**
   * Checks that the store is the one the journal's items were written to (cheaply: no LanceDB load when
   * the local store directory is unchanged). When it is missing, replaced or behind, bumps the store epoch,
   * so that every source verifies its items against the store on its next run, and returns what was found.
   */
  checkStore(): Promise<{ epoch: number; drift?: StoreDrift }>;
  /**
   * Closes the store handles (and the reader's) so that the next use opens fresh ones: LanceDB's table
   * handles and caches hold native memory that grows with every commit they see. Only for when nothing
   * uses the store (the caller makes sure: no run in flight).
   */
  recycleStore(): Promise<void>;
  /** Records the store's identity and versions after a run that wrote (under the writer lock). */
  recordStore(): Promise<void>;
  /**
   * Fails with `SYNC_E_EMBEDDER_MISMATCH` when the configured embedder differs from the one the tables were
   * built with. Cheap when they agree (a journal lookup); opens the store only when they may not.
   */
  checkEmbedder(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Wires config to the journal, embedder, processor, source types and (lazily) the store. `registry` defaults
 * to the built-in source types.
 */
export function openAppContext(
  config: Config,
  logger: Logger,
  registry = defaultRegistry(),
  newStore: () => Promise<DocumentStore> = lanceDbStoreFactory(config),
): AppContext {
  const journal = openJournal(config.stateDbPath, (r) =>
    logger.warn(
      { journal: r.path, movedTo: r.movedTo, damage: r.damage },
      `journal ${r.path} was damaged (${r.damage}): moved it to ${r.movedTo} and started a fresh one; the next ` +
        "sync of each source rebuilds its items from the tables (nothing is re-embedded); sources synced before " +
        "must be given their paths again",
    ),
  );
  let embedderPromise: Promise<Embedder> | undefined;
  const embedder = (): Promise<Embedder> => {
    embedderPromise ??= forgetOnFailure(createEmbedder(config.embedding), () => {
      embedderPromise = undefined;
    });
    return embedderPromise;
  };
  let store: Promise<DocumentStore> | undefined;
  const openStore = (): Promise<DocumentStore> => {
    store ??= forgetOnFailure(
      (async () => {
        const s = await newStore();
        const e = await embedder();
        // Creating the tables is a write: processes opening an empty store at once would race (one finds a
        // half-created table and fails; the two tables could get different store ids). Never called under it.
        const probe = probeStore(config.lancedbUri, config.documentsTable, config.chunksTable);
        try {
          if (probe === undefined || probe === "missing")
            await withWriterLock("store open", () => s.open(e, { upgrade: true }));
          else await s.open(e);
        } catch (err) {
          if (isSyncError(err, "SYNC_E_STORE_UPGRADE_NEEDED")) {
            // Tables of an older layout get their new columns: a write, so under the lock.
            await s.close();
            await withWriterLock("store upgrade", () => s.open(e, { upgrade: true }));
          } else {
            if (!isSyncError(err, "SYNC_E_EMBEDDER_MISMATCH")) throw err;
            // Tables of another embedder that hold no chunk yet (its first sync failed) are re-bound to this one.
            await s.close();
            await withWriterLock("store re-bind", () => s.open(e, { rebindEmpty: true, upgrade: true }));
          }
        }
        journal.setMeta(EMBEDDER_META_KEY, e.id);
        return s;
      })(),
      () => {
        store = undefined;
      },
    );
    return store;
  };
  let reader: Promise<DocumentStore | undefined> | undefined;
  const readStore = async (): Promise<DocumentStore | undefined> => {
    if (store) {
      const open = await store.catch(() => undefined);
      if (open) return open;
    }
    reader ??= (async () => {
      // A local store that was never created has no tables: connecting would create its directory.
      if (!config.lancedbUri.includes("://") && neverCreated(config.lancedbUri)) return undefined;
      const s = await newStore();
      if (await s.openExisting()) return s;
      await s.close();
      return undefined;
    })();
    const found = await reader.catch((err) => {
      reader = undefined;
      throw err;
    });
    if (!found) reader = undefined;
    return found;
  };
  const withWriterLock = <T>(purpose: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> =>
    withLock(
      journal,
      WRITER_LOCK,
      {
        purpose,
        leaseMs: config.lockLeaseSeconds * 1000,
        waitMs: config.lockWaitSeconds * 1000,
        busyCode: "SYNC_E_STORE_BUSY",
        signal,
      },
      fn,
    );
  const processor = createContentProcessor({
    maxFileBytes: config.maxFileBytes,
    chunkSize: config.textChunkSize,
    chunkOverlap: config.textChunkOverlap,
    maxExtractedBytes: config.maxExtractedBytes,
    parseTimeoutMs: config.parseTimeoutMs,
    parseMemoryMb: config.parseMemoryMb,
    parseWorkers: Math.min(config.maxConcurrentProcessing, Math.max(2, availableParallelism())),
  });
  const blobs = new BlobStore(config.uploadDir);
  return {
    config,
    logger,
    journal,
    embedder,
    process: processor,
    registry,
    blobs,
    sourceOf: (record) => registry.get(record.type).create(record, { config, journal, blobs, logger }),
    openStore,
    newStore,
    readStore,
    withWriterLock,
    async checkStore() {
      // One look at `_versions` serves both checks. A malformed newest manifest (LanceDB would panic on it) is
      // found even by a run with nothing to do.
      const probe = probeStore(config.lancedbUri, config.documentsTable, config.chunksTable);
      if (typeof probe === "object") {
        for (const t of [probe.docs, probe.chunks]) checkManifestFile(t.manifest, undefined, t.version);
      } else {
        for (const t of [config.documentsTable, config.chunksTable])
          checkNewestManifest(config.lancedbUri, t);
      }
      const binding = readBinding(journal);
      if (bindingHolds(config, binding, probe)) return { epoch: journal.storeEpoch() };
      const hasItems = journal.counts().items > 0;
      const store = await openStore();
      return withWriterLock("store check", async () => {
        const found = await compareStore(config, store, binding, hasItems);
        const drift = "detail" in found ? found : undefined;
        const epoch = drift ? journal.bumpStoreEpoch() : journal.storeEpoch();
        await recordBinding(config, journal, store);
        return drift ? { epoch, drift } : { epoch };
      });
    },
    async recycleStore() {
      const [s, r] = [store, reader];
      store = undefined;
      reader = undefined;
      if (s) await (await s.catch(() => undefined))?.close();
      if (r) await (await r.catch(() => undefined))?.close();
    },
    async recordStore() {
      const store = await openStore();
      await withWriterLock("store record", () => recordBinding(config, journal, store));
    },
    async checkEmbedder() {
      const recorded = journal.getMeta(EMBEDDER_META_KEY);
      if (recorded !== undefined && recorded !== (await embedder()).id) await openStore();
    },
    async close() {
      await processor.close();
      if (store) await (await store.catch(() => undefined))?.close();
      if (reader) await (await reader.catch(() => undefined))?.close();
      await (await embedderPromise?.catch(() => undefined))?.close?.();
      journal.close();
    },
  };
}

/** `promise`, calling `forget` when it rejects, so that a cached failure is retried by the next caller. */
function forgetOnFailure<T>(promise: Promise<T>, forget: () => void): Promise<T> {
  promise.catch(forget);
  return promise;
}

/** Whether a local store directory plainly does not exist (ENOENT; a path under a file is not "never created"). */
function neverCreated(path: string): boolean {
  try {
    statSync(path);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT";
  }
}
