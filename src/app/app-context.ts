import type { Config } from "../config/load-config.js";
import type { ContentProcessor } from "../core/content-processor.js";
import type { Embedder } from "../core/embedder.js";
import type { Logger } from "../core/logger.js";
import { createEmbedder } from "../pipeline/embed/create-embedder.js";
import { createContentProcessor } from "../pipeline/process-content.js";
import { LanceDbStore } from "../storage/lancedb-store.js";
import { SqliteJournal } from "../storage/sqlite-journal.js";

/** Everything a command needs, built from one {@link Config}. Close it when done. */
export interface AppContext {
  config: Config;
  logger: Logger;
  journal: SqliteJournal;
  embedder: Embedder;
  process: ContentProcessor;
  /** Opens the LanceDB store once (creating tables or checking the embedder) and returns it. */
  openStore(): Promise<LanceDbStore>;
  close(): Promise<void>;
}

/** Wires config to the journal, embedder, processor and (lazily) the store. */
export async function openAppContext(config: Config, logger: Logger): Promise<AppContext> {
  const journal = new SqliteJournal(config.stateDbPath);
  let embedder: Embedder;
  try {
    embedder = await createEmbedder(config.embedding);
  } catch (err) {
    journal.close();
    throw err;
  }
  let store: Promise<LanceDbStore> | undefined;
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
    openStore() {
      store ??= (async () => {
        const s = new LanceDbStore({
          uri: config.lancedbUri,
          documentsTable: config.documentsTable,
          chunksTable: config.chunksTable,
        });
        await s.open(embedder);
        return s;
      })();
      return store;
    },
    async close() {
      if (store) await (await store.catch(() => undefined))?.close();
      journal.close();
    },
  };
}
