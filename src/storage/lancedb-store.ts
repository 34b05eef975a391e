import { randomUUID } from "node:crypto";
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Connection, Table } from "@lancedb/lancedb";
import type { Schema } from "apache-arrow";
import {
  type ApplyBatch,
  type ChunkHit,
  type ChunkQuery,
  type ChunkRow,
  type DocumentRow,
  type DocumentStore,
  type ListDocumentsOptions,
  parseMetadata,
  type StoreIdentity,
  type TableHealth,
} from "../core/document-store.js";

import type { Embedder } from "../core/embedder.js";
import { SyncError } from "../errors/sync-error.js";
import { rowsToArrow } from "./arrow-rows.js";
import {
  and,
  chunkFilter,
  documentFilter,
  eq,
  hasMetadataFilter,
  inList,
  metadataMatches,
  userFilter,
} from "./filter.js";
import { ensureFtsIndex, hasFtsIndex } from "./fts-index.js";
import { storeError, withConflictRetry, wrap, write } from "./lance-errors.js";
import { checkNewestManifest, manifestVersions } from "./lance-files.js";
import { loadLanceDb } from "./load-lancedb.js";
import {
  chunksSchema,
  DIMENSIONS_KEY,
  documentsSchema,
  EMBEDDER_ID_KEY,
  LAYOUT_KEY,
  LAYOUT_VERSION,
  layoutOf,
  STORE_ID_KEY,
} from "./table-schemas.js";
import {
  buildVectorIndex,
  isIndexType,
  tuneVectorQuery,
  VECTOR_DISTANCE,
  VECTOR_INDEX_THRESHOLD,
  type VectorIndexType,
  vectorIndexOf,
  wantsVectorIndex,
} from "./vector-index.js";

/** How long a search trusts what it learned of a table's schema and indices (ms). */
const SCHEMA_FACTS_TTL_MS = 10_000;

/** Options of {@link LanceDbStore}. */
export interface LanceDbStoreOptions {
  /** Local directory (or object-store URI) of the database. */
  uri: string;
  documentsTable: string;
  chunksTable: string;
  /**
   * Most chunk rows per `add` call (default 1024). LanceDB's native writer holds several copies of a call's
   * data, so this bounds peak memory; a batch with more chunks is written in several commits.
   */
  maxChunkRowsPerCommit?: number;
  /**
   * Whether {@link LanceDbStore.maintain} keeps the full-text index on `text` (built when missing, refreshed
   * when rows are unindexed); default false. The app sets it: searches rely on it and never build it.
   */
  fullTextIndex?: boolean;
  /** Chunk rows from which {@link LanceDbStore.maintain} keeps BTree indices; default 10,000. */
  indexMinRows?: number;
  /**
   * Small fragments (one per commit) from which {@link LanceDbStore.maintain} compacts the chunks table (the
   * documents table from at most {@link DOCS_COMPACT_SMALL_FRAGMENTS}); default {@link COMPACT_SMALL_FRAGMENTS};
   * 0: never (only `compact` does).
   */
  compactSmallFragments?: number;
  /** LanceDB session cache for index pages (MB); default 256. */
  indexCacheMb?: number;
  /**
   * LanceDB session cache for file and manifest metadata (MB); default 64. LanceDB's own default (1 GB)
   * lets memory grow with every commit of a long sync.
   */
  metadataCacheMb?: number;
  /**
   * Seconds after which a read checks for commits made by other processes (LanceDB's
   * `readConsistencyInterval`; 0: every read). Default: never, as LanceDB's default — a long-lived process
   * then keeps reading the version it opened.
   */
  readConsistencySeconds?: number;
  /**
   * Chunk rows from which {@link LanceDbStore.maintain} and `compact` keep a vector index (IVF_PQ, cosine) on
   * `vector`; default 100,000; 0: never. At least 256 rows (what PQ training needs).
   */
  vectorIndexThreshold?: number;
  /** Least IVF partitions an indexed vector or hybrid search probes (LanceDB's default: 20). */
  nprobes?: number;
  /** Re-ranking multiplier of an indexed vector or hybrid search (0 or unset: none). */
  refineFactor?: number;
  /** The kind of vector index `compact` builds (default IVF_PQ); an index of another kind is rebuilt. */
  vectorIndexType?: VectorIndexType;
  /** Candidates an IVF_HNSW_SQ graph search keeps (0 or unset: LanceDB's default). */
  ef?: number;
  /**
   * Chunk rows added (by `applyBatch`) between two checks of the full-text index inside a long run, which
   * rebuild it when stale as `maintain` does; 0 or unset: only `maintain` checks.
   */
  indexRefreshRows?: number;
}

/**
 * Up to this many chunk rows a sync keeps the full-text index complete (building it when missing, rebuilding
 * it whenever rows are not in it: well under a second). Above, a sync only rebuilds an existing index once more
 * than {@link FTS_STALE_SHARE} of the rows are not in it, and never builds a missing one (the first full-text
 * search or `compact` does): a build or an `optimize()` there costs seconds per sync and rewrites fragments.
 */
const FTS_EAGER_MAX_ROWS = 20_000;
const FTS_STALE_SHARE = 0.1;
/** Largest number of ids put into one `IN (...)` filter. */
const IN_SLICE = 1000;
/** Below this many chunk rows a scan is as fast as an index. */
const INDEX_MIN_ROWS = 10_000;
/**
 * Scalar indices of the chunks table: BTree on `text_hash` (the embedding cache) and `doc_id` (replace-deletes),
 * and a bitmap on `user_id`, which every search prefilters on: at a million chunks of 10 users it took the p99 of
 * a vector search from 66 to 48 ms and of a full-text search from 82 to 47-52 ms (the prefilter no longer reads
 * the column of every row).
 */
const CHUNK_INDICES = [
  ["text_hash", "btree"],
  ["doc_id", "btree"],
  ["user_id", "bitmap"],
] as const;
/**
 * Every commit adds a fragment, and every delete, lookup and scan pays per fragment: at 100,000 documents
 * (1,369 fragments after the first sync) a 5% change took 65 s, 23 s once both tables were compacted, and
 * 21-30 s again with 415 fragments. Past this many small fragments the chunks table is compacted after the run
 * that wrote them (about 20 s at 1.4 million chunks; 2.5 s at 277,000, where the first sync's 270 fragments are
 * not worth it). Old versions stay for `compact` to remove.
 */
export const COMPACT_SMALL_FRAGMENTS = 512;
/** The documents table's rows are small: compacting 1,452 fragments of 100,000 documents took 2.5 s. */
export const DOCS_COMPACT_SMALL_FRAGMENTS = 64;

/**
 * {@link DocumentStore} on LanceDB. One `applyBatch` is a handful of commits whatever the number of documents:
 * delete the chunks of replaced and deleted documents, add the new chunks (one commit per
 * `maxChunkRowsPerCommit` rows), delete the document rows of replaced and deleted documents, add the new
 * document rows. Chunks always change before their document row.
 */
export class LanceDbStore implements DocumentStore {
  private conn: Connection | undefined;
  private docs: Table | undefined;
  private chunks: Table | undefined;
  /**
   * Per table handle, for {@link SCHEMA_FACTS_TTL_MS}: the embedder id of its schema and whether it has a
   * full-text index (searches ask both every time). Another process may reset or repair the table meanwhile,
   * hence the expiry.
   */
  private readonly embedderIds = new WeakMap<Table, { id: string | undefined; at: number }>();
  private readonly ftsReady = new WeakMap<Table, number>();
  private reranker: Promise<unknown> | undefined;
  private docsArrowSchema: Schema | undefined;
  private chunksArrowSchema: Schema | undefined;
  /** The table `open` was reading when it failed, for its error message. */
  private failingTable: string | undefined;
  /** Columns of the chunks table as opened (a layout-1 table opened read-only lacks the newer ones). */
  private chunkColumns = new Set<string>();
  /** Columns of the documents table as opened. */
  private docColumns = new Set<string>();
  /** Newest layout among the opened tables. */
  private layout = 0;
  /** Chunk rows added since the indices were last checked (see `indexRefreshRows`). */
  private rowsSinceIndexCheck = 0;

  constructor(private readonly options: LanceDbStoreOptions) {}

  /**
   * Opens the tables, creating missing ones for `embedder`; fails with `SYNC_E_EMBEDDER_MISMATCH` when the
   * chunks table was built with another embedder — unless `rebindEmpty` is set and it holds no row (a first sync
   * whose embedder failed before writing anything): then the empty table is re-created for `embedder`, keeping
   * the store id. Re-binding drops a table: call it under the writer lock.
   *
   * Tables of an older layout (see `LAYOUT_VERSION`) are upgraded in place when `upgrade` is set (new columns
   * added with `''` in every existing row, then the layout recorded): a write, so call it under the writer
   * lock. Without `upgrade` such tables fail with `SYNC_E_STORE_UPGRADE_NEEDED`, telling the caller to open
   * again under the lock. A layout newer than this code knows fails with `SYNC_E_LAYOUT_TOO_NEW`.
   */
  async open(
    embedder: Pick<Embedder, "id" | "dimensions">,
    options: { rebindEmpty?: boolean; upgrade?: boolean } = {},
  ): Promise<void> {
    const lancedb = await loadLanceDb();
    if (!this.options.uri.includes("://")) mkdirSync(this.options.uri, { recursive: true });
    try {
      this.conn = await lancedb.connect(this.options.uri, this.connectOptions(lancedb));
      const names = new Set(await this.conn.tableNames());
      const { documentsTable, chunksTable } = this.options;
      for (const t of [documentsTable, chunksTable])
        if (names.has(t)) checkNewestManifest(this.options.uri, t);
      this.failingTable = documentsTable;
      const existingDocs = names.has(documentsTable) ? await this.conn.openTable(documentsTable) : undefined;
      this.failingTable = chunksTable;
      let existingChunks = names.has(chunksTable) ? await this.conn.openTable(chunksTable) : undefined;
      if (existingChunks) {
        const schema = await existingChunks.schema();
        try {
          checkEmbedder(chunksTable, schema, embedder);
        } catch (err) {
          if (!options.rebindEmpty || (await existingChunks.countRows()) > 0) throw err;
          const storeId =
            storeIdOf(schema) ?? (existingDocs && storeIdOf(await existingDocs.schema())) ?? randomUUID();
          existingChunks.close();
          await this.conn.dropTable(chunksTable);
          existingChunks = await this.createTable(
            chunksTable,
            withStoreId(chunksSchema(embedder.id, embedder.dimensions), storeId),
          );
        }
      }
      if (existingDocs) await this.upgradeLayout(existingDocs, documentsSchema(), options.upgrade);
      if (existingChunks) {
        const target = chunksSchema(embedder.id, embedder.dimensions);
        await this.upgradeLayout(existingChunks, target, options.upgrade);
      }
      this.failingTable = undefined;
      // New tables share the store id of an existing partner, else get a fresh one.
      const partner = existingChunks ?? existingDocs;
      const storeId = (partner && storeIdOf(await partner.schema())) || randomUUID();
      this.docs =
        existingDocs ?? (await this.createTable(documentsTable, withStoreId(documentsSchema(), storeId)));
      this.chunks =
        existingChunks ??
        (await this.createTable(
          chunksTable,
          withStoreId(chunksSchema(embedder.id, embedder.dimensions), storeId),
        ));
      this.docsArrowSchema = documentsSchema();
      this.chunksArrowSchema = chunksSchema(embedder.id, embedder.dimensions);
      await this.readLayout();
    } catch (err) {
      throw storeError(`open ${this.options.uri}`, err, this.failingTable);
    }
  }

  /**
   * Opens existing tables without creating or checking anything (for status and inspection).
   * Returns false, leaving the store closed, when either table does not exist yet.
   */
  async openExisting(): Promise<boolean> {
    const lancedb = await loadLanceDb();
    const conn = await wrap("connect", () => lancedb.connect(this.options.uri, this.connectOptions(lancedb)));
    const names = new Set(await wrap("list tables", () => conn.tableNames()));
    if (!names.has(this.options.documentsTable) || !names.has(this.options.chunksTable)) {
      conn.close();
      return false;
    }
    this.conn = conn;
    const { documentsTable, chunksTable } = this.options;
    for (const t of [documentsTable, chunksTable]) checkNewestManifest(this.options.uri, t);
    this.docs = await wrap("open table", () => conn.openTable(documentsTable), documentsTable);
    this.chunks = await wrap("open table", () => conn.openTable(chunksTable), chunksTable);
    await this.readLayout();
    return true;
  }

  /** Brings `table` to the current layout (see {@link open}), or says why it cannot. */
  private async upgradeLayout(table: Table, target: Schema, upgrade: boolean | undefined): Promise<void> {
    const schema = await table.schema();
    const layout = layoutOf(schema);
    checkNotTooNew(table.name, layout, schema);
    if (layout >= Number(LAYOUT_VERSION)) return;
    if (!upgrade) {
      throw new SyncError(
        "SYNC_E_STORE_UPGRADE_NEEDED",
        `table "${table.name}" has layout ${layout}: open it with { upgrade: true } under the writer lock to ` +
          `upgrade it to layout ${LAYOUT_VERSION} (lancedb-sync's commands do that by themselves)`,
      );
    }
    const have = new Set(schema.fields.map((f) => f.name));
    // Every column added since layout 1 is a string whose value for existing rows is ''.
    const missing = target.fields
      .filter((f) => !have.has(f.name))
      .map((f) => ({ name: f.name, valueSql: "''" }));
    if (missing.length > 0) await write("upgrade layout", () => table.addColumns(missing), table.name);
    // Recorded last: an upgrade cut short is redone (only the columns still missing) by the next open.
    await write(
      "record layout",
      () => table.updateFieldMetadata([{ path: "doc_id", metadata: { [LAYOUT_KEY]: LAYOUT_VERSION } }]),
      table.name,
    );
  }

  /** Notes the opened tables' layout and chunk columns (for read-only opens of older layouts). */
  private async readLayout(): Promise<void> {
    const docs = this.documentsTable();
    const chunks = this.chunksTable();
    const chunkSchema = await wrap("read schema", () => chunks.schema(), chunks.name);
    const docSchema = await wrap("read schema", () => docs.schema(), docs.name);
    this.chunkColumns = new Set(chunkSchema.fields.map((f) => f.name));
    this.docColumns = new Set(docSchema.fields.map((f) => f.name));
    this.layout = Math.max(layoutOf(chunkSchema), layoutOf(docSchema));
  }

  /** Embedder id recorded with the chunks table. */
  async embedderId(): Promise<string | undefined> {
    const t = this.chunksTable();
    const known = this.embedderIds.get(t);
    if (known && Date.now() - known.at < SCHEMA_FACTS_TTL_MS) return known.id;
    const id = (await wrap("read schema", () => t.schema(), t.name)).metadata.get(EMBEDDER_ID_KEY);
    this.embedderIds.set(t, { id, at: Date.now() });
    return id;
  }

  private writeSchema(schema: Schema | undefined): Schema {
    if (!schema) throw new SyncError("SYNC_E_INTERNAL", "lancedb store opened read-only cannot write");
    return schema;
  }

  /** Rows of documents and chunks, optionally of one user only. */
  async countRows(userId?: string): Promise<{ documents: number; chunks: number }> {
    const filter = userId === undefined ? undefined : userFilter(userId);
    const docs = this.documentsTable();
    const chunkTable = this.chunksTable();
    const documents = await wrap("count rows", () => docs.countRows(filter), docs.name);
    const chunks = await wrap("count rows", () => chunkTable.countRows(filter), chunkTable.name);
    return { documents, chunks };
  }

  private connectOptions(lancedb: Awaited<ReturnType<typeof loadLanceDb>>) {
    const interval = this.options.readConsistencySeconds;
    return {
      session: this.session(lancedb),
      ...(interval === undefined ? {} : { readConsistencyInterval: interval }),
    };
  }

  private session(lancedb: Awaited<ReturnType<typeof loadLanceDb>>) {
    const mb = (n: number) => BigInt(Math.round(n * 1024 * 1024));
    return new lancedb.Session(mb(this.options.indexCacheMb ?? 256), mb(this.options.metadataCacheMb ?? 64));
  }

  private async createTable(name: string, schema: Schema): Promise<Table> {
    const conn = this.connection();
    // exist_ok: two processes racing to create the table both end up with it.
    return conn.createEmptyTable(name, schema, { mode: "create", existOk: true });
  }

  /** The open connection; throws when {@link open} was not called. */
  private connection(): Connection {
    if (!this.conn) throw new SyncError("SYNC_E_INTERNAL", "lancedb store used before open()");
    return this.conn;
  }

  /** The `processed_documents` table. */
  private documentsTable(): Table {
    if (!this.docs) throw new SyncError("SYNC_E_INTERNAL", "lancedb store used before open()");
    return this.docs;
  }

  /** The `document_chunks` table. */
  private chunksTable(): Table {
    if (!this.chunks) throw new SyncError("SYNC_E_INTERNAL", "lancedb store used before open()");
    return this.chunks;
  }

  async lookupVectors(
    textHashes: readonly string[],
    userId?: string,
    nearDocIds: readonly string[] = [],
  ): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    await this.findStored(textHashes, userId, nearDocIds, true, (hash, row) => {
      out.set(hash, Float32Array.from(row.vector.toArray() as Float32Array));
    });
    return out;
  }

  async storedTextHashes(
    textHashes: readonly string[],
    userId?: string,
    nearDocIds: readonly string[] = [],
  ): Promise<Set<string>> {
    const out = new Set<string>();
    await this.findStored(textHashes, userId, nearDocIds, false, (hash) => out.add(hash));
    return out;
  }

  /**
   * Calls `found` once per stored hash of `textHashes` (of `userId`'s chunks when given), with a row holding
   * `text_hash` and, when `withVectors`, `vector`. A replaced document's unchanged chunks are most of what a
   * batch asks for: the rows of `nearDocIds` lie together and are read through the doc_id index first, 2-5 times
   * faster than the same rows looked up hash by hash (measured at 1.4 million chunks); only the hashes still
   * missing are looked up across the table. Without the vector column a lookup costs a third (no vector pages).
   */
  private async findStored(
    textHashes: readonly string[],
    userId: string | undefined,
    nearDocIds: readonly string[],
    withVectors: boolean,
    // biome-ignore lint/suspicious/noExplicitAny: an Arrow row of the selected columns.
    found: (hash: string, row: any) => void,
  ): Promise<void> {
    const table = this.chunksTable();
    const columns = withVectors ? ["text_hash", "vector"] : ["text_hash"];
    const wanted = new Set(textHashes);
    const seen = new Set<string>();
    const read = async (what: string, filter: string) => {
      const rows = await wrap(what, () => table.query().where(filter).select(columns).toArray(), table.name);
      for (const row of rows) {
        const hash = row.text_hash as string;
        if (wanted.has(hash) && !seen.has(hash)) {
          seen.add(hash);
          found(hash, row);
        }
      }
    };
    const scoped = (filter: string) => (userId === undefined ? filter : and(filter, userFilter(userId)));
    for (let i = 0; i < nearDocIds.length && seen.size < wanted.size; i += IN_SLICE) {
      await read(
        "lookup vectors of replaced documents",
        scoped(inList("doc_id", nearDocIds.slice(i, i + IN_SLICE))),
      );
    }
    const rest = seen.size === 0 ? textHashes : textHashes.filter((h) => !seen.has(h));
    for (let i = 0; i < rest.length; i += IN_SLICE) {
      await read("lookup vectors", scoped(inList("text_hash", rest.slice(i, i + IN_SLICE))));
    }
  }

  async applyBatch(batch: ApplyBatch): Promise<void> {
    const docs = this.documentsTable();
    const chunks = this.chunksTable();
    // Checked before anything is deleted, so a bad embedder response cannot leave a document without chunks.
    const dims = this.chunksArrowSchema?.fields.find((f) => f.name === "vector")?.type.listSize as number;
    for (const u of batch.upserts) {
      for (const c of u.chunks) {
        if (c.vector.length !== dims) {
          throw new SyncError(
            "SYNC_E_EMBEDDING_FAILED",
            `chunk ${c.chunk_id} of ${u.doc.item_key}: vector has ${c.vector.length} values, the table needs ${dims}`,
          );
        }
      }
    }
    const clearChunks = [...batch.replaceDocIds, ...batch.deleteDocIds];
    for (let i = 0; i < clearChunks.length; i += IN_SLICE) {
      const slice = clearChunks.slice(i, i + IN_SLICE);
      await write("delete chunks", () => chunks.delete(inList("doc_id", slice)), chunks.name);
    }
    const chunkRows = batch.upserts.flatMap((u) => u.chunks as ChunkRow[]);
    if (chunkRows.length > 0) {
      const schema = this.writeSchema(this.chunksArrowSchema);
      const step = this.options.maxChunkRowsPerCommit ?? 1024;
      for (let i = 0; i < chunkRows.length; i += step) {
        const data = rowsToArrow(
          schema,
          chunkRows.slice(i, i + step) as unknown as Record<string, unknown>[],
        );
        await write("add chunks", () => chunks.add(data), chunks.name);
      }
    }
    // Document rows: drop every row of replaced and deleted documents, then append the new ones. Unlike a
    // merge-insert this also repairs a document stored twice, and needs no count check.
    const dropDocs = [...batch.replaceDocIds, ...batch.deleteDocIds];
    for (let i = 0; i < dropDocs.length; i += IN_SLICE) {
      const slice = dropDocs.slice(i, i + IN_SLICE);
      await write("delete documents", () => docs.delete(inList("doc_id", slice)), docs.name);
    }
    if (batch.upserts.length > 0) {
      const data = rowsToArrow(
        this.writeSchema(this.docsArrowSchema),
        batch.upserts.map((u) => u.doc) as unknown as Record<string, unknown>[],
      );
      await write("add documents", () => docs.add(data), docs.name);
    }
    this.rowsSinceIndexCheck += chunkRows.length;
    const every = this.options.indexRefreshRows ?? 0;
    if (every > 0 && this.rowsSinceIndexCheck >= every) {
      // Inside the caller's exclusive write: a long run keeps the full-text index current as it goes.
      this.rowsSinceIndexCheck = 0;
      const rows = await wrap("count rows", () => chunks.countRows(), chunks.name);
      await this.maintainFullText(chunks, rows);
    }
  }

  async isEmpty(): Promise<boolean> {
    const { documents, chunks } = await this.countRows();
    return documents === 0 && chunks === 0;
  }

  async listDocuments(userId: string, sourceId: string): Promise<DocumentRow[]> {
    const table = this.documentsTable();
    const rows = await wrap(
      "list documents",
      () =>
        table
          .query()
          .where(and(eq("user_id", userId), eq("source_id", sourceId)))
          .toArray(),
      table.name,
    );
    return rows.map((r) => ({ ...r }) as DocumentRow);
  }

  async chunkCounts(userId: string, sourceId: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const query = this.chunksTable()
      .query()
      .where(and(eq("user_id", userId), eq("source_id", sourceId)))
      .select(["doc_id"]);
    await wrap(
      "count chunks",
      async () => {
        for await (const batch of query) {
          const col = batch.getChild("doc_id");
          if (!col) continue;
          for (let i = 0; i < batch.numRows; i++) {
            const id = col.get(i) as string;
            out.set(id, (out.get(id) ?? 0) + 1);
          }
        }
      },
      this.chunksTable().name,
    );
    return out;
  }

  /**
   * The store's identity and table versions. The id is a random UUID written into both tables' schema
   * metadata when they are created; tables made before ids existed get one now (a metadata-only commit).
   * Call under the writer lock: it may write, unless `readOnly` (then a missing id reads as "").
   */
  async identity(readOnly = false): Promise<StoreIdentity> {
    const docs = this.documentsTable();
    const chunks = this.chunksTable();
    let id = storeIdOf(await wrap("read schema", () => chunks.schema(), chunks.name));
    if (id === undefined && readOnly) id = "";
    if (id === undefined) {
      id = randomUUID();
      await wrap("record store id", async () => {
        for (const t of [chunks, docs]) {
          await t.updateFieldMetadata([{ path: "doc_id", metadata: { [STORE_ID_KEY]: id as string } }]);
        }
      });
      id = storeIdOf(await chunks.schema()) ?? id;
    }
    const docsVersion = await wrap("read version", () => docs.version(), docs.name);
    const chunksVersion = await wrap("read version", () => chunks.version(), chunks.name);
    return { storeId: id, docsVersion, chunksVersion };
  }

  /**
   * Keeps the tables compact and their indices current after a run that wrote (under the writer lock):
   * - a table with many small fragments (see `compactSmallFragments`) is compacted, old versions kept;
   * - with `fullTextIndex`, the full-text index on `text` (LanceDB 0.31 scans unindexed rows, but a query of
   *   several common words misses them): up to {@link FTS_EAGER_MAX_ROWS} chunk rows it is built when missing
   *   and rebuilt whenever rows are not in it; above, an existing index is rebuilt once more than a tenth of the
   *   rows are not in it (amortised), and a missing one is left to the first full-text search or `compact`;
   * - from `indexMinRows` rows, BTree indices on the chunks' `text_hash` and `doc_id` and the documents'
   *   `doc_id`, and a bitmap index on the chunks' `user_id`, rebuilt when more than a tenth of the rows are not
   *   in them;
   *
   * It never builds the vector index: training it on a few hundred thousand rows costs minutes of CPU and
   * hundreds of MB (measured at 277,000 chunks: peak RSS 463 -> 676 MB in the sync that built it). `compact`
   * builds it, and {@link health} reports `needsVectorIndex` so that the service's compaction runs for it.
   */
  async maintain(): Promise<void> {
    const table = this.chunksTable();
    const docs = this.documentsTable();
    const smallLimit = this.options.compactSmallFragments ?? COMPACT_SMALL_FRAGMENTS;
    for (const t of smallLimit > 0 ? [docs, table] : []) {
      const limit = t === docs ? Math.min(smallLimit, DOCS_COMPACT_SMALL_FRAGMENTS) : smallLimit;
      const stats = await wrap("table statistics", () => t.stats(), t.name);
      if (stats.fragmentStats.numSmallFragments >= limit) {
        // new Date(0): compaction only; no version is removed (a backup may be reading old ones).
        await write("compact", () => t.optimize({ cleanupOlderThan: new Date(0) }), t.name);
      }
    }
    const rows = await wrap("count rows", () => table.countRows(), table.name);
    if (rows === 0) return;
    this.rowsSinceIndexCheck = 0;
    await this.maintainFullText(table, rows);
    const minRows = this.options.indexMinRows ?? INDEX_MIN_ROWS;
    if (rows < minRows) return;
    await this.maintainScalar(table, CHUNK_INDICES, rows, minRows);
    const docRows = await wrap("count rows", () => docs.countRows(), docs.name);
    if (docRows >= minRows) await this.maintainScalar(docs, [["doc_id", "btree"]], docRows, minRows);
  }

  /**
   * Builds each scalar index of `wanted` (column, kind) that `table` lacks, and rebuilds one when more than a
   * tenth of the rows (and more than `minRows`) are not in it.
   */
  private async maintainScalar(
    table: Table,
    wanted: ReadonlyArray<readonly [string, "btree" | "bitmap"]>,
    rows: number,
    minRows: number,
  ): Promise<void> {
    const { Index } = await loadLanceDb();
    const indices = await wrap("list indices", () => table.listIndices(), table.name);
    for (const [col, kind] of wanted) {
      const idx = indices.find((i) => i.columns.length === 1 && i.columns[0] === col);
      const stale = idx && (await table.indexStats(idx.name))?.numUnindexedRows;
      if (!idx || (stale ?? 0) > Math.max(minRows, rows / 10)) {
        await write(
          `index ${col}`,
          () =>
            table.createIndex(col, {
              config: kind === "bitmap" ? Index.bitmap() : Index.btree(),
              replace: true,
            }),
          table.name,
        );
      }
    }
  }

  /** The full-text part of {@link maintain} (also run inside long runs, see `indexRefreshRows`). */
  private async maintainFullText(table: Table, rows: number): Promise<void> {
    const { Index } = await loadLanceDb();
    const indices = await wrap("list indices", () => table.listIndices(), table.name);
    const fts = indices.find((i) => i.indexType === "FTS" && i.columns.includes("text"));
    const eager = rows <= FTS_EAGER_MAX_ROWS;
    if (!this.options.fullTextIndex) {
      // no full-text index kept by this store
    } else if (!fts) {
      if (eager) {
        await write(
          "build full-text index",
          () => table.createIndex("text", { config: Index.fts() }),
          table.name,
        );
      }
    } else {
      const stale = (await table.indexStats(fts.name))?.numUnindexedRows ?? 0;
      if (stale > (eager ? 0 : rows * FTS_STALE_SHARE)) {
        await write(
          "rebuild full-text index",
          () => table.createIndex("text", { config: Index.fts(), replace: true }),
          table.name,
        );
      }
    }
  }

  async fullTextReady(): Promise<boolean> {
    const table = this.chunksTable();
    if (Date.now() - (this.ftsReady.get(table) ?? Number.NEGATIVE_INFINITY) < SCHEMA_FACTS_TTL_MS)
      return true;
    const ready = await wrap("list indices", () => hasFtsIndex(table), table.name);
    if (ready) this.ftsReady.set(table, Date.now());
    else this.ftsReady.delete(table);
    return ready;
  }

  /**
   * Metadata filters are resolved to document ids first: the user's `processed_documents` rows (narrowed by
   * the source and doc id filters; only `doc_id` and `metadata` read) are matched in JS against the parsed
   * JSON ({@link metadataMatches}), and the chunks are then filtered by `doc_id IN (…)`. LanceDB 0.31's SQL has
   * no JSON function for string columns (its `json_*` functions take its binary JSON type), and a `LIKE` on the
   * JSON text needs escaping plus a JS re-check that would drop hits after `limit`; the scan is exact, keeps
   * hostile keys and values out of SQL altogether, and costs one read of one user's document metadata.
   */
  async search(q: ChunkQuery): Promise<ChunkHit[]> {
    userFilter(q.userId);
    if (!Number.isInteger(q.limit) || q.limit < 1) {
      throw new SyncError("SYNC_E_INVALID_ARGUMENT", `limit ${q.limit} is not a positive integer`);
    }
    checkNotTooNew(this.options.chunksTable, this.layout);
    const table = this.chunksTable();
    if (q.mode !== "fts") {
      if (!q.vector)
        throw new SyncError("SYNC_E_INVALID_ARGUMENT", `a ${q.mode} search needs a query vector`);
      if (q.embedderId !== undefined) {
        const builtWith = await this.embedderId();
        if (builtWith !== undefined && builtWith !== q.embedderId) {
          throw new SyncError(
            "SYNC_E_EMBEDDER_MISMATCH",
            `table "${table.name}" was built with embedder "${builtWith}", the query vector was made by ` +
              `"${q.embedderId}"; restore the old embedder settings, or re-index with \`lancedb-sync reset --yes\` ` +
              "followed by `lancedb-sync sync`",
          );
        }
      }
    }
    if (q.mode !== "vector" && !(await this.fullTextReady())) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `no full-text index yet for a ${q.mode} search: \`lancedb-sync compact\` builds it`,
      );
    }
    let metadataDocIds: string[] | undefined;
    if (hasMetadataFilter(q.filters)) {
      metadataDocIds = await this.docIdsByMetadata(q);
      if (metadataDocIds.length === 0) return [];
    }
    const where = chunkFilter(q.userId, q.filters, metadataDocIds);
    const columns = HIT_COLUMNS.filter((c) => this.chunkColumns.has(c));
    const vector = q.vector as Float32Array;
    const tuning = {
      nprobes: this.options.nprobes,
      refineFactor: this.options.refineFactor,
      ef: this.options.ef,
    };
    if (q.mode === "vector") {
      const rows = await wrap(
        "vector search",
        () =>
          tuneVectorQuery(table.vectorSearch(vector).distanceType(VECTOR_DISTANCE), tuning)
            .where(where)
            .select([...columns, "_distance"])
            .limit(q.limit)
            .toArray(),
        table.name,
      );
      return this.completeHits(q.userId, rows, (r) => 1 - (r._distance as number));
    }
    if (q.mode === "fts") {
      const rows = await wrap(
        "full-text search",
        () =>
          table
            .search(q.text, "fts")
            .where(where)
            .select([...columns, "_score"])
            .limit(q.limit)
            .toArray(),
        table.name,
      );
      return this.completeHits(q.userId, rows, (r) => r._score as number);
    }
    this.reranker ??= loadLanceDb().then((lancedb) => lancedb.rerankers.RRFReranker.create());
    const reranker = (await this.reranker.catch((err: unknown) => {
      this.reranker = undefined;
      throw err;
    })) as Awaited<ReturnType<Awaited<ReturnType<typeof loadLanceDb>>["rerankers"]["RRFReranker"]["create"]>>;
    const rows = await wrap(
      "hybrid search",
      () =>
        tuneVectorQuery(
          table.query().fullTextSearch(q.text).nearestTo(vector).distanceType(VECTOR_DISTANCE),
          tuning,
        )
          .where(where)
          .rerank(reranker)
          .select(columns)
          .limit(q.limit)
          .toArray(),
      table.name,
    );
    return this.completeHits(q.userId, rows, (r) => r._relevance_score as number);
  }

  /**
   * Hits of result rows. Chunks written before layout 2 have `metadata` `''` (or no such column, in a store
   * opened read-only before its upgrade): their documents' metadata and URL are read from `processed_documents`,
   * one query for all of them; chunks written since carry both.
   */
  private async completeHits(
    userId: string,
    rows: Record<string, unknown>[],
    score: (r: Record<string, unknown>) => number,
  ): Promise<ChunkHit[]> {
    const hits = rows.map((r) => toHit(r, score(r)));
    const stale = [...new Set(rows.filter((r) => !r.metadata).map((r) => r.doc_id as string))];
    if (stale.length === 0) return hits;
    const table = this.documentsTable();
    const docs = await wrap(
      "read document metadata",
      () =>
        table
          .query()
          .where(and(userFilter(userId), inList("doc_id", stale)))
          .select(["doc_id", "metadata", ...(this.docColumns.has("url") ? ["url"] : [])])
          .toArray(),
      table.name,
    );
    const byId = new Map(docs.map((d) => [d.doc_id as string, d as Record<string, unknown>]));
    return hits.map((h, i) => {
      const doc = byId.get(h.doc_id);
      if (!doc || rows[i]?.metadata) return h;
      const url = typeof doc.url === "string" && doc.url !== "" ? doc.url : h.url;
      return { ...h, metadata: parseMetadata(doc.metadata) ?? {}, url };
    });
  }

  /** Ids of the user's documents (within the source and doc id filters) whose metadata matches. */
  private async docIdsByMetadata(q: ChunkQuery): Promise<string[]> {
    const wanted = q.filters?.metadata ?? {};
    const table = this.documentsTable();
    const query = table.query().where(documentFilter(q.userId, q.filters)).select(["doc_id", "metadata"]);
    const out = new Set<string>();
    await wrap(
      "match metadata",
      async () => {
        for await (const batch of query) {
          const ids = batch.getChild("doc_id");
          const meta = batch.getChild("metadata");
          if (!ids || !meta) continue;
          for (let i = 0; i < batch.numRows; i++) {
            if (metadataMatches(String(meta.get(i) ?? ""), wanted)) out.add(ids.get(i) as string);
          }
        }
      },
      table.name,
    );
    return [...out];
  }

  async getDocument(userId: string, docId: string): Promise<DocumentRow | undefined> {
    const table = this.documentsTable();
    const rows = await wrap(
      "get document",
      () =>
        table
          .query()
          .where(and(userFilter(userId), eq("doc_id", docId)))
          .limit(1)
          .toArray(),
      table.name,
    );
    return rows[0] ? ({ ...rows[0] } as DocumentRow) : undefined;
  }

  /** Reads every matching row and sorts in JS: LanceDB returns rows in no defined order. */
  async listUserDocuments(userId: string, options: ListDocumentsOptions = {}): Promise<DocumentRow[]> {
    const { limit, offset = 0 } = options;
    checkPage(limit, offset);
    const filter =
      options.sourceId === undefined
        ? userFilter(userId)
        : and(userFilter(userId), eq("source_id", options.sourceId));
    const table = this.documentsTable();
    const rows = await wrap("list documents", () => table.query().where(filter).toArray(), table.name);
    const docs = rows.map((r) => ({ ...r }) as DocumentRow).sort(compareDocuments);
    return docs.slice(offset, limit === undefined ? undefined : offset + limit);
  }

  async removeSource(userId: string, sourceId: string): Promise<{ documents: number; chunks: number }> {
    const filter = and(userFilter(userId), eq("source_id", sourceId));
    const docs = this.documentsTable();
    const chunkTable = this.chunksTable();
    const chunks = await wrap("count rows", () => chunkTable.countRows(filter), chunkTable.name);
    if (chunks > 0) await write("delete chunks", () => chunkTable.delete(filter), chunkTable.name);
    const documents = await wrap("count rows", () => docs.countRows(filter), docs.name);
    if (documents > 0) await write("delete documents", () => docs.delete(filter), docs.name);
    return { documents, chunks };
  }

  async compact(options: {
    retentionHours: number;
    skipCleanup?: boolean;
  }): Promise<{ before: TableHealth[]; after: TableHealth[] }> {
    const { retentionHours } = options;
    if (!Number.isFinite(retentionHours) || retentionHours < 0) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `retention ${retentionHours} hours is not a number >= 0`,
      );
    }
    const docs = this.documentsTable();
    const chunks = this.chunksTable();
    for (const t of [docs, chunks]) await wrap("checkout latest", () => t.checkoutLatest(), t.name);
    const before = await this.health();
    // `skipCleanup` (a backup is reading the files): only versions older than 1970 would go, i.e. none.
    const cleanupOlderThan = options.skipCleanup
      ? new Date(0)
      : new Date(Date.now() - retentionHours * 3_600_000);
    if ((await wrap("count rows", () => chunks.countRows(), chunks.name)) > 0) {
      await write("build full-text index", () => ensureFtsIndex(chunks), chunks.name);
    }
    const rows = await wrap("count rows", () => chunks.countRows(), chunks.name);
    const threshold = this.options.vectorIndexThreshold ?? VECTOR_INDEX_THRESHOLD;
    if (wantsVectorIndex(rows, threshold)) {
      const type = this.options.vectorIndexType ?? "ivf_pq";
      const existing = await wrap("list indices", () => vectorIndexOf(chunks));
      if (!existing || !isIndexType(existing, type)) {
        await write(
          "build vector index",
          () => buildVectorIndex(chunks, existing !== undefined, type),
          chunks.name,
        );
      }
    }
    for (const table of [docs, chunks]) {
      await write(
        "optimize",
        () =>
          table.optimize({
            cleanupOlderThan,
            deleteUnverified: retentionHours === 0 && !options.skipCleanup,
          }),
        table.name,
      );
    }
    return { before, after: await this.health() };
  }

  async drop(): Promise<string[]> {
    await this.close();
    const lancedb = await loadLanceDb();
    const conn = await wrap("connect", () => lancedb.connect(this.options.uri));
    const dropped: string[] = [];
    try {
      const names = new Set(await wrap("list tables", () => conn.tableNames()));
      // Chunks first: a drop cut short leaves documents without chunks, which a sync repairs.
      for (const t of [this.options.chunksTable, this.options.documentsTable]) {
        if (!names.has(t)) continue;
        await wrap("drop table", () => conn.dropTable(t), t);
        dropped.push(t);
      }
    } finally {
      conn.close();
    }
    return dropped;
  }

  async health(): Promise<TableHealth[]> {
    const out: TableHealth[] = [];
    const chunks = this.chunksTable();
    for (const table of [this.documentsTable(), chunks]) {
      const [stats, version, versions] = await wrap(
        "table statistics",
        () => Promise.all([table.stats(), table.version(), table.listVersions()]),
        table.name,
      );
      out.push({
        name: table.name,
        rows: stats.numRows,
        version,
        versions: versions.length,
        fragments: stats.fragmentStats.numFragments,
        smallFragments: stats.fragmentStats.numSmallFragments,
        ...(table === chunks
          ? {
              needsVectorIndex:
                wantsVectorIndex(
                  stats.numRows,
                  this.options.vectorIndexThreshold ?? VECTOR_INDEX_THRESHOLD,
                ) && !(await wrap("list indices", () => vectorIndexOf(table), table.name)),
            }
          : {}),
      });
    }
    return out;
  }

  async close(): Promise<void> {
    this.docs?.close();
    this.chunks?.close();
    this.conn?.close();
    this.docs = undefined;
    this.chunks = undefined;
    this.docsArrowSchema = undefined;
    this.chunksArrowSchema = undefined;
    this.conn = undefined;
  }
}

/** What {@link inspectTables} found in one table. */
export interface TableInspection {
  name: string;
  /** False when the table exists but cannot be read in full. */
  ok: boolean;
  exists: boolean;
  /** Rows read (all columns of every row), when it could be read. */
  rows: number | null;
  /** Version the table opens at. */
  version: number | null;
  /** Newest version in `_versions` (local stores). */
  latestVersion: number | null;
  /** What is wrong, naming the file where LanceDB says it. */
  problem: string | null;
}

/**
 * Reads both tables in full, for `doctor`: the newest manifest's framing, that the table opens at its newest
 * version, and every column of every row (a missing or unreadable data file fails here). Read-only.
 */
export async function inspectTables(options: LanceDbStoreOptions): Promise<TableInspection[]> {
  const lancedb = await loadLanceDb();
  const conn = await wrap("connect", () => lancedb.connect(options.uri));
  try {
    const names = new Set(await wrap("list tables", () => conn.tableNames()));
    const out: TableInspection[] = [];
    for (const name of [options.documentsTable, options.chunksTable]) {
      const latest = manifestVersions(options.uri, name)[0];
      const base = {
        name,
        exists: names.has(name),
        rows: null,
        version: null,
        latestVersion: latest?.version ?? null,
      };
      if (!names.has(name)) {
        out.push({ ...base, ok: true, problem: null });
        continue;
      }
      try {
        checkNewestManifest(options.uri, name);
        const table = await wrap("open table", () => conn.openTable(name), name);
        try {
          const version = await wrap("read version", () => table.version(), name);
          const rows = await readAllRows(table);
          const behind = latest && version !== latest.version;
          out.push({
            ...base,
            ok: !behind,
            rows,
            version,
            problem: behind
              ? `opens at version ${version}, but the newest manifest is version ${latest.version}`
              : null,
          });
        } finally {
          table.close();
        }
      } catch (err) {
        out.push({ ...base, ok: false, problem: storeError("read", err, name).message });
      }
    }
    return out;
  } finally {
    conn.close();
  }
}

/** Reads every column of every row of the table's current version; returns the row count. */
async function readAllRows(table: Table): Promise<number> {
  const count = await wrap("count rows", () => table.countRows(), table.name);
  let seen = 0;
  await wrap(
    "read every row",
    async () => {
      for await (const batch of table.query().limit(count + 1)) seen += batch.numRows;
    },
    table.name,
  );
  if (seen !== count) {
    throw new SyncError(
      "SYNC_E_STORE_DAMAGED",
      `table "${table.name}": counted ${count} rows but read ${seen}`,
    );
  }
  return count;
}

/** What {@link repairTable} did. */
export interface TableRepair {
  name: string;
  /** Version the table was at (or its newest manifest, when it did not open). */
  from: number | null;
  /** The readable version it went back to. */
  restoredVersion: number;
  /** Version the table is at now (a restore commits a new version equal to `restoredVersion`). */
  to: number;
  /** Manifests moved aside into `<table>.lance/_damaged/` because LanceDB could not read them. */
  movedManifests: string[];
}

/**
 * Brings a damaged table back to its newest readable version: manifests LanceDB cannot read are moved aside
 * (into `<table>.lance/_damaged/`, local stores), then versions are tried newest first (`checkout`, every row
 * read) and the first one that reads in full is made the latest (`restore`). Rows committed after it are lost
 * from the table; the caller bumps the store epoch so that the next sync re-processes them. Call under the
 * writer lock. Throws `SYNC_E_STORE_DAMAGED` when no version is readable.
 */
export async function repairTable(options: LanceDbStoreOptions, name: string): Promise<TableRepair> {
  const lancedb = await loadLanceDb();
  const conn = await wrap("connect", () => lancedb.connect(options.uri));
  const movedManifests: string[] = [];
  const from = manifestVersions(options.uri, name)[0]?.version ?? null;
  try {
    let table: Table | undefined;
    for (;;) {
      try {
        checkNewestManifest(options.uri, name);
        table = await wrap("open table", () => conn.openTable(name), name);
        break;
      } catch (err) {
        const newest = manifestVersions(options.uri, name);
        if (!(err instanceof SyncError && err.code === "SYNC_E_STORE_DAMAGED") || newest.length < 2)
          throw err;
        movedManifests.push(moveManifestAside(options.uri, name, (newest[0] as { file: string }).file));
      }
    }
    try {
      const latest = await table.version();
      if (await readsInFull(table))
        return { name, from, restoredVersion: latest, to: latest, movedManifests };
      const versions = (await wrap("list versions", () => table.listVersions(), name))
        .map((v) => v.version)
        .filter((v) => v < latest)
        .sort((a, b) => b - a);
      for (const v of versions) {
        await wrap("checkout", () => (table as Table).checkout(v), name);
        if (!(await readsInFull(table))) continue;
        await write("restore", () => (table as Table).restore(), name);
        await table.checkoutLatest();
        return { name, from, restoredVersion: v, to: await table.version(), movedManifests };
      }
      throw new SyncError(
        "SYNC_E_STORE_DAMAGED",
        `table "${name}": no version of it can be read in full; \`lancedb-sync reset --yes\` and a sync rebuild it`,
      );
    } finally {
      table.close();
    }
  } finally {
    conn.close();
  }
}

async function readsInFull(table: Table): Promise<boolean> {
  try {
    await readAllRows(table);
    return true;
  } catch (err) {
    if (err instanceof SyncError && err.code === "SYNC_E_STORE_DAMAGED") return false;
    throw err;
  }
}

/** Moves a manifest out of `_versions` (and drops the latest-version hint, which LanceDB may skip). */
function moveManifestAside(uri: string, table: string, file: string): string {
  const dir = join(uri, `${table}.lance`, "_damaged");
  mkdirSync(dir, { recursive: true });
  const target = join(dir, file.split(/[\\/]/).pop() as string);
  renameSync(file, target);
  rmSync(join(uri, `${table}.lance`, "_versions", "latest_version_hint.json"), { force: true });
  return target;
}

/** Identity and versions of a store (see {@link LanceDbStore.identity}). */

/** Chunk columns a search hit is made of (`url` and `metadata` only from layout 2). */
const HIT_COLUMNS = [
  "doc_id",
  "chunk_id",
  "item_key",
  "source_id",
  "title",
  "text",
  "start",
  "end",
  "url",
  "metadata",
];

function toHit(r: Record<string, unknown>, score: number): ChunkHit {
  return {
    doc_id: r.doc_id as string,
    chunk_id: r.chunk_id as string,
    item_key: r.item_key as string,
    source_id: r.source_id as string,
    title: r.title as string,
    text: r.text as string,
    start: r.start as number,
    end: r.end as number,
    score,
    metadata: parseMetadata(r.metadata) ?? {},
    url: typeof r.url === "string" && r.url !== "" ? r.url : null,
  };
}

/** A document's metadata JSON as an object; anything else (absent, unparsable, not an object) as `{}`. */
function checkPage(limit: number | undefined, offset: number): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", `limit ${limit} is not an integer >= 0`);
  }
  if (!Number.isInteger(offset) || offset < 0) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", `offset ${offset} is not an integer >= 0`);
  }
}

/** Source id, then item key, then doc id (code-unit order, as `listUserDocuments` promises). */
export function compareDocuments(a: DocumentRow, b: DocumentRow): number {
  for (const k of ["source_id", "item_key", "doc_id"] as const) {
    if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  }
  return 0;
}

/** Fails with `SYNC_E_LAYOUT_TOO_NEW` when `layout` is newer than this code knows. */
function checkNotTooNew(table: string, layout: number, schema?: Schema): void {
  if (layout <= Number(LAYOUT_VERSION)) return;
  const recorded =
    schema?.fields.find((f) => f.name === "doc_id")?.metadata.get(LAYOUT_KEY) ??
    schema?.metadata.get(LAYOUT_KEY) ??
    String(layout);
  throw new SyncError(
    "SYNC_E_LAYOUT_TOO_NEW",
    `table "${table}" has layout ${recorded}, newer than the layouts this lancedb-sync knows (up to ` +
      `${LAYOUT_VERSION}): it was written by a newer lancedb-sync; upgrade lancedb-sync to use it`,
  );
}

function withStoreId(schema: Schema, storeId: string): Schema {
  return new (schema.constructor as typeof Schema)(
    schema.fields,
    new Map([...schema.metadata, [STORE_ID_KEY, storeId]]),
  );
}

function storeIdOf(schema: Schema): string | undefined {
  return (
    schema.metadata.get(STORE_ID_KEY) ??
    schema.fields.find((f) => f.name === "doc_id")?.metadata.get(STORE_ID_KEY) ??
    undefined
  );
}

function checkEmbedder(table: string, schema: Schema, embedder: Pick<Embedder, "id" | "dimensions">): void {
  const builtWith = schema.metadata.get(EMBEDDER_ID_KEY);
  const dims = schema.metadata.get(DIMENSIONS_KEY);
  if (builtWith !== embedder.id || dims !== String(embedder.dimensions)) {
    throw new SyncError(
      "SYNC_E_EMBEDDER_MISMATCH",
      `table "${table}" was built with embedder "${builtWith ?? "unknown"}" (${dims ?? "?"} dims) but the ` +
        `configured embedder is "${embedder.id}" (${embedder.dimensions} dims); restore the old embedder ` +
        "settings, or re-index with `lancedb-sync reset --yes` followed by `lancedb-sync sync`",
    );
  }
}

export { storeError, withConflictRetry, wrap };
