import { availableParallelism } from "node:os";
import type { Config } from "../config/load-config.js";
import type { ContentProcessor } from "../core/content-processor.js";
import type { Embedder } from "../core/embedder.js";
import type { Logger } from "../core/logger.js";
import { isSyncError } from "../errors/sync-error.js";
import { createEmbedder } from "../pipeline/embed/create-embedder.js";
import { createContentProcessor } from "../pipeline/process-content.js";
import { checkManifestFile, checkNewestManifest } from "../storage/lance-files.js";
import type { LanceDbStore, LanceDbStoreOptions } from "../storage/lancedb-store.js";
import { WRITER_LOCK, withLock } from "../storage/lease-lock.js";
import { probeStore } from "../storage/probe-store.js";
import { openJournal, type SqliteJournal } from "../storage/sqlite-journal.js";
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
  };
}

/** Journal setting holding the embedder the tables were last opened with. */
export const EMBEDDER_META_KEY = "embedder_id";

/** Everything a command needs, built from one {@link Config}. Close it when done. */
export interface AppContext {
  config: Config;
  logger: Logger;
  journal: SqliteJournal;
  /** The configured embedder, created on first call (the OpenAI-compatible one may ask its server). */
  embedder(): Promise<Embedder>;
  process: ContentProcessor;
  /** Opens the LanceDB store once (creating tables or checking the embedder) and returns it. */
  openStore(): Promise<LanceDbStore>;
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
  /** Records the store's identity and versions after a run that wrote (under the writer lock). */
  recordStore(): Promise<void>;
  /**
   * Fails with `SYNC_E_EMBEDDER_MISMATCH` when the configured embedder differs from the one the tables were
   * built with. Cheap when they agree (a journal lookup); opens the store only when they may not.
   */
  checkEmbedder(): Promise<void>;
  close(): Promise<void>;
}

/** Wires config to the journal, embedder, processor and (lazily) the store. */
export function openAppContext(config: Config, logger: Logger): AppContext {
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
    embedderPromise ??= createEmbedder(config.embedding);
    return embedderPromise;
  };
  let store: Promise<LanceDbStore> | undefined;
  const openStore = (): Promise<LanceDbStore> => {
    store ??= (async () => {
      // Loaded on first use: a run with nothing to write never pays for LanceDB and Arrow.
      const { LanceDbStore } = await import("../storage/lancedb-store.js");
      const s = new LanceDbStore(storeOptions(config));
      const e = await embedder();
      // Creating the tables is a write: processes opening an empty store at once would race (one finds a
      // half-created table and fails; the two tables could get different store ids). Never called under it.
      const probe = probeStore(config.lancedbUri, config.documentsTable, config.chunksTable);
      try {
        if (probe === undefined || probe === "missing") await withWriterLock("store open", () => s.open(e));
        else await s.open(e);
      } catch (err) {
        if (!isSyncError(err, "SYNC_E_EMBEDDER_MISMATCH")) throw err;
        // Tables of another embedder that hold no chunk yet (its first sync failed) are re-bound to this one.
        await s.close();
        await withWriterLock("store re-bind", () => s.open(e, { rebindEmpty: true }));
      }
      journal.setMeta(EMBEDDER_META_KEY, e.id);
      return s;
    })();
    return store;
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
  return {
    config,
    logger,
    journal,
    embedder,
    process: processor,
    openStore,
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
      await (await embedderPromise?.catch(() => undefined))?.close?.();
      journal.close();
    },
  };
}
