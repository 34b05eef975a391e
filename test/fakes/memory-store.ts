import type {
  ApplyBatch,
  ChunkHit,
  ChunkQuery,
  ChunkRow,
  DocumentRow,
  DocumentStore,
  ListDocumentsOptions,
  StoreIdentity,
  TableHealth,
} from "../../src/core/document-store.js";
import type { Embedder } from "../../src/core/embedder.js";
import { SyncError } from "../../src/errors/sync-error.js";
import { hasMetadataFilter, metadataMatches, userFilter } from "../../src/storage/filter.js";
import { compareDocuments } from "../../src/storage/lancedb-store.js";

/** Where an injected failure strikes inside `applyBatch`. */
export type FailPhase =
  /** Before anything is written. */
  | "before"
  /** After old chunks were removed and the new chunks added, before document rows are written. */
  | "after-chunks"
  /** After old document rows were removed, before the new ones are appended. */
  | "after-docs";

/** One recorded `applyBatch` call. */
export interface Commit {
  upsertDocIds: string[];
  replaceDocIds: string[];
  deleteDocIds: string[];
  chunkCount: number;
  failed: boolean;
}

/**
 * An in-memory {@link DocumentStore} that behaves like LanceDB tables: rows are appended, removed by filter
 * and never deduplicated on their own. An upsert of a document whose rows exist without being named in
 * `replaceDocIds` therefore leaves duplicates (as `add` does in LanceDB) and is also logged in `violations`.
 * `failOnApply(n, phase)` makes the n-th following `applyBatch` throw part-way through.
 * Search: `fts` matches chunks containing any query term (lower-cased words), scored by the number of term
 * occurrences; `vector` ranks by cosine similarity; `hybrid` fuses both by reciprocal rank (k = 60). The
 * full-text "index" exists while `ftsIndex` is true (default), and `compact` sets it.
 */
export class MemoryStore implements DocumentStore {
  docs: DocumentRow[] = [];
  chunks: ChunkRow[] = [];
  readonly commits: Commit[] = [];
  readonly violations: string[] = [];
  openCalls = 0;
  lookupCalls = 0;
  /** The `userId` argument of each `lookupVectors` call, in order (undefined: global scope). */
  readonly lookupUserIds: Array<string | undefined> = [];
  /** Number of `listDocuments` calls (journal rebuilds and store verification). */
  listDocumentsCalls = 0;
  /** Id of the embedder the store was opened with first. */
  builtWith: string | undefined;
  dimensions: number | undefined;
  /** Whether the fake full-text index exists (see the class comment). */
  ftsIndex = true;
  /** Number of `search` calls. */
  searchCalls = 0;
  private failAt: { call: number; phase: FailPhase } | undefined;
  /** Milliseconds each `applyBatch` waits before its rows become visible (a slow disk or object store). */
  applyDelayMs = 0;

  /** Makes the `n`-th `applyBatch` from now (1 = the next one) throw at `phase`. */
  failOnApply(n: number, phase: FailPhase = "before"): this {
    this.failAt = { call: this.commits.length + n, phase };
    return this;
  }

  /** Tables exist once `open` was called (or `created` is set by a test). */
  created = false;
  private storeId = "";

  async openExisting(): Promise<boolean> {
    return this.created;
  }

  async identity(readOnly = false): Promise<StoreIdentity> {
    if (this.storeId === "" && !readOnly) this.storeId = `mem-${Math.random().toString(36).slice(2, 10)}`;
    const version = 1 + this.commits.filter((c) => !c.failed).length;
    return { storeId: this.storeId, docsVersion: version, chunksVersion: version };
  }

  async open(embedder: Pick<Embedder, "id" | "dimensions">): Promise<void> {
    this.openCalls++;
    this.created = true;
    if (this.builtWith !== undefined && this.builtWith !== embedder.id) {
      throw new SyncError("SYNC_E_EMBEDDER_MISMATCH", `built with ${this.builtWith}, not ${embedder.id}`);
    }
    this.builtWith = embedder.id;
    this.dimensions = embedder.dimensions;
  }

  async lookupVectors(textHashes: readonly string[], userId?: string): Promise<Map<string, Float32Array>> {
    this.lookupCalls++;
    this.lookupUserIds.push(userId);
    const wanted = new Set(textHashes);
    const out = new Map<string, Float32Array>();
    for (const c of this.chunks) {
      if (userId !== undefined && c.user_id !== userId) continue;
      if (wanted.has(c.text_hash) && !out.has(c.text_hash)) out.set(c.text_hash, Float32Array.from(c.vector));
    }
    return out;
  }

  async storedTextHashes(textHashes: readonly string[], userId?: string): Promise<Set<string>> {
    return new Set((await this.lookupVectors(textHashes, userId)).keys());
  }

  async applyBatch(batch: ApplyBatch): Promise<void> {
    const commit: Commit = {
      upsertDocIds: batch.upserts.map((u) => u.doc.doc_id),
      replaceDocIds: [...batch.replaceDocIds],
      deleteDocIds: [...batch.deleteDocIds],
      chunkCount: batch.upserts.reduce((n, u) => n + u.chunks.length, 0),
      failed: false,
    };
    this.commits.push(commit);
    const fail = this.failAt && this.failAt.call === this.commits.length ? this.failAt.phase : undefined;
    const crash = (phase: FailPhase) => {
      if (fail !== phase) return;
      commit.failed = true;
      this.failAt = undefined;
      throw new SyncError("SYNC_E_STORAGE", `memory store: injected failure at ${phase}`);
    };
    if (this.applyDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.applyDelayMs));
    crash("before");

    for (const u of batch.upserts) {
      if (!batch.replaceDocIds.includes(u.doc.doc_id) && this.docs.some((d) => d.doc_id === u.doc.doc_id)) {
        this.violations.push(`upsert of existing ${u.doc.doc_id} (${u.doc.item_key}) not in replaceDocIds`);
      }
      for (const c of u.chunks) {
        if (c.vector.length !== this.dimensions) {
          this.violations.push(
            `chunk ${c.chunk_id}: vector of ${c.vector.length} dims, not ${this.dimensions}`,
          );
        }
        if (c.doc_id !== u.doc.doc_id) this.violations.push(`chunk ${c.chunk_id} under doc ${u.doc.doc_id}`);
      }
    }
    const clear = new Set([...batch.replaceDocIds, ...batch.deleteDocIds]);
    this.chunks = this.chunks.filter((c) => !clear.has(c.doc_id));
    for (const u of batch.upserts) {
      for (const c of u.chunks) this.chunks.push({ ...c, vector: Float32Array.from(c.vector) });
    }
    crash("after-chunks");

    // Like LanceDbStore: drop every row of replaced and deleted documents, then append the new rows.
    const dropDocs = new Set([...batch.replaceDocIds, ...batch.deleteDocIds]);
    this.docs = this.docs.filter((d) => !dropDocs.has(d.doc_id));
    crash("after-docs");
    for (const u of batch.upserts) this.docs.push({ ...u.doc });
  }

  async isEmpty(): Promise<boolean> {
    return this.chunks.length === 0 && this.docs.length === 0;
  }

  async listDocuments(userId: string, sourceId: string): Promise<DocumentRow[]> {
    this.listDocumentsCalls++;
    return this.docs.filter((d) => d.user_id === userId && d.source_id === sourceId).map((d) => ({ ...d }));
  }

  async chunkCounts(userId: string, sourceId: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const c of this.chunks) {
      if (c.user_id === userId && c.source_id === sourceId) out.set(c.doc_id, (out.get(c.doc_id) ?? 0) + 1);
    }
    return out;
  }

  async health(): Promise<TableHealth[]> {
    return [
      {
        name: "documents",
        rows: this.docs.length,
        version: this.commits.length,
        versions: 1,
        fragments: 1,
        smallFragments: 0,
      },
      {
        name: "chunks",
        rows: this.chunks.length,
        version: this.commits.length,
        versions: 1,
        fragments: 1,
        smallFragments: 0,
      },
    ];
  }

  async countRows(userId?: string): Promise<{ documents: number; chunks: number }> {
    if (userId === undefined) return { documents: this.docs.length, chunks: this.chunks.length };
    userFilter(userId);
    return {
      documents: this.docs.filter((d) => d.user_id === userId).length,
      chunks: this.chunks.filter((c) => c.user_id === userId).length,
    };
  }

  async embedderId(): Promise<string | undefined> {
    return this.builtWith;
  }

  async fullTextReady(): Promise<boolean> {
    return this.ftsIndex;
  }

  async search(q: ChunkQuery): Promise<ChunkHit[]> {
    this.searchCalls++;
    userFilter(q.userId);
    if (!Number.isInteger(q.limit) || q.limit < 1) {
      throw new SyncError("SYNC_E_INVALID_ARGUMENT", `limit ${q.limit} is not a positive integer`);
    }
    if (q.mode !== "fts") {
      if (!q.vector)
        throw new SyncError("SYNC_E_INVALID_ARGUMENT", `a ${q.mode} search needs a query vector`);
      if (q.embedderId !== undefined && this.builtWith !== undefined && q.embedderId !== this.builtWith) {
        throw new SyncError("SYNC_E_EMBEDDER_MISMATCH", `built with ${this.builtWith}, not ${q.embedderId}`);
      }
    }
    if (q.mode !== "vector" && !this.ftsIndex) {
      throw new SyncError("SYNC_E_INVALID_ARGUMENT", "no full-text index yet");
    }
    const f = q.filters;
    const metaOk = (docId: string) => {
      if (!hasMetadataFilter(f)) return true;
      return this.docs.some(
        (d) => d.doc_id === docId && d.user_id === q.userId && metadataMatches(d.metadata, f?.metadata ?? {}),
      );
    };
    const candidates = this.chunks.filter(
      (c) =>
        c.user_id === q.userId &&
        (!f?.sourceIds || f.sourceIds.includes(c.source_id)) &&
        (!f?.docIds || f.docIds.includes(c.doc_id)) &&
        metaOk(c.doc_id),
    );
    const byText = (): Array<[ChunkRow, number]> => {
      const terms = words(q.text);
      return candidates
        .map((c): [ChunkRow, number] => {
          const have = words(c.text);
          return [c, terms.reduce((n, t) => n + have.filter((w) => w === t).length, 0)];
        })
        .filter(([, score]) => score > 0)
        .sort((a, b) => b[1] - a[1]);
    };
    const byVector = (): Array<[ChunkRow, number]> =>
      candidates
        .map((c): [ChunkRow, number] => [c, cosine(c.vector, q.vector as Float32Array)])
        .sort((a, b) => b[1] - a[1]);
    let ranked: Array<[ChunkRow, number]>;
    if (q.mode === "fts") ranked = byText();
    else if (q.mode === "vector") ranked = byVector();
    else {
      const fused = new Map<ChunkRow, number>();
      for (const list of [byText(), byVector()]) {
        for (const [i, [c]] of list.entries()) fused.set(c, (fused.get(c) ?? 0) + 1 / (60 + i + 1));
      }
      ranked = [...fused].sort((a, b) => b[1] - a[1]);
    }
    return ranked.slice(0, q.limit).map(([c, score]) => toHit(c, score));
  }

  async getDocument(userId: string, docId: string): Promise<DocumentRow | undefined> {
    userFilter(userId);
    const d = this.docs.find((r) => r.user_id === userId && r.doc_id === docId);
    return d && { ...d };
  }

  async listUserDocuments(userId: string, options: ListDocumentsOptions = {}): Promise<DocumentRow[]> {
    userFilter(userId);
    const { sourceId, limit, offset = 0 } = options;
    return this.docs
      .filter((d) => d.user_id === userId && (sourceId === undefined || d.source_id === sourceId))
      .map((d) => ({ ...d }))
      .sort(compareDocuments)
      .slice(offset, limit === undefined ? undefined : offset + limit);
  }

  async removeSource(userId: string, sourceId: string): Promise<{ documents: number; chunks: number }> {
    userFilter(userId);
    const mine = (r: { user_id: string; source_id: string }) =>
      r.user_id === userId && r.source_id === sourceId;
    const chunks = this.chunks.filter(mine).length;
    this.chunks = this.chunks.filter((c) => !mine(c));
    const documents = this.docs.filter(mine).length;
    this.docs = this.docs.filter((d) => !mine(d));
    return { documents, chunks };
  }

  async compact(options: {
    retentionHours: number;
  }): Promise<{ before: TableHealth[]; after: TableHealth[] }> {
    if (!Number.isFinite(options.retentionHours) || options.retentionHours < 0) {
      throw new SyncError("SYNC_E_INVALID_ARGUMENT", `retention ${options.retentionHours} hours`);
    }
    const before = await this.health();
    if (this.chunks.length > 0) this.ftsIndex = true;
    return { before, after: await this.health() };
  }

  async drop(): Promise<string[]> {
    this.docs = [];
    this.chunks = [];
    this.builtWith = undefined;
    this.dimensions = undefined;
    return ["chunks", "documents"];
  }

  async close(): Promise<void> {}

  /** Successful calls that wrote documents. */
  upsertCommits(): Commit[] {
    return this.commits.filter((c) => c.upsertDocIds.length > 0);
  }

  /** Calls that deleted documents. */
  deleteCommits(): Commit[] {
    return this.commits.filter((c) => c.deleteDocIds.length > 0);
  }

  docById(docId: string): DocumentRow | undefined {
    return this.docs.find((d) => d.doc_id === docId);
  }

  chunksOf(docId: string): ChunkRow[] {
    return this.chunks.filter((c) => c.doc_id === docId).sort((a, b) => a.ordinal - b.ordinal);
  }

  /** A deep copy of the rows, to compare before and after. */
  snapshot(): { docs: DocumentRow[]; chunks: Array<Omit<ChunkRow, "vector"> & { vector: number[] }> } {
    return {
      docs: this.docs.map((d) => ({ ...d })),
      chunks: this.chunks.map((c) => ({ ...c, vector: [...c.vector] })),
    };
  }
}

const words = (text: string): string[] => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

function toHit(c: ChunkRow, score: number): ChunkHit {
  let metadata: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(c.metadata);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed))
      metadata = parsed as Record<string, unknown>;
  } catch {
    // not JSON: no metadata
  }
  return {
    doc_id: c.doc_id,
    chunk_id: c.chunk_id,
    item_key: c.item_key,
    source_id: c.source_id,
    title: c.title,
    text: c.text,
    start: c.start,
    end: c.end,
    score,
    metadata,
    url: c.url === "" ? null : c.url,
  };
}
