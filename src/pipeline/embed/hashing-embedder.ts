import type { Embedder } from "../../core/embedder.js";
import { SyncError } from "../../errors/sync-error.js";
import type { EmbedPool } from "./embed-pool.js";
import { hashVector, hashVectors } from "./hash-vector.js";

/** Vector width of the hashing embedder when none is configured. */
export const DEFAULT_HASHING_DIMENSIONS = 384;

/** The id of the hashing embedder of width `dimensions` (recorded with the tables). */
export function hashingEmbedderId(dimensions: number): string {
  return `hashing-ngram-v1:${dimensions}`;
}

/** Options of {@link HashingEmbedder}. */
export interface HashingEmbedderOptions {
  /** Vector width; default 384. */
  dimensions?: number;
  /**
   * Worker threads to embed in (default 0: every call runs on the calling thread). With workers, a call
   * whose texts hold more than `inlineMaxChars` characters is split into batches of about `batchChars`
   * characters, embedded in the workers; the event loop stays free meanwhile. While no worker has started
   * yet, batches run on the calling thread, one per turn of the event loop.
   */
  threads?: number;
  /** Calls with at most this many characters in all run on the calling thread (a query); default 4,096. */
  inlineMaxChars?: number;
  /** Characters per worker batch; default 65,536 (about 10 ms of work). */
  batchChars?: number;
  /** A worker idle this long is stopped; default 10 s. */
  idleMs?: number;
  /**
   * Embed on the calling thread while no worker has started (default true). False sends every batch to the
   * workers, waiting for them to start (tests, to know where batches run).
   */
  inlineUntilReady?: boolean;
}

/**
 * The default, offline embedder: a *lexical* model, not a semantic one. Each word unigram and bigram is
 * hashed (FNV-1a, signed feature hashing) into a fixed-width vector, which is then L2-normalised. Similar
 * wording gives similar vectors; synonyms do not. Deterministic, needs no download, and costs about a
 * microsecond per word. Tokens are runs of letters and digits, lower-cased; in CJK, kana and Hangul text
 * each character is a token. Vectors are the same whether they were computed in a worker or not.
 */
export class HashingEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  readonly normalized = true;
  /** Deterministic and local: computing a vector again costs less than reading it back from the store. */
  readonly recomputable = true;
  private readonly threads: number;
  private readonly inlineMaxChars: number;
  private readonly batchChars: number;
  private pool: Promise<EmbedPool> | undefined;
  private closed = false;

  constructor(private readonly options: HashingEmbedderOptions = {}) {
    this.dimensions = options.dimensions ?? DEFAULT_HASHING_DIMENSIONS;
    this.id = hashingEmbedderId(this.dimensions);
    this.threads = options.threads ?? 0;
    this.inlineMaxChars = options.inlineMaxChars ?? 4096;
    this.batchChars = Math.max(1, options.batchChars ?? 65_536);
  }

  /**
   * See {@link Embedder.embed}; rejects with the signal's reason when `signal` is already aborted (batches
   * already handed to a worker complete). After {@link close}, calls that would need a worker fail with
   * `SYNC_E_EMBEDDING_FAILED`.
   */
  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    signal?.throwIfAborted();
    let chars = 0;
    for (const t of texts) chars += t.length;
    if (this.threads <= 0 || chars <= this.inlineMaxChars) return texts.map((t) => this.embedOne(t));
    if (this.closed) {
      throw new SyncError("SYNC_E_EMBEDDING_FAILED", "hashing embedder: closed", { retryable: false });
    }
    const pool = await this.getPool();
    const batches: string[][] = [];
    let batch: string[] = [];
    let batchChars = 0;
    for (const t of texts) {
      if (batch.length > 0 && batchChars + t.length > this.batchChars) {
        batches.push(batch);
        batch = [];
        batchChars = 0;
      }
      batch.push(t);
      batchChars += t.length;
    }
    if (batch.length > 0) batches.push(batch);
    const dims = this.dimensions;
    // Until a worker has started (tens of ms, more on a busy machine), batches run here, one per turn of
    // the event loop: a short run (a few hundred chunks) does not wait for worker start-up.
    const results: Array<Float32Array | Promise<Float32Array>> = [];
    for (const b of batches) {
      if (pool.readyWorkers > 0 || this.options.inlineUntilReady === false) {
        const sent = pool.run(b, dims);
        // Awaited below; until then a failure must not count as unhandled (the loop may still yield).
        sent.catch(() => undefined);
        results.push(sent);
      } else {
        pool.warm();
        results.push(hashVectors(b, dims));
        await new Promise((r) => setImmediate(r));
      }
    }
    const out: Float32Array[] = [];
    for (const [i, vectors] of (await Promise.all(results)).entries()) {
      const n = (batches[i] as string[]).length;
      for (let j = 0; j < n; j++) out.push(vectors.subarray(j * dims, (j + 1) * dims));
    }
    return out;
  }

  /** Synchronous form of {@link embed} for one text, on the calling thread. */
  embedOne(text: string): Float32Array {
    return hashVector(text, new Float32Array(this.dimensions));
  }

  /** Stops the worker threads (idle ones never keep the process alive, so this is optional). */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    if (pool !== undefined) await (await pool).close();
  }

  private getPool(): Promise<EmbedPool> {
    this.pool ??= import("./embed-pool.js").then(
      ({ EmbedPool }) => new EmbedPool({ size: this.threads, idleMs: this.options.idleMs ?? 10_000 }),
    );
    return this.pool;
  }
}
