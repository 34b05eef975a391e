import { expect } from "vitest";
import { type ApplyChangesOptions, applyChanges } from "../../src/core/apply-changes.js";
import { hashContent, makeChunkId, makeDocId } from "../../src/core/ids.js";
import {
  type Exclusive,
  runSync,
  type SyncDeps,
  type SyncOptions,
  type SyncResult,
} from "../../src/core/run-sync.js";
import { CountingEmbedder } from "./counting-embedder.js";
import { FixedChunkProcessor, fixedChunks } from "./fixed-chunk-processor.js";
import { MemoryJournal } from "./memory-journal.js";
import { MemorySource } from "./memory-source.js";
import { MemoryStore } from "./memory-store.js";

export const USER = "alice";
export const CHUNK = 16;

/** Text of `n` chunks of exactly {@link CHUNK} characters, each distinct: `tag` names the document. */
export function chunkedText(tag: string, n: number): string {
  return Array.from({ length: n }, (_, i) => {
    const label = `${tag}#${i}`;
    if (label.length > CHUNK) throw new Error(`chunkedText: tag ${tag} too long`);
    return label.padEnd(CHUNK, ".");
  }).join("");
}

/** Sets chunk `i` of a {@link chunkedText} text to a new same-length text. */
export function editChunk(text: string, i: number, replacement: string): string {
  const r = replacement.padEnd(CHUNK, "~").slice(0, CHUNK);
  return text.slice(0, i * CHUNK) + r + text.slice((i + 1) * CHUNK);
}

export type Harness = ReturnType<typeof makeHarness>;

/** Options of {@link makeHarness}. */
export interface HarnessOptions {
  /** Passed as {@link SyncDeps.exclusive}; may be changed later through `h.exclusive`. */
  exclusive?: Exclusive;
  /** Passed as {@link SyncDeps.now}. */
  now?: () => Date;
}

/** A source, journal, store, embedder and processor wired for {@link runSync}, all in memory. */
export function makeHarness(name = "docs", harnessOptions: HarnessOptions = {}) {
  let exclusive = harnessOptions.exclusive;
  const source = new MemorySource(name);
  let journal = new MemoryJournal();
  const store = new MemoryStore();
  const embedder = new CountingEmbedder(8);
  const processor = new FixedChunkProcessor(CHUNK);
  let storeOpens = 0;

  const deps = (): SyncDeps => ({
    journal,
    openStore: async () => {
      storeOpens++;
      await store.open(embedder);
      return store;
    },
    embedder,
    process: processor.process,
    ...(exclusive ? { exclusive } : {}),
    ...(harnessOptions.now ? { now: harnessOptions.now } : {}),
  });

  const h = {
    source,
    store,
    embedder,
    processor,
    get journal() {
      return journal;
    },
    /** Replaces the journal with a new, empty one (a lost state database). */
    loseJournal() {
      journal = new MemoryJournal();
    },
    /** The {@link SyncDeps.exclusive} of the next runs (undefined: the engine's default). */
    get exclusive(): Exclusive | undefined {
      return exclusive;
    },
    set exclusive(fn: Exclusive | undefined) {
      exclusive = fn;
    },
    get storeOpens() {
      return storeOpens;
    },
    docId: (key: string) => makeDocId(USER, name, key),
    /** Runs one sync; counters of source, embedder, processor and store opens start from zero. */
    async run(options: Partial<SyncOptions> = {}): Promise<SyncResult> {
      source.resetCounters();
      embedder.resetCounters();
      processor.resetCounters();
      storeOpens = 0;
      return runSync(deps(), {
        userId: USER,
        source,
        writeBatchDocs: 100,
        concurrency: 3,
        massDeleteThreshold: 0.5,
        maxRetryAttempts: 3,
        ...options,
      });
    },
    /** Runs one partial run over `keys`; counters start from zero as in {@link run}. */
    async apply(keys: readonly string[], options: Partial<ApplyChangesOptions> = {}): Promise<SyncResult> {
      source.resetCounters();
      embedder.resetCounters();
      processor.resetCounters();
      storeOpens = 0;
      return applyChanges(deps(), {
        userId: USER,
        source,
        keys,
        writeBatchDocs: 100,
        concurrency: 3,
        massDeleteThreshold: 0.5,
        ...options,
      });
    },
    items() {
      return journal.listItems(USER, name);
    },
    failures() {
      return journal.listFailures(USER, name);
    },
    /**
     * Asserts the store holds exactly the source's items (minus `except`), each once, with the chunks the
     * processor makes of its current bytes and the embedder's vectors; and that the journal knows exactly
     * those items as synced, with their current fingerprints and hashes.
     */
    expectConverged(except: readonly string[] = []) {
      const keys = source.keys().filter((k) => !except.includes(k));
      expect(store.violations).toEqual([]);
      const docIds = store.docs.map((d) => d.doc_id);
      expect(new Set(docIds).size, "duplicate document rows").toBe(docIds.length);
      const chunkIds = store.chunks.map((c) => c.chunk_id);
      expect(new Set(chunkIds).size, "duplicate chunk rows").toBe(chunkIds.length);
      expect(store.docs.map((d) => d.item_key).sort()).toEqual(keys);
      let expectedChunks = 0;
      for (const key of keys) {
        const docId = makeDocId(USER, name, key);
        const doc = store.docById(docId);
        const bytes = source.bytes(key);
        const text = new TextDecoder().decode(bytes);
        const chunks = fixedChunks(text, CHUNK);
        expectedChunks += chunks.length;
        expect(doc?.content_hash, key).toBe(hashContent(bytes));
        expect(doc?.chunk_count, key).toBe(chunks.length);
        const rows = store.chunksOf(docId);
        expect(
          rows.map((r) => [r.chunk_id, r.text, r.start, r.end]),
          key,
        ).toEqual(chunks.map((c) => [makeChunkId(docId, c.ordinal), c.text, c.start, c.end]));
        for (const r of rows) {
          expect(r.text_hash).toBe(hashContent(r.text));
          expect([...r.vector]).toEqual([...embedder.vectorOf(r.text)]);
        }
      }
      expect(store.chunks).toHaveLength(expectedChunks);
      const items = journal.listItems(USER, name);
      expect([...items.keys()].sort()).toEqual(keys);
      for (const key of keys) {
        expect(items.get(key)).toEqual({
          key,
          docId: makeDocId(USER, name, key),
          fingerprint: source.fingerprint(key),
          contentHash: hashContent(source.bytes(key)),
          status: "synced",
        });
      }
      expect(journal.pendingItems()).toEqual([]);
    },
  };
  return h;
}
