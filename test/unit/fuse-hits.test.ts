import { describe, expect, it } from "vitest";
import type { ChunkHit } from "../../src/core/document-store.js";
import { fuseHits } from "../../src/search/fuse-hits.js";

function hit(chunkId: string, score: number): ChunkHit {
  return {
    doc_id: chunkId.split(":")[0] as string,
    chunk_id: chunkId,
    item_key: `/k/${chunkId}`,
    source_id: "s",
    title: "t",
    text: "x",
    start: 0,
    end: 1,
    score,
    metadata: {},
    url: null,
  } as ChunkHit;
}

describe("fuseHits", () => {
  it("scores each half relative to its best hit and sums the weighted parts", () => {
    const fts = [hit("a:0", 8), hit("b:0", 4)];
    const vec = [hit("b:0", 0.5), hit("c:0", 0.25)];
    const fused = fuseHits(fts, vec, 10);
    expect(fused.map((h) => [h.chunk_id, h.score])).toEqual([
      ["b:0", 0.75], // 0.5 × 4/8 + 0.5 × 0.5/0.5
      ["a:0", 0.5], // best full-text hit, not found by vector
      ["c:0", 0.25],
    ]);
  });

  it("a hit both halves rank high beats one only a single half likes; scores tell hits apart", () => {
    const fts = [hit("only-text:0", 10), hit("both:0", 9), hit("x:0", 1)];
    const vec = [hit("both:0", 0.9), hit("only-vec:0", 0.8), hit("y:0", 0.1)];
    const fused = fuseHits(fts, vec, 3);
    expect(fused[0]?.chunk_id).toBe("both:0");
    expect(new Set(fused.map((h) => h.score)).size).toBe(fused.length);
  });

  it("the weight moves the balance; equal scores are ordered by chunk id; limit applies", () => {
    const fts = [hit("t:0", 2)];
    const vec = [hit("v:0", 0.4)];
    expect(fuseHits(fts, vec, 2, 0.8).map((h) => h.chunk_id)).toEqual(["t:0", "v:0"]);
    expect(fuseHits(fts, vec, 2, 0.2).map((h) => h.chunk_id)).toEqual(["v:0", "t:0"]);
    expect(fuseHits(fts, vec, 2, 0.5).map((h) => h.chunk_id)).toEqual(["t:0", "v:0"]);
    expect(fuseHits(fts, vec, 1, 0.5)).toHaveLength(1);
  });

  it("an empty or all-zero half contributes nothing; negative similarities count as 0", () => {
    expect(fuseHits([], [hit("v:0", 0.3)], 5).map((h) => [h.chunk_id, h.score])).toEqual([["v:0", 0.5]]);
    expect(fuseHits([hit("t:0", 3)], [hit("n:0", -0.2)], 5).map((h) => h.chunk_id)).toEqual(["t:0"]);
  });
});
