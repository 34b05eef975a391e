/**
 * The hashing embedder's model (`hashing-ngram-v1`), free of I/O so that the main thread and the embedding
 * workers run the very same code: each word unigram and bigram is hashed (FNV-1a, then a murmur3 finaliser,
 * signed feature hashing) into `v`, which is then L2-normalised.
 */
export function hashVector(text: string, v: Float32Array): Float32Array {
  const dims = v.length;
  const s = text.toLowerCase();
  let h = 0x811c9dc5;
  let inToken = false;
  let prev = 0;
  let hasPrev = false;
  const n = s.length;
  const emit = (): void => {
    const uni = fmix(h);
    add(v, dims, uni, 1);
    if (hasPrev) add(v, dims, fmix(Math.imul(prev, 0x9e3779b1) ^ uni), 0.5);
    prev = uni;
    hasPrev = true;
    h = 0x811c9dc5;
    inToken = false;
  };
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 32;
    const kind = c < 0x80 ? ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) ? 1 : 0) : charKind(c);
    if (kind === 1) {
      h = Math.imul(h ^ c, 0x01000193);
      inToken = true;
    } else {
      if (inToken) emit();
      if (kind === 2) {
        h = Math.imul(h ^ c, 0x01000193);
        emit();
      }
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

/**
 * Vectors of `texts`, width `dims`, laid end to end in one buffer (text `i` at `[i * dims, (i + 1) * dims)`),
 * so that a worker hands them back with one transfer.
 */
export function hashVectors(texts: readonly string[], dims: number): Float32Array {
  const out = new Float32Array(texts.length * dims);
  for (const [i, t] of texts.entries()) hashVector(t, out.subarray(i * dims, (i + 1) * dims));
  return out;
}

/**
 * 0: separator; 1: part of a word (Latin, Greek, Cyrillic, …); 2: a word by itself (CJK ideographs, kana,
 * Hangul syllables — scripts written without spaces, where single characters and their bigrams are the
 * useful lexical units).
 */
function charKind(c: number): 0 | 1 | 2 {
  if ((c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7af)) return 2;
  if (c >= 0xf900 && c <= 0xfaff) return 2;
  if (c < 0xc0 || c === 0xd7 || c === 0xf7) return 0;
  if ((c >= 0x2000 && c <= 0x2bff) || (c >= 0x3000 && c <= 0x303f) || (c >= 0xfe30 && c <= 0xfe4f)) return 0;
  if ((c >= 0xff00 && c <= 0xff0f) || c === 0xfeff || (c >= 0xd800 && c <= 0xdfff)) return 0;
  return 1;
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
