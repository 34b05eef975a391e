import type { Config } from "../config/load-config.js";
import type { ContentProcessor } from "../core/content-processor.js";
import type { Embedder } from "../core/embedder.js";
import type { Logger } from "../core/logger.js";
import { createEmbedder } from "../pipeline/embed/create-embedder.js";
import { createContentProcessor } from "../pipeline/process-content.js";
import type { LanceDbStore, LanceDbStoreOptions } from "../storage/lancedb-store.js";
import { SqliteJournal } from "../storage/sqlite-journal.js";

/** LanceDB store options from the config. */
export function storeOptions(config: Config): LanceDbStoreOptions {
  return {
    uri: config.lancedbUri,
    documentsTable: config.documentsTable,
    chunksTable: config.chunksTable,
    maxChunkRowsPerCommit: config.writeBatchChunks,
    indexCacheMb: config.indexCacheMb,
    metadataCacheMb: config.metadataCacheMb,
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
   * Fails with `SYNC_E_EMBEDDER_MISMATCH` when the configured embedder differs from the one the tables were
   * built with. Cheap when they agree (a journal lookup); opens the store only when they may not.
   */
  checkEmbedder(): Promise<void>;
  close(): Promise<void>;
}

/** Wires config to the journal, embedder, processor and (lazily) the store. */
export function openAppContext(config: Config, logger: Logger): AppContext {
  const journal = new SqliteJournal(config.stateDbPath);
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
      await s.open(e);
      journal.setMeta(EMBEDDER_META_KEY, e.id);
      return s;
    })();
    return store;
  };
  return {
    config,
    logger,
    journal,
    embedder,
    process: createContentProcessor({
      maxFileBytes: config.maxFileBytes,
      chunkSize: config.textChunkSize,
      chunkOverlap: config.textChunkOverlap,
    }),
    openStore,
    async checkEmbedder() {
      const recorded = journal.getMeta(EMBEDDER_META_KEY);
      if (recorded !== undefined && recorded !== (await embedder()).id) await openStore();
    },
    async close() {
      if (store) await (await store.catch(() => undefined))?.close();
      journal.close();
    },
  };
}
