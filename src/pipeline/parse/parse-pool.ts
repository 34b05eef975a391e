import type { Worker, WorkerOptions } from "node:worker_threads";
import { ERROR_CODES, type ErrorCode } from "../../errors/codes.js";
import { SyncError } from "../../errors/sync-error.js";
import type { ChunkTextOptions, TextChunk } from "../chunk-text.js";
import type { DetectedType } from "../extract/detect-type.js";
import type { ExtractedDocument } from "../extract/extracted-document.js";
import type { ParseRequest, ParseResponse } from "./parse-protocol.js";
import { startSiblingWorker } from "./source-worker.js";

/** Options of {@link ParsePool}. */
export interface ParsePoolOptions {
  /** Most workers alive at once (and items parsed at once); more items wait in line. */
  size: number;
  /** Heap limit of each worker in MB (`PARSE_MEMORY_MB`). */
  memoryMb: number;
  /** Time limit of one item in ms (`PARSE_TIMEOUT_SECONDS`), counted from when a worker takes it. */
  timeoutMs: number;
  /** Largest total uncompressed size of a DOCX's zip parts, bytes (`MAX_EXTRACTED_MB`). */
  maxExtractedBytes: number;
  /** A worker idle this long is stopped (default 30 s); the next item starts a new one. */
  idleMs?: number;
}

/** One item for {@link ParsePool.parse}. */
export interface ParseJob {
  bytes: Uint8Array;
  fileName: string;
  type: DetectedType;
  /** Chunk the text in the worker too; the result then carries `chunks`. */
  chunking?: ChunkTextOptions;
  signal?: AbortSignal;
}

/** What {@link ParsePool.parse} returns: the extracted document, and its chunks when the job asked for them. */
export type ParsedDocument = ExtractedDocument & { chunks?: TextChunk[] };

interface Pending {
  req: ParseRequest;
  /** Input size in bytes (the request's buffer is detached once sent). */
  size: number;
  signal: AbortSignal | undefined;
  resolve: (doc: ParsedDocument) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker;
  /** The worker has loaded its modules: a job's time limit starts when both it and the job are there. */
  ready: boolean;
  job: Pending | undefined;
  timer: NodeJS.Timeout | undefined;
  idle: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;
}

const MB = 1024 * 1024;

/**
 * A small pool of parser worker threads for HTML, PDF and DOCX. Each worker runs with a heap limit
 * (`resourceLimits.maxOldGenerationSizeMb`) and each item with a time limit: a parse that runs out of memory
 * or time stops its worker, not the process, and fails that item alone with `SYNC_E_PARSE_LIMIT`. Workers
 * start on demand, are reused, and are unreferenced while idle, so they never keep the process alive.
 */
export class ParsePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  /** Creates an empty pool; workers start with the first items. */
  constructor(private readonly options: ParsePoolOptions) {}

  /** Workers alive now (for tests and status). */
  get workers(): number {
    return this.slots.length;
  }

  /**
   * Parses one item in a worker. The bytes are copied once and the copy transferred, so the caller's buffer
   * stays usable.
   *
   * @throws SyncError the extractor's codes; `SYNC_E_PARSE_LIMIT` when the item passed the time or memory
   *   limit; `SYNC_E_INTERNAL` when the worker died otherwise. An abort rejects with the signal's reason.
   */
  parse(job: ParseJob): Promise<ParsedDocument> {
    if (this.closed) return Promise.reject(new SyncError("SYNC_E_INTERNAL", "parser pool is closed"));
    job.signal?.throwIfAborted();
    const bytes = new Uint8Array(job.bytes);
    return new Promise<ParsedDocument>((resolve, reject) => {
      const req: ParseRequest = {
        id: this.nextId++,
        bytes,
        fileName: job.fileName,
        type: job.type,
        maxExtractedBytes: this.options.maxExtractedBytes,
      };
      if (job.chunking !== undefined) req.chunking = job.chunking;
      this.queue.push({
        req,
        size: bytes.byteLength,
        signal: job.signal,
        resolve,
        reject,
      });
      this.pump();
    });
  }

  /** Stops every worker and fails the items still waiting. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new SyncError("SYNC_E_INTERNAL", "parser pool closed"));
    await Promise.all(
      this.slots.slice().map((s) => this.stop(s, new SyncError("SYNC_E_INTERNAL", "parser pool closed"))),
    );
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      let slot = this.slots.find((s) => s.job === undefined);
      if (slot === undefined) {
        if (this.slots.length >= this.options.size) return;
        slot = this.spawn();
      }
      const next = this.queue.shift();
      if (next === undefined) return;
      this.start(slot, next);
    }
  }

  private spawn(): Slot {
    const options: WorkerOptions = {
      resourceLimits: { maxOldGenerationSizeMb: this.options.memoryMb },
    };
    const worker = startSiblingWorker(import.meta.url, "parse-worker", options);
    const slot: Slot = {
      worker,
      ready: false,
      job: undefined,
      timer: undefined,
      idle: undefined,
      onAbort: undefined,
    };
    this.slots.push(slot);
    worker.unref();
    worker.on("message", (res: ParseResponse) => this.answer(slot, res));
    worker.on("error", (err) => this.died(slot, err));
    worker.on("exit", (code) => this.died(slot, new Error(`parser worker exited with code ${code}`)));
    return slot;
  }

  private start(slot: Slot, job: Pending): void {
    if (job.signal?.aborted) {
      job.reject(job.signal.reason);
      return;
    }
    clearTimeout(slot.idle);
    slot.job = job;
    slot.worker.ref();
    if (slot.ready) this.arm(slot);
    if (job.signal !== undefined) {
      const signal = job.signal;
      slot.onAbort = () => void this.stop(slot, signal.reason);
      signal.addEventListener("abort", slot.onAbort, { once: true });
    }
    slot.worker.postMessage(job.req, [job.req.bytes.buffer as ArrayBuffer]);
  }

  /** Starts the time limit of the slot's job. */
  private arm(slot: Slot): void {
    const job = slot.job;
    if (job === undefined || slot.timer !== undefined) return;
    slot.timer = setTimeout(() => {
      const s = this.options.timeoutMs / 1000;
      void this.stop(
        slot,
        new SyncError(
          "SYNC_E_PARSE_LIMIT",
          `${job.req.fileName}: parsing took longer than PARSE_TIMEOUT_SECONDS (${s} s); the parser was stopped`,
        ),
      );
    }, this.options.timeoutMs);
  }

  /** Detaches the slot's current job (if any) and returns it. */
  private release(slot: Slot): Pending | undefined {
    const job = slot.job;
    slot.job = undefined;
    clearTimeout(slot.timer);
    slot.timer = undefined;
    if (job?.signal !== undefined && slot.onAbort !== undefined) {
      job.signal.removeEventListener("abort", slot.onAbort);
    }
    slot.onAbort = undefined;
    return job;
  }

  private answer(slot: Slot, res: ParseResponse): void {
    if ("ready" in res) {
      slot.ready = true;
      this.arm(slot);
      return;
    }
    if (slot.job?.req.id !== res.id) return;
    const job = this.release(slot);
    if (job === undefined) return;
    slot.worker.unref();
    slot.idle = setTimeout(() => void this.stop(slot), this.options.idleMs ?? 30_000);
    slot.idle.unref();
    if (res.ok) job.resolve(res.chunks === undefined ? res.doc : { ...res.doc, chunks: res.chunks });
    else {
      const code = (res.code in ERROR_CODES ? res.code : "SYNC_E_INTERNAL") as ErrorCode;
      job.reject(new SyncError(code, res.message));
    }
    this.pump();
  }

  /** The worker failed or exited: fail its item (out of memory is the item's fault) and replace it. */
  private died(slot: Slot, err: unknown): void {
    const i = this.slots.indexOf(slot);
    if (i === -1) return;
    this.slots.splice(i, 1);
    clearTimeout(slot.idle);
    const job = this.release(slot);
    if (job !== undefined) {
      const oom = (err as NodeJS.ErrnoException).code === "ERR_WORKER_OUT_OF_MEMORY";
      job.reject(
        oom
          ? new SyncError(
              "SYNC_E_PARSE_LIMIT",
              `${job.req.fileName}: parsing needed more than PARSE_MEMORY_MB (${this.options.memoryMb} MB, ` +
                `for ${Number((job.size / MB).toFixed(2))} MB of input); the parser was stopped`,
              { cause: err },
            )
          : new SyncError("SYNC_E_INTERNAL", `${job.req.fileName}: parser worker failed: ${String(err)}`, {
              cause: err,
            }),
      );
    }
    this.pump();
  }

  /** Stops a worker, failing its current item with `reason` (if it has one). */
  private async stop(slot: Slot, reason?: unknown): Promise<void> {
    const i = this.slots.indexOf(slot);
    if (i === -1) return;
    this.slots.splice(i, 1);
    clearTimeout(slot.idle);
    const job = this.release(slot);
    if (job !== undefined) job.reject(reason);
    await slot.worker.terminate();
    this.pump();
  }
}
