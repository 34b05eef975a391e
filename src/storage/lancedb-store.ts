import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import type { Connection, Table } from "@lancedb/lancedb";
import type { Schema } from "apache-arrow";
import type {
  ApplyBatch,
  ChunkRow,
  DocumentRow,
  DocumentStore,
  TableHealth,
} from "../core/document-store.js";
import type { Embedder } from "../core/embedder.js";
import { SyncError } from "../errors/sync-error.js";
import { rowsToArrow } from "./arrow-rows.js";
import { and, eq, inList, userFilter } from "./filter.js";
import { loadLanceDb } from "./load-lancedb.js";
import {
  chunksSchema,
  DIMENSIONS_KEY,
  documentsSchema,
  EMBEDDER_ID_KEY,
  STORE_ID_KEY,
} from "./table-schemas.js";

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
  /** Chunk rows from which {@link LanceDbStore.maintain} keeps BTree indices; default 10,000. */
  indexMinRows?: number;
  /** LanceDB session cache for index pages (MB); default 256. */
  indexCacheMb?: number;
  /**
   * LanceDB session cache for file and manifest metadata (MB); default 64. LanceDB's own default (1 GB)
   * lets memory grow with every commit of a long sync.
   */
  metadataCacheMb?: number;
}

/** Largest number of ids put into one `IN (...)` filter. */
const IN_SLICE = 1000;
/** Below this many chunk rows a scan is as fast as an index. */
const INDEX_MIN_ROWS = 10_000;
/** Chunk columns with a BTree index: `text_hash` serves the embedding cache, `doc_id` replace-deletes. */
const INDEXED_COLUMNS = ["text_hash", "doc_id"] as const;

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
  private docsArrowSchema: Schema | undefined;
  private chunksArrowSchema: Schema | undefined;

  constructor(private readonly options: LanceDbStoreOptions) {}

  async open(embedder: Pick<Embedder, "id" | "dimensions">): Promise<void> {
    const lancedb = await loadLanceDb();
    if (!this.options.uri.includes("://")) mkdirSync(this.options.uri, { recursive: true });
    try {
      this.conn = await lancedb.connect(this.options.uri, { session: this.session(lancedb) });
      const names = new Set(await this.conn.tableNames());
      const { documentsTable, chunksTable } = this.options;
      const existingDocs = names.has(documentsTable) ? await this.conn.openTable(documentsTable) : undefined;
      const existingChunks = names.has(chunksTable) ? await this.conn.openTable(chunksTable) : undefined;
      if (existingChunks) checkEmbedder(chunksTable, await existingChunks.schema(), embedder);
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
    } catch (err) {
      if (err instanceof SyncError) throw err;
      throw new SyncError("SYNC_E_STORAGE", `lancedb: open ${this.options.uri}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /**
   * Opens existing tables without creating or checking anything (for status and inspection).
   * Returns false, leaving the store closed, when either table does not exist yet.
   */
  async openExisting(): Promise<boolean> {
    const lancedb = await loadLanceDb();
    const conn = await wrap("connect", () =>
      lancedb.connect(this.options.uri, { session: this.session(lancedb) }),
    );
    const names = new Set(await conn.tableNames());
    if (!names.has(this.options.documentsTable) || !names.has(this.options.chunksTable)) {
      conn.close();
      return false;
    }
    this.conn = conn;
    this.docs = await conn.openTable(this.options.documentsTable);
    this.chunks = await conn.openTable(this.options.chunksTable);
    return true;
  }

  /** Embedder id recorded with the chunks table. */
  async embedderId(): Promise<string | undefined> {
    return (await this.chunksTable().schema()).metadata.get(EMBEDDER_ID_KEY);
  }

  /** Rows of documents and chunks, optionally of one user only. */
  private writeSchema(schema: Schema | undefined): Schema {
    if (!schema) throw new SyncError("SYNC_E_INTERNAL", "lancedb store opened read-only cannot write");
    return schema;
  }

  async countRows(userId?: string): Promise<{ documents: number; chunks: number }> {
    const filter = userId === undefined ? undefined : userFilter(userId);
    const [documents, chunks] = await wrap("count rows", () =>
      Promise.all([this.documentsTable().countRows(filter), this.chunksTable().countRows(filter)]),
    );
    return { documents, chunks };
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
  connection(): Connection {
    if (!this.conn) throw new SyncError("SYNC_E_INTERNAL", "lancedb store used before open()");
    return this.conn;
  }

  /** The `processed_documents` table. */
  documentsTable(): Table {
    if (!this.docs) throw new SyncError("SYNC_E_INTERNAL", "lancedb store used before open()");
    return this.docs;
  }

  /** The `document_chunks` table. */
  chunksTable(): Table {
    if (!this.chunks) throw new SyncError("SYNC_E_INTERNAL", "lancedb store used before open()");
    return this.chunks;
  }

  async lookupVectors(textHashes: readonly string[], userId?: string): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const table = this.chunksTable();
    for (let i = 0; i < textHashes.length; i += IN_SLICE) {
      const slice = textHashes.slice(i, i + IN_SLICE);
      const filter =
        userId === undefined
          ? inList("text_hash", slice)
          : and(inList("text_hash", slice), userFilter(userId));
      const rows = await wrap("lookup vectors", () =>
        table.query().where(filter).select(["text_hash", "vector"]).toArray(),
      );
      for (const row of rows) {
        const hash = row.text_hash as string;
        if (!out.has(hash)) out.set(hash, Float32Array.from(row.vector.toArray() as Float32Array));
      }
    }
    return out;
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
      await wrap("delete chunks", () => chunks.delete(inList("doc_id", slice)));
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
        await wrap("add chunks", () => chunks.add(data));
      }
    }
    // Document rows: drop every row of replaced and deleted documents, then append the new ones. Unlike a
    // merge-insert this also repairs a document stored twice, and needs no count check.
    const dropDocs = [...batch.replaceDocIds, ...batch.deleteDocIds];
    for (let i = 0; i < dropDocs.length; i += IN_SLICE) {
      const slice = dropDocs.slice(i, i + IN_SLICE);
      await wrap("delete documents", () => docs.delete(inList("doc_id", slice)));
    }
    if (batch.upserts.length > 0) {
      const data = rowsToArrow(
        this.writeSchema(this.docsArrowSchema),
        batch.upserts.map((u) => u.doc) as unknown as Record<string, unknown>[],
      );
      await wrap("add documents", () => docs.add(data));
    }
  }

  async isEmpty(): Promise<boolean> {
    const { documents, chunks } = await this.countRows();
    return documents === 0 && chunks === 0;
  }

  async listDocuments(userId: string, sourceId: string): Promise<DocumentRow[]> {
    const rows = await wrap("list documents", () =>
      this.documentsTable()
        .query()
        .where(and(eq("user_id", userId), eq("source_id", sourceId)))
        .toArray(),
    );
    return rows.map((r) => ({ ...r }) as DocumentRow);
  }

  async chunkCounts(userId: string, sourceId: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const query = this.chunksTable()
      .query()
      .where(and(eq("user_id", userId), eq("source_id", sourceId)))
      .select(["doc_id"]);
    await wrap("count chunks", async () => {
      for await (const batch of query) {
        const col = batch.getChild("doc_id");
        if (!col) continue;
        for (let i = 0; i < batch.numRows; i++) {
          const id = col.get(i) as string;
          out.set(id, (out.get(id) ?? 0) + 1);
        }
      }
    });
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
    let id = storeIdOf(await chunks.schema());
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
    const [docsVersion, chunksVersion] = await Promise.all([docs.version(), chunks.version()]);
    return { storeId: id, docsVersion, chunksVersion };
  }

  /** Current versions of both tables (cheap: no I/O beyond the open manifests). */
  async versions(): Promise<{ docsVersion: number; chunksVersion: number }> {
    const [docsVersion, chunksVersion] = await Promise.all([
      this.documentsTable().version(),
      this.chunksTable().version(),
    ]);
    return { docsVersion, chunksVersion };
  }

  /**
   * Builds the BTree indices on `text_hash` and `doc_id` once the chunks table is large enough, and rebuilds
   * one when more than a tenth of the rows are not yet in it (LanceDB scans unindexed rows, so the index
   * stays correct in between; rebuilding a BTree takes about a second per million rows).
   */
  async maintain(): Promise<void> {
    const table = this.chunksTable();
    const rows = await table.countRows();
    const minRows = this.options.indexMinRows ?? INDEX_MIN_ROWS;
    if (rows < minRows) return;
    const { Index } = await loadLanceDb();
    const indices = await table.listIndices();
    for (const col of INDEXED_COLUMNS) {
      const idx = indices.find((i) => i.columns.length === 1 && i.columns[0] === col);
      const stale = idx && (await table.indexStats(idx.name))?.numUnindexedRows;
      if (!idx || (stale ?? 0) > Math.max(minRows, rows / 10)) {
        await wrap(`index ${col}`, () => table.createIndex(col, { config: Index.btree(), replace: true }));
      }
    }
  }

  async health(): Promise<TableHealth[]> {
    const out: TableHealth[] = [];
    for (const table of [this.documentsTable(), this.chunksTable()]) {
      const [stats, version, versions] = await Promise.all([
        table.stats(),
        table.version(),
        table.listVersions(),
      ]);
      out.push({
        name: table.name,
        rows: stats.numRows,
        version,
        versions: versions.length,
        fragments: stats.fragmentStats.numFragments,
        smallFragments: stats.fragmentStats.numSmallFragments,
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

/** Identity and versions of a store (see {@link LanceDbStore.identity}). */
export interface StoreIdentity {
  storeId: string;
  docsVersion: number;
  chunksVersion: number;
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

async function wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SyncError) throw err;
    throw new SyncError("SYNC_E_STORAGE", `lancedb: ${what}: ${(err as Error).message}`, { cause: err });
  }
}
