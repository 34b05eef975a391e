import { mkdirSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { prng } from "../test/helpers/prng.js";

/**
 * Deterministic synthetic corpus for the sync benchmark: markdown and plain-text documents of 1–20 KB of
 * pseudo-English prose (paragraphs, sentences, headings, lists) spread over nested folders of
 * {@link FILES_PER_FOLDER} files. Everything is derived from one seed: the same seed and the same calls
 * always give byte-identical files. Documents are generated and written one at a time, so the corpus is
 * never held in memory; only the indices of the live documents are.
 */

/** Files per leaf folder. */
export const FILES_PER_FOLDER = 50;
/** Leaf folders per top-level group folder. */
export const FOLDERS_PER_GROUP = 20;
/** Smallest document size in bytes (all text is ASCII, so bytes == characters). */
export const MIN_DOC_BYTES = 1024;
/** Largest document size in bytes. */
export const MAX_DOC_BYTES = 20 * 1024;
/** Share of the documents written by {@link Corpus.create} that are byte-identical copies of an earlier one. */
export const COPY_SHARE = 0.01;
/** Words in the generated vocabulary. */
export const VOCABULARY_SIZE = 4000;

/** A seeded 32-bit PRNG returning floats in [0, 1). */
export type Random = () => number;

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG (the tests' own, shared). */
export const mulberry32: (seed: number) => Random = prng;

/**
 * sfc32 (128-bit state) seeded from `parts`, for the per-document streams. mulberry32's state is a Weyl
 * sequence, so all its streams are shifts of one 2^32 cycle: with 20 000 documents drawing thousands of
 * numbers each, hundreds of document pairs would share long runs of draws (and produce identical chunks).
 */
export function streamFor(...parts: number[]): Random {
  let a = mixSeed(...parts, 1);
  let b = mixSeed(...parts, 2);
  let c = mixSeed(...parts, 3);
  let d = mixSeed(...parts, 4);
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** Mixes integers into one well-spread 32-bit seed (murmur3 finaliser over each part). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Integer in [min, max] (inclusive). */
function int(rnd: Random, min: number, max: number): number {
  return min + Math.floor(rnd() * (max - min + 1));
}

const ONSETS = ["", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z"];
const CLUSTERS = ["br", "ch", "cl", "dr", "fl", "gr", "pl", "pr", "sh", "st", "th", "tr", "sp", "qu"];
const VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "ou", "io", "y"];
const CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "rk", "ng", "x"];
/** Short function words, frequent in real prose; they head the Zipf ranking. */
const FUNCTION_WORDS = [
  "the",
  "of",
  "and",
  "to",
  "a",
  "in",
  "is",
  "that",
  "for",
  "it",
  "as",
  "with",
  "was",
  "on",
  "be",
  "by",
  "this",
  "are",
  "or",
  "from",
  "at",
  "which",
  "an",
  "but",
  "not",
  "have",
  "its",
  "were",
  "all",
  "can",
];

/**
 * Vocabulary of {@link VOCABULARY_SIZE} distinct pseudo-words, most frequent first: real function words,
 * then syllable-built words of one to four syllables.
 */
export function makeVocabulary(seed: number, size = VOCABULARY_SIZE): string[] {
  const rnd = mulberry32(mixSeed(seed, 0x766f6361));
  const words = new Set<string>(FUNCTION_WORDS);
  while (words.size < size) {
    const syllables = 1 + Math.floor(rnd() * rnd() * 4);
    let w = "";
    for (let s = 0; s < syllables; s++) {
      const onset =
        rnd() < 0.2
          ? (CLUSTERS[int(rnd, 0, CLUSTERS.length - 1)] as string)
          : (ONSETS[int(rnd, 0, ONSETS.length - 1)] as string);
      w += onset + (VOWELS[int(rnd, 0, VOWELS.length - 1)] as string);
      if (s === syllables - 1 || rnd() < 0.3) w += CODAS[int(rnd, 0, CODAS.length - 1)] as string;
    }
    if (w.length >= 2 || w === "a") words.add(w);
  }
  return [...words];
}

/** Writes pseudo-English text from a vocabulary with Zipf-distributed word frequencies. */
class ProseWriter {
  private readonly cumulative: Float64Array;

  constructor(private readonly vocabulary: readonly string[]) {
    this.cumulative = new Float64Array(vocabulary.length);
    let sum = 0;
    for (let r = 0; r < vocabulary.length; r++) {
      sum += 1 / (r + 1) ** 1.05;
      this.cumulative[r] = sum;
    }
    for (let r = 0; r < vocabulary.length; r++) this.cumulative[r] = (this.cumulative[r] as number) / sum;
  }

  word(rnd: Random): string {
    const x = rnd();
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cumulative[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return this.vocabulary[lo] as string;
  }

  /** A capitalised sentence of 5–24 words with the odd comma, ending in `.`, `?` or `!`. */
  sentence(rnd: Random): string {
    const n = int(rnd, 5, 24);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      let w = this.word(rnd);
      if (i === 0) w = capitalise(w);
      else if (rnd() < 0.02) w = capitalise(w);
      if (i > 1 && i < n - 2 && rnd() < 0.08) w += ",";
      parts.push(w);
    }
    const end = rnd();
    return `${parts.join(" ")}${end < 0.9 ? "." : end < 0.97 ? "?" : "!"}`;
  }

  /** A title of 2–6 capitalised words. */
  title(rnd: Random): string {
    const n = int(rnd, 2, 6);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(capitalise(this.word(rnd)));
    return parts.join(" ");
  }

  /** A paragraph of sentences, stopping before it would exceed `maxChars` (at least one sentence). */
  paragraph(rnd: Random, maxChars: number, sentences = int(rnd, 2, 7)): string {
    let p = this.sentence(rnd);
    for (let i = 1; i < sentences; i++) {
      const s = this.sentence(rnd);
      if (p.length + 1 + s.length > maxChars) break;
      p += ` ${s}`;
    }
    return p;
  }

  /** A paragraph close to `targetChars` long (sentence granularity). */
  paragraphOfLength(rnd: Random, targetChars: number): string {
    let p = this.sentence(rnd);
    while (p.length < targetChars) {
      const s = this.sentence(rnd);
      if (p.length + 1 + s.length > targetChars * 1.2) break;
      p += ` ${s}`;
    }
    return p;
  }
}

function capitalise(w: string): string {
  return w.charAt(0).toUpperCase() + w.slice(1);
}

/** What one change step did, and how many documents the corpus holds afterwards. */
export interface CorpusChange {
  /** Absolute POSIX paths (the sync engine's item keys) of files rewritten in place. */
  modified: string[];
  /** Keys of new files. */
  added: string[];
  /** Keys of removed files. */
  deleted: string[];
  /** Documents in the corpus after the step. */
  expectedDocuments: number;
}

/** Options of {@link Corpus}. */
export interface CorpusOptions {
  /** Directory the documents are written under (created when missing). */
  root: string;
  /** Seed of everything: vocabulary, document content, file types, change choices. */
  seed?: number;
}

/**
 * A synthetic corpus on disk plus the little state needed to change it deterministically: the indices of
 * the live documents and the next free index. Document `i` lives at
 * `g<group>/f<folder>/doc-<i>.<md|txt>` with {@link FILES_PER_FOLDER} files per folder.
 */
export class Corpus {
  /** Absolute root directory. */
  readonly root: string;
  readonly seed: number;
  private readonly writer: ProseWriter;
  private live: number[] = [];
  private nextIndex = 0;
  private changeRound = 0;
  /** Documents below this index may be copies (those of {@link create}; added ones never are). */
  private copyLimit = 0;

  constructor(options: CorpusOptions) {
    this.root = resolve(options.root);
    this.seed = (options.seed ?? 20240601) >>> 0;
    this.writer = new ProseWriter(makeVocabulary(this.seed));
  }

  /** Number of documents currently in the corpus. */
  get size(): number {
    return this.live.length;
  }

  /** Indices of the live documents (a copy). */
  indices(): number[] {
    return [...this.live];
  }

  /** Relative path of document `index` (its extension is part of its seeded identity). */
  relativePath(index: number): string {
    const folder = Math.floor(index / FILES_PER_FOLDER);
    const group = Math.floor(folder / FOLDERS_PER_GROUP);
    const ext = this.isMarkdown(index) ? "md" : "txt";
    return join(
      `g${String(group).padStart(3, "0")}`,
      `f${String(folder % FOLDERS_PER_GROUP).padStart(2, "0")}`,
      `doc-${String(index).padStart(6, "0")}.${ext}`,
    );
  }

  /** Absolute path of document `index`. */
  path(index: number): string {
    return join(this.root, this.relativePath(index));
  }

  /** The sync engine's item key for document `index`: its absolute path with `/` separators. */
  key(index: number): string {
    return this.path(index).split(sep).join("/");
  }

  /** Keys of every live document. */
  keys(): string[] {
    return this.live.map((i) => this.key(i));
  }

  /**
   * Writes `n` fresh documents (indices 0..n-1), {@link COPY_SHARE} of them copies of an earlier document in
   * another place (as real folders have); returns the expected document count. Call once, first.
   */
  create(n: number): number {
    mkdirSync(this.root, { recursive: true });
    this.copyLimit = n;
    for (let i = 0; i < n; i++) this.writeNew();
    return this.live.length;
  }

  /**
   * One round of changes, with disjoint choices: delete `deletePct`% of the live documents, rewrite one or
   * two paragraphs in the middle of `modifyPct`% of the others (moving their mtime forward), then add
   * `addPct`% new documents. Percentages are of the live count before the round.
   */
  change(modifyPct: number, addPct: number, deletePct: number): CorpusChange {
    const round = ++this.changeRound;
    const before = this.live.length;
    const nMod = Math.round((before * modifyPct) / 100);
    const nAdd = Math.round((before * addPct) / 100);
    const nDel = Math.min(Math.round((before * deletePct) / 100), before - nMod);
    const rnd = mulberry32(mixSeed(this.seed, 0x63686e67, round));
    // Partial Fisher–Yates over a copy: the first nDel + nMod entries are a uniform sample.
    const pool = [...this.live];
    for (let i = 0; i < nDel + nMod; i++) {
      const j = i + Math.floor(rnd() * (pool.length - i));
      const t = pool[i] as number;
      pool[i] = pool[j] as number;
      pool[j] = t;
    }
    const del = pool.slice(0, nDel);
    const mod = pool.slice(nDel, nDel + nMod);

    const deleted = del.map((i) => this.key(i));
    for (const i of del) unlinkSync(this.path(i));
    const gone = new Set(del);
    this.live = this.live.filter((i) => !gone.has(i));

    const modified = mod.map((i) => this.key(i));
    for (const i of mod) this.modify(i, round);

    const added: string[] = [];
    for (let k = 0; k < nAdd; k++) added.push(this.key(this.writeNew()));
    return { modified, added, deleted, expectedDocuments: this.live.length };
  }

  /** The original (never itself a copy) that document `index` is a copy of, if it is one. */
  copyOf(index: number): number | undefined {
    let at = index;
    for (;;) {
      if (at === 0 || at >= this.copyLimit) break;
      const rnd = mulberry32(mixSeed(this.seed, 0x636f7079, at));
      if (rnd() >= COPY_SHARE) break;
      at = Math.floor(rnd() * at);
    }
    return at === index ? undefined : at;
  }

  private isMarkdown(index: number): boolean {
    const original = this.copyOf(index) ?? index;
    return mulberry32(mixSeed(this.seed, 0x65787420, original))() < 0.6;
  }

  private writeNew(): number {
    const index = this.nextIndex++;
    const path = this.path(index);
    if (index % FILES_PER_FOLDER === 0) mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, this.document(index));
    this.live.push(index);
    return index;
  }

  /** The full text of a new document `index`: 1–20 KB, uniform size (or the text of the one it copies). */
  document(index: number): string {
    const original = this.copyOf(index) ?? index;
    const rnd = streamFor(this.seed, 0x646f6373, original);
    const md = this.isMarkdown(original);
    const target = int(rnd, MIN_DOC_BYTES, MAX_DOC_BYTES);
    const w = this.writer;
    const blocks: string[] = [md ? `# ${w.title(rnd)}` : w.title(rnd).toUpperCase()];
    let length = (blocks[0] as string).length;
    let sinceHeading = 0;
    while (length < target) {
      let block: string;
      if (md && sinceHeading >= int(rnd, 2, 5)) {
        block = `## ${w.title(rnd)}`;
        sinceHeading = 0;
      } else if (md && rnd() < 0.08) {
        const items: string[] = [];
        for (let k = int(rnd, 3, 6); k > 0; k--) items.push(`- ${w.sentence(rnd)}`);
        block = items.join("\n");
        sinceHeading++;
      } else {
        block = w.paragraph(rnd, Math.max(40, target - length - 2));
        sinceHeading++;
      }
      if (length + 2 + block.length > target && length >= MIN_DOC_BYTES) break;
      blocks.push(block);
      length += 2 + block.length;
    }
    return `${blocks.join("\n\n")}\n`;
  }

  /**
   * Rewrites one or two prose paragraphs in the middle third of document `index` (new text of about the
   * same length), leaving every other block byte-identical, then moves the mtime at least 2 s forward.
   */
  private modify(index: number, round: number): void {
    const path = this.path(index);
    const old = readFileSync(path, "utf8");
    const mtime = statSync(path).mtimeMs / 1000;
    const rnd = streamFor(this.seed, 0x6d6f6469, round, index);
    const blocks = old.replace(/\n$/, "").split("\n\n");
    const prose = (b: number) => {
      const t = blocks[b] as string;
      return b > 0 && !t.startsWith("#") && !t.startsWith("- ");
    };
    const lo = Math.floor(blocks.length / 3);
    const hi = Math.max(lo + 1, Math.ceil((2 * blocks.length) / 3));
    let candidates: number[] = [];
    for (let b = lo; b < hi && b < blocks.length; b++) if (prose(b)) candidates.push(b);
    if (candidates.length === 0) for (let b = 1; b < blocks.length; b++) if (prose(b)) candidates.push(b);
    if (candidates.length === 0) candidates = [blocks.length - 1];
    const count = Math.min(candidates.length, rnd() < 0.5 ? 1 : 2);
    const start = int(rnd, 0, candidates.length - count);
    for (let k = 0; k < count; k++) {
      const b = candidates[start + k] as number;
      const was = blocks[b] as string;
      let next = this.writer.paragraphOfLength(rnd, was.length);
      if (next === was) next += ` ${this.writer.sentence(rnd)}`;
      blocks[b] = next;
    }
    writeFileSync(path, `${blocks.join("\n\n")}\n`);
    const t = Math.max(Date.now() / 1000, mtime + 2);
    utimesSync(path, t, t);
  }
}
