/** One chunk of a document's text, with its place in that text. */
export interface TextChunk {
  /** 0-based position in the document. */
  ordinal: number;
  /** The chunk's text: exactly `source.slice(start, end)`. */
  text: string;
  /** Offset of the first character in the source text. */
  start: number;
  /** Offset one past the last character in the source text. */
  end: number;
}

/** Options of {@link chunkText}. */
export interface ChunkTextOptions {
  /** Target (maximum) chunk length in characters. */
  size: number;
  /** Characters that a chunk repeats from the end of the one before it; must be smaller than `size`. */
  overlap: number;
}

const BREAKS: readonly string[] = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " "];

/**
 * Splits text into chunks of at most `size` characters, cutting at the last paragraph break in the window,
 * else a line break, a sentence end, a clause, a space — and only as a last resort inside a word. Each chunk
 * starts `overlap` characters before the previous one ended (moved forward to a word start). Chunks are
 * trimmed of surrounding whitespace; whitespace-only chunks are dropped. Linear in the text length.
 */
export function chunkText(text: string, options: ChunkTextOptions): TextChunk[] {
  const { size, overlap } = options;
  if (!(size > 0) || overlap < 0 || overlap >= size) {
    throw new RangeError(`chunkText: need 0 <= overlap (${overlap}) < size (${size})`);
  }
  const out: TextChunk[] = [];
  const n = text.length;
  let start = skipSpace(text, 0);
  while (start < n) {
    let end = Math.min(start + size, n);
    if (end < n) end = breakPoint(text, start, end, size);
    let s = start;
    let e = end;
    while (e > s && isSpace(text.charCodeAt(e - 1))) e--;
    // A chunk that ends where the previous one did is contained in it (a word longer than the window after
    // a break, or only whitespace left): it would only repeat text, so it is skipped.
    if (e > s && e > (out[out.length - 1]?.end ?? 0)) {
      out.push({ ordinal: out.length, text: text.slice(s, e), start: s, end: e });
    }
    if (end >= n) break;
    let next = end - overlap;
    if (next <= start) next = end;
    else if (next < end) {
      const ws = nextWordStart(text, next, end);
      next = ws;
    }
    s = skipSpace(text, next);
    start = s > start ? s : end;
  }
  return out;
}

function breakPoint(text: string, start: number, end: number, size: number): number {
  const min = start + Math.floor(size / 2);
  const window = text.slice(min, end);
  for (const sep of BREAKS) {
    const at = window.lastIndexOf(sep);
    if (at >= 0) return min + at + sep.length;
  }
  return end;
}

function nextWordStart(text: string, from: number, limit: number): number {
  if (from === 0 || isSpace(text.charCodeAt(from - 1))) return from;
  for (let i = from; i < limit; i++) if (isSpace(text.charCodeAt(i))) return i;
  return from;
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Whitespace as JavaScript's `\s` knows it (ideographic space, line separators and BOM included). */
function isSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}
