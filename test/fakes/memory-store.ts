import type {
  ApplyBatch,
  ChunkRow,
  DocumentRow,
  DocumentStore,
  TableHealth,
} from "../../src/core/document-store.js";
import type { Embedder } from "../../src/core/embedder.js";
import { SyncError } from "../../src/errors/sync-error.js";

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
  embedderId: string | undefined;
  dimensions: number | undefined;
  private failAt: { call: number; phase: FailPhase } | undefined;
  /** Milliseconds each `applyBatch` waits before its rows become visible (a slow disk or object store). */
  applyDelayMs = 0;

  /** Makes the `n`-th `applyBatch` from now (1 = the next one) throw at `phase`. */
  failOnApply(n: number, phase: FailPhase = "before"): this {
    this.failAt = { call: this.commits.length + n, phase };
    return this;
  }

  async open(embedder: Pick<Embedder, "id" | "dimensions">): Promise<void> {
    this.openCalls++;
    if (this.embedderId !== undefined && this.embedderId !== embedder.id) {
      throw new SyncError("SYNC_E_EMBEDDER_MISMATCH", `built with ${this.embedderId}, not ${embedder.id}`);
    }
    this.embedderId = embedder.id;
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
