import { describe, expect, it } from "vitest";
import { isSyncError } from "../../src/errors/sync-error.js";
import { EmbedPool } from "../../src/pipeline/embed/embed-pool.js";
import { hashVectors } from "../../src/pipeline/embed/hash-vector.js";
import { HashingEmbedder } from "../../src/pipeline/embed/hashing-embedder.js";
import { rejection } from "../helpers/caught.js";
import { prng } from "../helpers/prng.js";

/** Texts of every kind the tokenizer tells apart, of lengths from empty to a few thousand characters. */
function sampleTexts(count: number, seed: number): string[] {
  const rand = prng(seed);
  const words = [
    "alpha",
    "Beta",
    "GAMMA",
    "déjà",
    "vu",
    "日本語",
    "テキスト",
    "한국어",
    "42",
    "x1",
    "🚢",
    "—",
    "naïve",
  ];
  return Array.from({ length: count }, (_, i) => {
    const n = i % 7 === 0 ? 0 : Math.floor(rand() * 600);
    const parts: string[] = [];
    for (let j = 0; j < n; j++) parts.push(words[Math.floor(rand() * words.length)] as string);
    return parts.join(rand() < 0.5 ? " " : ", ");
  });
}

describe("HashingEmbedder in worker threads", () => {
  it("gives bit-identical vectors to the calling thread's, in order, whatever the batching", async () => {
    const texts = sampleTexts(200, 7);
    const inline = new HashingEmbedder();
    const expected = await inline.embed(texts);
    for (const [batchChars, inlineUntilReady] of [
      [1, false],
      [500, false],
      [65_536, false],
      [500, true],
    ] as const) {
      const pooled = new HashingEmbedder({ threads: 3, inlineMaxChars: 0, batchChars, inlineUntilReady });
      try {
        const got = await pooled.embed(texts);
        expect(got).toHaveLength(texts.length);
        for (const [i, v] of got.entries()) {
          const want = expected[i] as Float32Array;
          expect(v).toBeInstanceOf(Float32Array);
          expect(v).toHaveLength(384);
          expect(Buffer.from(v.buffer, v.byteOffset, v.byteLength)).toEqual(
            Buffer.from(want.buffer, want.byteOffset, want.byteLength),
          );
        }
      } finally {
        await pooled.close();
      }
    }
    expect(new HashingEmbedder({ threads: 2 }).id).toBe(inline.id);
  });

  it("runs concurrent calls side by side without mixing their answers", async () => {
    const pooled = new HashingEmbedder({
      dimensions: 32,
      threads: 2,
      inlineMaxChars: 0,
      batchChars: 100,
      inlineUntilReady: false,
    });
    try {
      const calls = Array.from({ length: 6 }, (_, i) => sampleTexts(30, 100 + i));
      const results = await Promise.all(calls.map((t) => pooled.embed(t)));
      for (const [i, texts] of calls.entries()) {
        const flat = hashVectors(texts, 32);
        expect(results[i]?.flatMap((v) => [...v])).toEqual([...flat]);
      }
    } finally {
      await pooled.close();
    }
  });

  it("embeds small calls on the calling thread, and fails calls that need a worker once closed", async () => {
    const pooled = new HashingEmbedder({ threads: 2, inlineMaxChars: 100 });
    await pooled.close();
    expect(await pooled.embed(["a short query"])).toHaveLength(1);
    const err = await rejection(pooled.embed(["x".repeat(101)]));
    expect(isSyncError(err, "SYNC_E_EMBEDDING_FAILED")).toBe(true);
    expect((err as { retryable?: boolean }).retryable).toBe(false);
  });
});

describe("EmbedPool", () => {
  it("starts workers on demand, at most `size`, and stops idle ones", async () => {
    const pool = new EmbedPool({ size: 2, idleMs: 50 });
    expect(pool.workers).toBe(0);
    const texts = sampleTexts(20, 3);
    const out = await Promise.all([pool.run(texts, 16), pool.run(texts, 16), pool.run(texts, 16)]);
    for (const v of out) expect([...v]).toEqual([...hashVectors(texts, 16)]);
    expect(pool.workers).toBeLessThanOrEqual(2);
    expect(pool.workers).toBeGreaterThan(0);
    while (pool.workers > 0) await new Promise((r) => setTimeout(r, 20));
    // A new batch starts a new worker.
    expect([...(await pool.run(["again"], 8))]).toEqual([...hashVectors(["again"], 8)]);
    await pool.close();
    expect(pool.workers).toBe(0);
    expect(isSyncError(await rejection(pool.run(["x"], 8)), "SYNC_E_EMBEDDING_FAILED")).toBe(true);
  });

  it("fails the batches still waiting when it is closed", async () => {
    const pool = new EmbedPool({ size: 1 });
    const big = sampleTexts(300, 9);
    const first = pool.run(big, 384);
    const waiting = pool.run(big, 384);
    const closing = pool.close();
    const errs = await Promise.all([rejection(first), rejection(waiting)]);
    await closing;
    for (const e of errs) expect(isSyncError(e, "SYNC_E_EMBEDDING_FAILED")).toBe(true);
  });
});

describe("HashingEmbedder while its workers start", () => {
  it("embeds the first batches on the calling thread, then in the started workers, with the same vectors", async () => {
    const pooled = new HashingEmbedder({ dimensions: 48, threads: 2, inlineMaxChars: 0, batchChars: 200 });
    try {
      const texts = sampleTexts(60, 11);
      const want = [...hashVectors(texts, 48)];
      // The first call cannot wait for worker start-up; later ones find the workers started.
      for (let i = 0; i < 3; i++) expect((await pooled.embed(texts)).flatMap((v) => [...v])).toEqual(want);
      const started = new HashingEmbedder({
        dimensions: 48,
        threads: 2,
        inlineMaxChars: 0,
        batchChars: 200,
        inlineUntilReady: false,
      });
      expect((await started.embed(texts)).flatMap((v) => [...v])).toEqual(want);
      await started.close();
    } finally {
      await pooled.close();
    }
  });
});
