import type { Worker } from "node:worker_threads";
import { SyncError } from "../../errors/sync-error.js";
import { startSiblingWorker } from "../parse/source-worker.js";
import type { EmbedRequest, EmbedResponse } from "./embed-protocol.js";

/** Options of {@link EmbedPool}. */
export interface EmbedPoolOptions {
  /** Most workers alive at once; more batches wait in line. */
  size: number;
  /** A worker idle this long is stopped (default 10 s); the next batch starts a new one. */
  idleMs?: number;
}

interface Pending {
  req: EmbedRequest;
  resolve: (vectors: Float32Array) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker;
  /** The worker has loaded its modules. */
  ready: boolean;
  job: Pending | undefined;
  idle: NodeJS.Timeout | undefined;
}

/**
 * Worker threads that run the hashing embedder's model (`hashVectors`) on batches of texts, so a sync
 * never holds the event loop for the length of an embedding batch. Workers start on demand, are reused,
 * are unreferenced and stopped after `idleMs` while idle (they never keep the process alive), and each
 * answer comes back as one transferred buffer.
 */
export class EmbedPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  /** Creates an empty pool; workers start with the first batches. */
  constructor(private readonly options: EmbedPoolOptions) {}

  /** Workers alive now (for tests). */
  get workers(): number {
    return this.slots.length;
  }

  /** Workers that have loaded their modules (a batch sent now starts at once). */
  get readyWorkers(): number {
    let n = 0;
    for (const s of this.slots) if (s.ready) n++;
    return n;
  }

  /** Starts workers up to `size` now, so that they are ready when batches come. */
  warm(): void {
    while (!this.closed && this.slots.length < this.options.size) this.idleAfterJob(this.spawn());
  }

  /**
   * The vectors of `texts` (width `dimensions`) end to end in one buffer.
   *
   * @throws SyncError `SYNC_E_EMBEDDING_FAILED` when the pool is closed or a worker failed.
   */
  run(texts: string[], dimensions: number): Promise<Float32Array> {
    if (this.closed) return Promise.reject(failure("the embedder is closed", false));
    return new Promise<Float32Array>((resolve, reject) => {
      this.queue.push({ req: { id: this.nextId++, texts, dimensions }, resolve, reject });
      this.pump();
    });
  }

  /** Stops every worker and fails the batches still waiting or running. */
  async close(): Promise<void> {
    this.closed = true;
    const reason = failure("the embedder was closed", false);
    for (const p of this.queue.splice(0)) p.reject(reason);
    await Promise.all(this.slots.slice().map((s) => this.stop(s, reason)));
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      let slot = this.slots.find((s) => s.job === undefined);
      if (slot === undefined) {
        if (this.slots.length >= this.options.size) return;
        slot = this.spawn();
      }
      const job = this.queue.shift() as Pending;
      clearTimeout(slot.idle);
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage(job.req);
    }
  }

  private spawn(): Slot {
    const worker = startSiblingWorker(import.meta.url, "embed-worker");
    const slot: Slot = { worker, ready: false, job: undefined, idle: undefined };
    this.slots.push(slot);
    worker.unref();
    worker.on("message", (res: EmbedResponse) => this.answer(slot, res));
    worker.on("error", (err) => this.died(slot, err));
    worker.on("exit", (code) => this.died(slot, new Error(`embedding worker exited with code ${code}`)));
    return slot;
  }

  private answer(slot: Slot, res: EmbedResponse): void {
    if ("ready" in res) {
      slot.ready = true;
      return;
    }
    const job = slot.job;
    if (job === undefined || job.req.id !== res.id) return;
    slot.job = undefined;
    this.idleAfterJob(slot);
    if (res.ok) job.resolve(res.vectors);
    else job.reject(failure(`embedding worker failed: ${res.message}`, false));
    this.pump();
  }

  /** Unreferences an idle worker and stops it after `idleMs` unless a batch comes first. */
  private idleAfterJob(slot: Slot): void {
    slot.worker.unref();
    clearTimeout(slot.idle);
    slot.idle = setTimeout(() => void this.stop(slot), this.options.idleMs ?? 10_000);
    slot.idle.unref();
  }

  /** The worker failed or exited: fail its batch (the engine retries the run's items later) and replace it. */
  private died(slot: Slot, err: unknown): void {
    const i = this.slots.indexOf(slot);
    if (i === -1) return;
    this.slots.splice(i, 1);
    clearTimeout(slot.idle);
    const job = slot.job;
    slot.job = undefined;
    job?.reject(failure(`embedding worker failed: ${String(err)}`, true, err));
    this.pump();
  }

  private async stop(slot: Slot, reason?: unknown): Promise<void> {
    const i = this.slots.indexOf(slot);
    if (i === -1) return;
    this.slots.splice(i, 1);
    clearTimeout(slot.idle);
    const job = slot.job;
    slot.job = undefined;
    if (job !== undefined) job.reject(reason);
    await slot.worker.terminate();
    this.pump();
  }
}

function failure(why: string, retryable: boolean, cause?: unknown): SyncError {
  return new SyncError("SYNC_E_EMBEDDING_FAILED", `hashing embedder: ${why}`, { retryable, cause });
}
