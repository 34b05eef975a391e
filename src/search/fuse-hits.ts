import type { ChunkHit } from "../core/document-store.js";

/** Weight of the full-text half in {@link fuseHits}; the vector half gets the rest. */
export const FULL_TEXT_WEIGHT = 0.5;

/**
 * Hybrid ranking: a weighted mean of each half's score relative to that half's best hit for this query —
 * `w × bm25 / best bm25 + (1 − w) × similarity / best similarity` (a chunk missing from one half gets 0
 * there) — so a hit both halves rank high beats one that only one half likes, and the score (0–1, 1 = the
 * best hit of both halves) tells hits apart. With a lexical embedder (the default hashing one) reciprocal-rank
 * fusion let the weaker half's order drag strong full-text hits down; scores keep each half's margins.
 * Ties are broken by chunk id, so equal inputs always give the same order.
 */
export function fuseHits(
  fullText: readonly ChunkHit[],
  vector: readonly ChunkHit[],
  limit: number,
  fullTextWeight = FULL_TEXT_WEIGHT,
): ChunkHit[] {
  const bestText = Math.max(0, ...fullText.map((h) => h.score));
  const bestVector = Math.max(0, ...vector.map((h) => h.score));
  const fused = new Map<string, { hit: ChunkHit; score: number }>();
  const add = (hits: readonly ChunkHit[], best: number, weight: number) => {
    if (best <= 0) return;
    for (const hit of hits) {
      const part = (weight * Math.max(0, hit.score)) / best;
      const seen = fused.get(hit.chunk_id);
      if (seen) seen.score += part;
      else fused.set(hit.chunk_id, { hit, score: part });
    }
  };
  add(fullText, bestText, fullTextWeight);
  add(vector, bestVector, 1 - fullTextWeight);
  return [...fused.values()]
    .sort((a, b) => b.score - a.score || (a.hit.chunk_id < b.hit.chunk_id ? -1 : 1))
    .slice(0, limit)
    .map(({ hit, score }) => ({ ...hit, score: Math.round(score * 1e4) / 1e4 }));
}
