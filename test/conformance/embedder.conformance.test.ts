import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Embedder } from "../../src/core/embedder.js";
import { SyncError } from "../../src/errors/sync-error.js";
import { HashingEmbedder } from "../../src/pipeline/embed/hashing-embedder.js";
import { createOpenAIEmbedder } from "../../src/pipeline/embed/openai-embedder.js";
import { CountingEmbedder } from "../fakes/counting-embedder.js";
import { type EmbeddingsServer, startEmbeddingsServer } from "../helpers/embeddings-server.js";

/**
 * The {@link Embedder} contract (src/core/embedder.ts), run against the production embedders (hashing, and
 * OpenAI-compatible against the local fake server) and the fake the engine tests use (CountingEmbedder): a
 * test that passes for one and fails for the others is a fake that lies or a provider that breaks the contract.
 *
 * Decided here: an already-aborted signal makes every embedder reject with `signal.reason`, CPU-only ones
 * included, so callers can rely on it to stop work.
 */

/** An embedder under test and the largest number of texts it sends in one request (Infinity: no batching). */
interface Subject {
  embedder: Embedder;
  batchSize: number;
}

let server: EmbeddingsServer;

const IMPLEMENTATIONS: Array<[string, () => Promise<Subject>]> = [
  ["counting (fake)", async () => ({ embedder: new CountingEmbedder(8), batchSize: Infinity })],
  ["hashing", async () => ({ embedder: new HashingEmbedder({ dimensions: 64 }), batchSize: Infinity })],
  [
    "hashing (worker threads)",
    // Every call goes to the workers, split into batches of a few texts.
    async () => ({
      embedder: new HashingEmbedder({
        dimensions: 64,
        threads: 2,
        inlineMaxChars: 0,
        batchChars: 40,
        idleMs: 200,
        inlineUntilReady: false,
      }),
      batchSize: 3,
    }),
  ],
  [
    "openai-compatible (local server)",
    async () => ({
      // Width learned from the server; data returned shuffled; small batches run concurrently.
      embedder: await createOpenAIEmbedder({
        baseUrl: server.url,
        model: "conformance",
        batchSize: 3,
        concurrency: 2,
        retryBaseMs: 1,
      }),
      batchSize: 3,
    }),
  ],
];

beforeAll(async () => {
  server = await startEmbeddingsServer({ shuffle: true, dimensions: 24 });
});

afterAll(async () => {
  await server.close();
});

const list = (v: Float32Array | undefined): number[] => Array.from(v ?? []);
const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

const SAMPLES = [
  "The harbour beacon flashes twice every ten seconds.",
  "",
  " ",
  "Ünïcödé, 日本語のテキスト, emoji 🚢 and\ttabs\nnewlines",
  "a",
  "x".repeat(5000),
];

describe.each(IMPLEMENTATIONS)("Embedder conformance: %s", (_name, make) => {
  let subject: Subject;
  let embedder: Embedder;

  beforeEach(async () => {
    subject = await make();
    embedder = subject.embedder;
  });

  afterEach(async () => {
    await embedder.close?.();
  });

  it("has a stable, non-empty id and a positive integer width", async () => {
    const { id, dimensions } = embedder;
    expect(typeof id).toBe("string");
    expect(id.trim()).not.toBe("");
    expect(Number.isInteger(dimensions) && dimensions > 0).toBe(true);
    await embedder.embed(SAMPLES);
    expect(embedder.id).toBe(id);
    expect(embedder.dimensions).toBe(dimensions);
    expect((await make()).embedder.id).toBe(id);
  });

  it("returns exactly texts.length vectors of `dimensions` finite floats", async () => {
    const vectors = await embedder.embed(SAMPLES);
    expect(vectors).toHaveLength(SAMPLES.length);
    for (const v of vectors) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v).toHaveLength(embedder.dimensions);
      expect(v.every((x) => Number.isFinite(x))).toBe(true);
    }
  });

  it("returns [] for no texts", async () => {
    expect(await embedder.embed([])).toEqual([]);
  });

  it("gives the same text the same vector across calls, batch positions, duplicates and instances", async () => {
    const [a, b, c] = ["alpha text", "bravo text", "charlie text"];
    const first = await embedder.embed([a, b, c] as string[]);
    const again = await embedder.embed([c, "other", a, a, b] as string[]);
    expect(list(again[0])).toEqual(list(first[2]));
    expect(list(again[2])).toEqual(list(first[0]));
    expect(list(again[3])).toEqual(list(first[0]));
    expect(list(again[4])).toEqual(list(first[1]));
    const [alone] = await embedder.embed([b as string]);
    expect(list(alone)).toEqual(list(first[1]));
    const other = (await make()).embedder;
    expect(other.id).toBe(embedder.id);
    expect((await other.embed([a, b, c] as string[])).map(list)).toEqual(first.map(list));
  });

  it("preserves order for more texts than the provider sends in one request", async () => {
    const n = Number.isFinite(subject.batchSize) ? subject.batchSize * 4 + 1 : 25;
    const texts = Array.from({ length: n }, (_, i) => `document ${i} paragraph ${i * 7}`);
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(n);
    // Distinct texts give distinct vectors here, so a misplaced vector cannot go unnoticed.
    expect(new Set(vectors.map((v) => list(v).join())).size).toBe(n);
    for (const [i, text] of texts.entries()) {
      const [alone] = await embedder.embed([text]);
      expect(list(vectors[i]), text).toEqual(list(alone));
    }
  });

  it("rejects with the signal's reason when the signal is already aborted", async () => {
    const controller = new AbortController();
    const reason = new Error("stop before starting");
    controller.abort(reason);
    await expect(embedder.embed(["a", "b"], controller.signal)).rejects.toBe(reason);
    await expect(embedder.embed(["a"], AbortSignal.abort())).rejects.toMatchObject({ name: "AbortError" });
  });

  it("returns unit-length vectors when `normalized` says so (the zero vector for a text without content)", async () => {
    const vectors = await embedder.embed(SAMPLES);
    if (!embedder.normalized) return;
    for (const [i, v] of vectors.entries()) {
      if ((SAMPLES[i] as string).trim() === "") expect([0, 1]).toContain(Math.round(norm(v) * 1e5) / 1e5);
      else expect(norm(v)).toBeCloseTo(1, 5);
    }
  });
});

describe("CountingEmbedder fault injection", () => {
  it("accepts a bare width or an options object", async () => {
    const e = new CountingEmbedder(5);
    expect(e.dimensions).toBe(5);
    expect(e.id).toBe("counting:5");
    expect(new CountingEmbedder().dimensions).toBe(8);
    expect(new CountingEmbedder({ dimensions: 3 }).id).toBe("counting:3");
  });

  it("rejectText makes a call with a matching text throw SYNC_E_EMBEDDING_REJECTED without counting texts", async () => {
    const e = new CountingEmbedder({ dimensions: 4, rejectText: (t) => t.includes("poison") });
    const err = await e.embed(["fine", "some poison here"]).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(SyncError);
    expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_REJECTED", retryable: false });
    expect((err as Error).message).toBe('text rejected: "some poison here"');
    expect(e.calls).toBe(1);
    expect(e.texts).toEqual([]);
    expect(await e.embed(["fine"])).toHaveLength(1);
    expect(e.calls).toBe(2);
    expect(e.texts).toEqual(["fine"]);
  });

  it("failWith makes every call throw what it returns, until it is cleared", async () => {
    const outage = () => new SyncError("SYNC_E_EMBEDDING_FAILED", "down", { retryable: true });
    const e = new CountingEmbedder({ failWith: outage });
    await expect(e.embed(["a"])).rejects.toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: true });
    await expect(e.embed([])).rejects.toMatchObject({ message: "down" });
    expect(e.calls).toBe(2);
    expect(e.texts).toEqual([]);
    e.failWith = undefined;
    expect(await e.embed(["a"])).toHaveLength(1);
    expect(e.texts).toEqual(["a"]);
  });
});
