import type { Embedder } from "../../core/embedder.js";

/** Options of {@link HashingEmbedder}. */
export interface HashingEmbedderOptions {
  /** Vector width; default 384. */
  dimensions?: number;
}

/**
 * The default, offline embedder: a *lexical* model, not a semantic one. Each word unigram and bigram is
 * hashed (FNV-1a, signed feature hashing) into a fixed-width vector, which is then L2-normalised. Similar
 * wording gives similar vectors; synonyms do not. Deterministic, needs no download, and costs about a
 * microsecond per word. Tokens are runs of letters and digits, lower-cased.
 */
export class HashingEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  readonly normalized = true;

  constructor(options: HashingEmbedderOptions = {}) {
    this.dimensions = options.dimensions ?? 384;
    this.id = `hashing-ngram-v1:${this.dimensions}`;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }

  /** Synchronous form of {@link embed} for one text. */
  embedOne(text: string): Float32Array {
    const dims = this.dimensions;
    const v = new Float32Array(dims);
    const s = text.toLowerCase();
    let h = 0x811c9dc5;
    let inToken = false;
    let prev = 0;
    let hasPrev = false;
    const n = s.length;
    for (let i = 0; i <= n; i++) {
      const c = i < n ? s.charCodeAt(i) : 32;
      const isWord = (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 0xc0 && c !== 0xd7 && c !== 0xf7);
      if (isWord && c < 0x2000) {
        h = Math.imul(h ^ c, 0x01000193);
        inToken = true;
      } else if (inToken) {
        const uni = fmix(h);
        add(v, dims, uni, 1);
        if (hasPrev) add(v, dims, fmix(Math.imul(prev, 0x9e3779b1) ^ uni), 0.5);
        prev = uni;
        hasPrev = true;
        h = 0x811c9dc5;
        inToken = false;
      }
    }
    let norm = 0;
    for (let i = 0; i < dims; i++) norm += (v[i] as number) * (v[i] as number);
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let i = 0; i < dims; i++) v[i] = (v[i] as number) * inv;
    }
    return v;
  }
}

function add(v: Float32Array, dims: number, h: number, weight: number): void {
  const idx = (h >>> 1) % dims;
  v[idx] = (v[idx] as number) + (h & 1 ? weight : -weight);
}

function fmix(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
