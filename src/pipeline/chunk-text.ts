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

const PARAGRAPH = "\n\n";
/** Characters after a break that decide whether it is an anchor, and the share of anchors (one in this many). */
const ANCHOR_CHARS = 32;
const ANCHOR_ONE_IN = 3;
const BREAKS: readonly string[] = ["\n", ". ", "? ", "! ", "; ", ", ", " "];

/**
 * Splits text into chunks of at most `size` characters, cutting in the second half of the window at a
 * paragraph break, else a line break, a sentence end, a clause, a space — and only as a last resort inside a
 * word. A chunk cut inside a paragraph is followed by one that starts `overlap` characters before it ended
 * (moved forward to a word start); after a paragraph break the next chunk starts at the next paragraph, with
 * no overlap, so that an edited paragraph lies in as few chunks as possible. Of several paragraph breaks in
 * the window, a content-chosen anchor is preferred: after an edit, cuts fall back where they were sooner, and
 * fewer chunks change (texts embedded again). Chunks are trimmed of surrounding whitespace; whitespace-only
 * chunks are dropped. Linear in the text length.
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
    let paragraphEnd = false;
    if (end < n) [end, paragraphEnd] = breakPoint(text, start, end, size);
    let s = start;
    let e = end;
    while (e > s && isSpace(text.charCodeAt(e - 1))) e--;
    // A chunk that ends where the previous one did is contained in it (a word longer than the window after
    // a break, or only whitespace left): it would only repeat text, so it is skipped.
    if (e > s && e > (out[out.length - 1]?.end ?? 0)) {
      out.push({ ordinal: out.length, text: text.slice(s, e), start: s, end: e });
    }
    if (end >= n) break;
    let next = paragraphEnd ? end : end - overlap;
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

/**
 * Where a chunk starting at `start` ends, and whether that is a paragraph break: in the second half of the
 * window, at the last paragraph break that is an *anchor* (see {@link isAnchor}), else the last paragraph
 * break, else the last break of the strongest other kind present.
 */
function breakPoint(text: string, start: number, end: number, size: number): [number, boolean] {
  const min = start + Math.floor(size / 2);
  const window = text.slice(min, end);
  const last = window.lastIndexOf(PARAGRAPH);
  for (let at = last; at >= 0; at = at > 0 ? window.lastIndexOf(PARAGRAPH, at - 1) : -1) {
    const cut = min + at + PARAGRAPH.length;
    if (isAnchor(text, cut)) return [cut, true];
  }
  if (last >= 0) return [min + last + PARAGRAPH.length, true];
  for (const sep of BREAKS) {
    const at = window.lastIndexOf(sep);
    if (at >= 0) return [min + at + sep.length, false];
  }
  return [end, false];
}

/**
 * A third of the paragraph breaks, chosen by the text that follows them (FNV-1a of the next 32 characters):
 * a property of the content, not of where the chunk began, so that cuts after an edit fall where they fell
 * before as soon as an anchor lies in both the old and the new window.
 */
function isAnchor(text: string, at: number): boolean {
  let h = 0x811c9dc5;
  const stop = Math.min(text.length, at + ANCHOR_CHARS);
  for (let i = at; i < stop; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0) % ANCHOR_ONE_IN === 0;
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
