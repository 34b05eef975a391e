import { describe, expect, it } from "vitest";
import { detectChanges } from "../../src/core/detect-changes.js";
import type { FailureState, ItemState } from "../../src/core/journal.js";
import type { Exclusive } from "../../src/core/run-sync.js";
import type { FetchedItem, Source, SourceItemRef, SourceListing } from "../../src/core/source.js";
import { isSyncError, SyncError } from "../../src/errors/sync-error.js";
import { MemorySource } from "../fakes/memory-source.js";
import { CHUNK, chunkedText, editChunk, type Harness, makeHarness, USER } from "../fakes/sync-harness.js";
import { rejection } from "../helpers/caught.js";

/** Runs `p`, expects a rejection and returns the error. */

const key = (i: number) => `dir/d${String(i).padStart(2, "0")}.txt`;

/** A harness whose source holds `n` documents `dir/d00.txt`… of `chunks` chunks each, synced once. */
async function synced(n: number, chunks = 2, register = false): Promise<Harness> {
  const h = makeHarness();
  if (register) h.journal.upsertSource({ userId: USER, name: "docs", type: "mem", config: {} });
  for (let i = 0; i < n; i++) h.source.set(key(i), chunkedText(`doc${i}`, chunks));
  await h.run();
  return h;
}

/** What {@link wrap} changes of a MemorySource: its listed items, listing extras and fetch. */
interface Wrapping {
  items?: (items: SourceItemRef[]) => SourceItemRef[];
  warnings?: string[];
  incompletePrefixes?: string[];
  emptyRoots?: string[];
  fetch?: (ref: SourceItemRef, real: (ref: SourceItemRef) => Promise<FetchedItem>) => Promise<FetchedItem>;
}

/** A Source delegating to `src` (its counters keep counting) with a changed listing or fetch. */
function wrap(src: MemorySource, w: Wrapping): Source {
  const real = (ref: SourceItemRef) => src.fetch(ref);
  return {
    type: src.type,
    name: src.name,
    async list(): Promise<SourceListing> {
      const l = await src.list();
      return {
        items: w.items ? w.items(l.items) : l.items,
        warnings: [...l.warnings, ...(w.warnings ?? [])],
        incompletePrefixes: [...l.incompletePrefixes, ...(w.incompletePrefixes ?? [])],
        emptyRoots: [...l.emptyRoots, ...(w.emptyRoots ?? [])],
      };
    },
    fetch: (ref) => (w.fetch ? w.fetch(ref, real) : real(ref)),
  };
}

/** Hides the items under `prefix` from the listing. */
const hideUnder = (prefix: string) => (items: SourceItemRef[]) =>
  items.filter((i) => !i.key.startsWith(prefix));

const sorted = (xs: readonly string[]) => [...xs].sort();

describe("runSync hardening: keys listed twice", () => {
  it("a key listed three times is fetched and written once, with one warning and one document row", async () => {
    const h = makeHarness();
    h.source.set("a.txt", chunkedText("a", 2)).set("b.txt", chunkedText("b", 1));
    const src = wrap(h.source, {
      items: (items) => {
        const a = items.find((i) => i.key === "a.txt") as SourceItemRef;
        return [a, ...items, { ...a }];
      },
    });
    const r = await h.run({ source: src });
    expect(r).toMatchObject({ added: 2, listed: 2, failed: 0, embedded_chunks: 3, unchanged: 0 });
    expect(sorted(h.source.fetchedKeys)).toEqual(["a.txt", "b.txt"]);
    expect(h.processor.calls).toBe(2);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain("listed 2 keys more than once");
    expect(h.store.docs.filter((d) => d.item_key === "a.txt")).toHaveLength(1);
    expect(h.store.chunksOf(h.docId("a.txt"))).toHaveLength(2);
    expect(h.store.upsertCommits().map((c) => c.upsertDocIds.length)).toEqual([1 + 1]);
    h.expectConverged();

    // Listed twice again on an unchanged source: nothing read, still one warning.
    const r2 = await h.run({ source: src });
    expect(r2).toMatchObject({ listed: 2, unchanged: 2, added: 0, updated: 0, deleted: 0 });
    expect(r2.warnings).toHaveLength(1);
    expect(h.source.fetchCalls).toBe(0);
    h.expectConverged();
  });
});

describe("runSync hardening: incomplete listings", () => {
  /** 4 documents under dir/sub/ and 6 elsewhere, synced. */
  async function tree(): Promise<Harness> {
    const h = await synced(6);
    for (let i = 0; i < 4; i++) h.source.set(`dir/sub/s${i}.txt`, chunkedText(`sub${i}`, 2));
    await h.run();
    expect(h.items().size).toBe(10);
    return h;
  }

  it("known items under an incomplete prefix are kept and not counted as deletions; others are deleted", async () => {
    const h = await tree();
    h.source.delete(key(0)).delete(key(1));
    const src = wrap(h.source, {
      items: hideUnder("dir/sub/"),
      incompletePrefixes: ["dir/sub/"],
      warnings: ["dir/sub/: EACCES: permission denied"],
    });
    const subDocs = [0, 1, 2, 3].map((i) => h.docId(`dir/sub/s${i}.txt`));
    // 2 deletions of 10 = 20% <= 30%; had the 4 unlisted items counted, 6 of 10 would be held.
    const r = await h.run({ source: src, massDeleteThreshold: 0.3 });
    expect(r).toMatchObject({ deleted: 2, held_deletions: 0, unchanged: 4, listed: 4, failed: 0 });
    expect(r.warnings).toEqual(["dir/sub/: EACCES: permission denied"]);
    expect(h.store.deleteCommits().flatMap((c) => c.deleteDocIds)).toEqual([
      h.docId(key(0)),
      h.docId(key(1)),
    ]);
    for (const id of subDocs) {
      expect(h.store.docById(id)).toBeDefined();
      expect(h.store.chunksOf(id)).toHaveLength(2);
    }
    expect(sorted([...h.items().keys()])).toEqual(sorted([...h.source.keys()]));
    h.expectConverged();

    // Readable again: nothing to do for them.
    const r2 = await h.run();
    expect(r2).toMatchObject({ unchanged: 8, deleted: 0, added: 0, updated: 0 });
    expect(h.source.fetchCalls).toBe(0);
  });

  it("a whole-key incomplete prefix protects that one item only", async () => {
    const h = await tree();
    const src = wrap(h.source, {
      items: (items) => items.filter((i) => !i.key.startsWith("dir/sub/")),
      incompletePrefixes: ["dir/sub/s0.txt"],
    });
    const r = await h.run({ source: src, allowMassDelete: true });
    expect(r).toMatchObject({ deleted: 3, held_deletions: 0, unchanged: 6 });
    expect(h.store.docById(h.docId("dir/sub/s0.txt"))).toBeDefined();
    expect(sorted([...h.items().keys()]).filter((k) => k.startsWith("dir/sub/"))).toEqual(["dir/sub/s0.txt"]);
  });

  it("a failure record under an incomplete prefix is kept (not cleared as stale)", async () => {
    const h = await tree();
    h.source.set("dir/sub/bad.txt", "CORRUPT");
    await h.run({ maxRetryAttempts: 1 });
    expect(h.failures()).toMatchObject([{ key: "dir/sub/bad.txt", attempts: 1 }]);
    const src = wrap(h.source, { items: hideUnder("dir/sub/"), incompletePrefixes: ["dir/sub/"] });
    await h.run({ source: src, maxRetryAttempts: 1 });
    expect(h.failures()).toMatchObject([{ key: "dir/sub/bad.txt", attempts: 1 }]);
    // Listed again: still given up, not retried.
    const r = await h.run({ maxRetryAttempts: 1 });
    expect(r).toMatchObject({ given_up: 1, failed: 0 });
    expect(h.source.fetchCalls).toBe(0);
  });

  it("listing warnings past 20 are counted in one more warning", async () => {
    const h = makeHarness();
    h.source.set("a.txt", "aaa");
    const found = Array.from({ length: 25 }, (_, i) => `unreadable ${i}`);
    const r = await h.run({ source: wrap(h.source, { warnings: found }) });
    expect(r.warnings).toHaveLength(21);
    expect(r.warnings.slice(0, 20)).toEqual(found.slice(0, 20));
    expect(r.warnings[20]).toContain("5 more listing warnings");
    h.expectConverged();
  });
});

describe("runSync hardening: empty roots", () => {
  async function mounted(): Promise<Harness> {
    const h = makeHarness();
    h.journal.upsertSource({ userId: USER, name: "docs", type: "mem", config: {} });
    for (let i = 0; i < 3; i++) h.source.set(`mnt/a/x${i}.txt`, chunkedText(`x${i}`, 2));
    for (let i = 0; i < 2; i++) h.source.set(`other/y${i}.txt`, chunkedText(`y${i}`, 2));
    await h.run();
    return h;
  }

  it("a root listed empty while the journal knows items under it: SOURCE_UNAVAILABLE, nothing deleted, unhealthy", async () => {
    const h = await mounted();
    const before = h.store.snapshot();
    const items = h.items();
    const commits = h.store.commits.length;
    const src = wrap(h.source, { items: hideUnder("mnt/a/"), emptyRoots: ["mnt/a/"] });
    const err = await rejection(h.run({ source: src, allowMassDelete: true }));
    expect(isSyncError(err, "SYNC_E_SOURCE_UNAVAILABLE")).toBe(true);
    expect((err as SyncError).message).toContain("mnt/a/");
    expect((err as SyncError).message).toContain("3 documents");
    expect(h.store.snapshot()).toEqual(before);
    expect(h.store.commits.length).toBe(commits);
    expect(h.items()).toEqual(items);
    expect(h.source.fetchCalls).toBe(0);
    const rec = h.journal.getSource(USER, "docs");
    expect(rec?.healthy).toBe(false);
    expect(rec?.lastError).toContain("mnt/a/");
    expect(h.journal.lastRuns(1)[0]?.status).toBe("failed");

    // Mounted again: healthy, nothing to do.
    const r = await h.run();
    expect(r).toMatchObject({ unchanged: 5, deleted: 0 });
    expect(h.journal.getSource(USER, "docs")).toMatchObject({ healthy: true, lastError: null });
    h.expectConverged();
  });

  it("an empty root with no known items under it is fine", async () => {
    const h = await mounted();
    const src = wrap(h.source, { emptyRoots: ["empty/", "mnt/a"] });
    const r = await h.run({ source: src });
    expect(r).toMatchObject({ unchanged: 5, deleted: 0, failed: 0 });
    expect(h.journal.getSource(USER, "docs")?.healthy).toBe(true);
    h.expectConverged();
  });
});

describe("runSync hardening: racily clean items", () => {
  // MemoryJournal's clock: run 1 starts at 2025-01-01T00:00:01Z, finishes at :02; run 2 starts at :03.
  const mtimes: Record<string, string | undefined> = {
    "racy.txt": "2025-01-01T00:00:00.950Z", // 50 ms before run 1's start (fine timestamps: window 100 ms)
    "near.txt": "2025-01-01T00:00:00.850Z", // 150 ms before
    "after.txt": "2025-01-01T00:00:01.500Z", // after run 1's start
    "second.txt": "2025-01-01T00:00:00.000Z", // whole seconds: window 2000 ms, 1000 ms before
    "old.txt": "2024-06-01T00:00:00.000Z",
    "nomtime.txt": undefined,
  };

  async function racyHarness(): Promise<{ h: Harness; src: Source }> {
    const h = makeHarness();
    for (const k of Object.keys(mtimes)) h.source.set(k, chunkedText(k.split(".")[0] as string, 2));
    const src = wrap(h.source, {
      items: (items) =>
        items.map((i) => {
          const { modifiedAt: _, ...rest } = i;
          const m = mtimes[i.key];
          return m === undefined ? rest : { ...rest, modifiedAt: m };
        }),
    });
    const r = await h.run({ source: src });
    expect(r.added).toBe(6);
    expect(h.journal.lastRuns(1)[0]?.startedAt).toBe("2025-01-01T00:00:01.000Z");
    return { h, src };
  }

  it("items modified near or after the previous run's start are re-read: a same-size, same-fingerprint edit is picked up", async () => {
    const { h, src } = await racyHarness();
    const fp = h.source.fingerprint("racy.txt");
    const text = new TextDecoder().decode(h.source.bytes("racy.txt"));
    h.source.set("racy.txt", editChunk(text, 0, "edited quietly"), fp);
    const r = await h.run({ source: src });
    expect(sorted(h.source.fetchedKeys)).toEqual(["after.txt", "racy.txt", "second.txt"]);
    expect(r).toMatchObject({ updated: 1, unchanged: 5, added: 0, embedded_chunks: 1, failed: 0 });
    expect(h.processor.calls).toBe(1);
    h.expectConverged();

    // Run 2 started at :03; everything was modified well before: nothing is read.
    const r3 = await h.run({ source: src });
    expect(h.source.fetchCalls).toBe(0);
    expect(r3).toMatchObject({ unchanged: 6, updated: 0 });
  });

  it("racyWindowMs sets the window before the previous run's start", async () => {
    const a = await racyHarness();
    await a.h.run({ source: a.src, racyWindowMs: 200 });
    expect(sorted(a.h.source.fetchedKeys)).toEqual(["after.txt", "near.txt", "racy.txt"]);

    const b = await racyHarness();
    const r = await b.h.run({ source: b.src, racyWindowMs: 0 });
    expect(b.h.source.fetchedKeys).toEqual(["after.txt"]);
    expect(r).toMatchObject({ unchanged: 6, updated: 0 });
    expect(b.h.processor.calls).toBe(0);

    const c = await racyHarness();
    await c.h.run({ source: c.src, racyWindowMs: 5000 });
    expect(sorted(c.h.source.fetchedKeys)).toEqual(["after.txt", "near.txt", "racy.txt", "second.txt"]);
  });
});

describe("runSync hardening: embedder rejections", () => {
  const poisoned = (i: number) => chunkedText(`doc${i}`, 1) + "POISON".padEnd(CHUNK, ".");

  /** 10 new documents of 2 chunks, those of `bad` containing a POISON chunk. */
  function poisonHarness(bad: readonly number[]): Harness {
    const h = makeHarness();
    h.embedder.rejectText = (t) => t.includes("POISON");
    for (let i = 0; i < 10; i++)
      h.source.set(key(i), bad.includes(i) ? poisoned(i) : chunkedText(`doc${i}`, 2));
    return h;
  }

  it("2 rejected documents of a batch of 10 fail alone; the 8 others are written; the run does not throw", async () => {
    const h = poisonHarness([3, 7]);
    const r = await h.run({ writeBatchDocs: 10 });
    expect(r).toMatchObject({ added: 8, failed: 2, embedded_chunks: 16, reused_chunks: 0 });
    expect(r.failures.map((f) => [f.key, f.code])).toEqual([
      [key(3), "SYNC_E_EMBEDDING_REJECTED"],
      [key(7), "SYNC_E_EMBEDDING_REJECTED"],
    ]);
    expect(h.failures().map((f) => [f.key, f.code, f.attempts])).toEqual([
      [key(3), "SYNC_E_EMBEDDING_REJECTED", 1],
      [key(7), "SYNC_E_EMBEDDING_REJECTED", 1],
    ]);
    expect(h.store.docs).toHaveLength(8);
    expect(h.items().has(key(3))).toBe(false);
    expect(h.items().has(key(7))).toBe(false);
    expect(h.journal.lastRuns(1)[0]?.status).toBe("partial");
    h.expectConverged([key(3), key(7)]);
  });

  // Fails on purpose: a real bug (see the final report). A retry batch made only of the rejected documents
  // is "every document refused on its own" and throws SYNC_E_EMBEDDING_FAILED instead of failing them.
  it("the next run retries the rejected documents alone (attempts 2) and writes them once they are accepted", async () => {
    const h = poisonHarness([3, 7]);
    await h.run({ writeBatchDocs: 10 });
    const r2 = await h.run({ writeBatchDocs: 10 });
    expect(sorted(h.source.fetchedKeys)).toEqual([key(3), key(7)]);
    expect(r2).toMatchObject({ failed: 2, added: 0, unchanged: 8 });
    expect(h.failures().map((f) => [f.key, f.attempts])).toEqual([
      [key(3), 2],
      [key(7), 2],
    ]);
    h.embedder.rejectText = undefined;
    const r3 = await h.run({ writeBatchDocs: 10 });
    expect(r3).toMatchObject({ added: 2, failed: 0, unchanged: 8 });
    expect(h.failures()).toEqual([]);
    h.expectConverged();
  });

  it("rejected documents retried with another changed document: attempts 2, then written once accepted", async () => {
    const h = poisonHarness([3, 7]);
    await h.run({ writeBatchDocs: 10 });
    h.source.set(key(0), chunkedText("doc0-v2", 2));
    const r2 = await h.run({ writeBatchDocs: 10 });
    expect(sorted(h.source.fetchedKeys)).toEqual([key(0), key(3), key(7)]);
    expect(r2).toMatchObject({ updated: 1, failed: 2, added: 0, unchanged: 7 });
    expect(h.failures().map((f) => [f.key, f.attempts])).toEqual([
      [key(3), 2],
      [key(7), 2],
    ]);
    h.expectConverged([key(3), key(7)]);

    h.embedder.rejectText = undefined;
    h.source.set("z.txt", "a companion doc");
    const r3 = await h.run({ writeBatchDocs: 10 });
    expect(r3).toMatchObject({ added: 3, failed: 0, unchanged: 8 });
    expect(h.failures()).toEqual([]);
    h.expectConverged();
  });

  it("a retryable outage fails the run without recording item failures; the next run writes everything", async () => {
    const h = poisonHarness([]);
    h.embedder.failWith = () => new SyncError("SYNC_E_EMBEDDING_FAILED", "down", { retryable: true });
    const err = await rejection(h.run({ writeBatchDocs: 10 }));
    expect(isSyncError(err, "SYNC_E_EMBEDDING_FAILED")).toBe(true);
    expect((err as SyncError).retryable).toBe(true);
    expect(h.journal.listFailures()).toEqual([]);
    expect(h.store.commits).toEqual([]);
    expect(h.items().size).toBe(0);
    expect(h.journal.lastRuns(1)[0]?.status).toBe("failed");

    h.embedder.failWith = undefined;
    const r = await h.run({ writeBatchDocs: 10 });
    expect(r).toMatchObject({ added: 10, failed: 0, embedded_chunks: 20 });
    h.expectConverged();
  });

  it("every document of a multi-document batch rejected: the run throws SYNC_E_EMBEDDING_FAILED (settings)", async () => {
    const h = poisonHarness([]);
    h.embedder.rejectText = () => true;
    const err = await rejection(h.run({ writeBatchDocs: 10 }));
    expect(isSyncError(err, "SYNC_E_EMBEDDING_FAILED")).toBe(true);
    expect((err as SyncError).retryable).toBe(false);
    expect((err as SyncError).message).toContain("EMBEDDING_");
    expect(h.journal.listFailures()).toEqual([]);
    expect(h.store.commits).toEqual([]);
    expect(h.items().size).toBe(0);
  });
});

describe("runSync hardening: pending items that fail again", () => {
  it("a new item left pending with partial chunks that now fails has its rows removed", async () => {
    const h = await synced(3, 2);
    h.source.set("new.txt", chunkedText("new", 3));
    h.store.failOnApply(1, "after-chunks");
    await expect(h.run()).rejects.toThrow(SyncError);
    const id = h.docId("new.txt");
    expect(h.items().get("new.txt")?.status).toBe("pending");
    expect(h.store.chunksOf(id)).toHaveLength(3);

    h.source.set("new.txt", "CORRUPT now");
    const r = await h.run();
    expect(r).toMatchObject({ failed: 1, added: 0, deleted: 0, unchanged: 3 });
    expect(r.failures).toEqual([
      { key: "new.txt", code: "SYNC_E_CORRUPT_FILE", error: expect.stringContaining("new.txt") },
    ]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain("removed the partial rows of 1 items");
    expect(h.store.chunksOf(id)).toEqual([]);
    expect(h.store.docById(id)).toBeUndefined();
    expect(h.items().has("new.txt")).toBe(false);
    expect(h.failures()).toMatchObject([{ key: "new.txt", attempts: 1, code: "SYNC_E_CORRUPT_FILE" }]);
    expect(h.store.deleteCommits().at(-1)?.deleteDocIds).toEqual([id]);
    h.expectConverged(["new.txt"]);

    // Fails again: no longer pending, nothing to remove.
    const commits = h.store.commits.length;
    const r2 = await h.run();
    expect(r2).toMatchObject({ failed: 1 });
    expect(r2.warnings).toEqual([]);
    expect(h.store.commits.length).toBe(commits);
    expect(h.failures()).toMatchObject([{ key: "new.txt", attempts: 2 }]);

    h.source.set("new.txt", chunkedText("fixed", 2));
    const r3 = await h.run();
    expect(r3).toMatchObject({ added: 1, failed: 0 });
    h.expectConverged();
  });

  it("an update interrupted after its chunks, then broken: the mixed rows are removed", async () => {
    const h = await synced(3, 3);
    h.source.set(key(0), chunkedText("v2", 2));
    h.store.failOnApply(1, "after-chunks");
    await expect(h.run()).rejects.toThrow(SyncError);
    const id = h.docId(key(0));
    expect(h.items().get(key(0))?.status).toBe("pending");
    expect(h.store.docById(id)).toBeDefined();

    h.source.set(key(0), "CORRUPT");
    const r = await h.run();
    expect(r).toMatchObject({ failed: 1, updated: 0, deleted: 0, unchanged: 2 });
    expect(r.warnings.join("\n")).toContain("removed the partial rows");
    expect(h.store.docById(id)).toBeUndefined();
    expect(h.store.chunksOf(id)).toEqual([]);
    expect(h.items().has(key(0))).toBe(false);
    expect(h.failures()).toMatchObject([{ key: key(0), attempts: 1 }]);
    h.expectConverged([key(0)]);
  });

  it("a pending item that an embedder rejection fails has its rows removed too", async () => {
    const h = await synced(3, 2);
    h.source.set("new.txt", chunkedText("new", 2) + "POISON".padEnd(CHUNK, "."));
    h.store.failOnApply(1, "after-chunks");
    await expect(h.run()).rejects.toThrow(SyncError);
    expect(h.store.chunksOf(h.docId("new.txt"))).toHaveLength(3);
    // A new poison text (the old one's vector is in the store's cache by now).
    h.source.set("new.txt", chunkedText("new", 2) + "POISON2".padEnd(CHUNK, "."));
    h.embedder.rejectText = (t) => t.startsWith("POISON2");
    const r = await h.run();
    expect(r).toMatchObject({ failed: 1, added: 0 });
    expect(r.failures.map((f) => f.code)).toEqual(["SYNC_E_EMBEDDING_REJECTED"]);
    expect(r.warnings.join("\n")).toContain("removed the partial rows of 1 items");
    expect(h.store.chunksOf(h.docId("new.txt"))).toEqual([]);
    expect(h.items().has("new.txt")).toBe(false);
    h.expectConverged(["new.txt"]);
  });

  it("pending wins over a given-up failure record: the item is retried, and its rows removed when it fails", async () => {
    const h = await synced(3, 2);
    h.source.set(key(1), "CORRUPT");
    await h.run({ maxRetryAttempts: 1 });
    const r1 = await h.run({ maxRetryAttempts: 1 });
    expect(r1).toMatchObject({ given_up: 1, failed: 0 });
    expect(h.source.fetchCalls).toBe(0);

    const id = h.docId(key(1));
    h.journal.markPending(USER, "docs", [{ key: key(1), docId: id }]);
    const r2 = await h.run({ maxRetryAttempts: 1 });
    expect(h.source.fetchedKeys).toEqual([key(1)]);
    expect(r2).toMatchObject({ given_up: 0, failed: 1 });
    expect(r2.warnings.join("\n")).toContain("removed the partial rows of 1 items");
    expect(h.store.docById(id)).toBeUndefined();
    expect(h.store.chunksOf(id)).toEqual([]);
    expect(h.items().has(key(1))).toBe(false);
    expect(h.failures()).toMatchObject([{ key: key(1), attempts: 2 }]);
    h.expectConverged([key(1)]);
  });

  it("detectChanges: a pending item is a candidate even when its failure is given up", () => {
    const ref: SourceItemRef = { key: "a", fingerprint: "f1" };
    const failure: FailureState = {
      userId: USER,
      sourceName: "docs",
      key: "a",
      fingerprint: "f1",
      attempts: 5,
      code: "SYNC_E_CORRUPT_FILE",
      error: "x",
      firstFailedAt: "2025-01-01T00:00:00Z",
      lastFailedAt: "2025-01-01T00:00:00Z",
      retryable: false,
    };
    const item = (status: ItemState["status"]): ItemState => ({
      key: "a",
      docId: "d",
      fingerprint: "f1",
      contentHash: "h",
      status,
    });
    const failed = new Map([["a", failure]]);
    const pending = detectChanges([ref], new Map([["a", item("pending")]]), failed, { maxRetryAttempts: 3 });
    expect(pending.candidates).toHaveLength(1);
    expect(pending.givenUp).toBe(0);
    const syncedItem = detectChanges([ref], new Map([["a", item("synced")]]), failed, {
      maxRetryAttempts: 3,
    });
    expect(syncedItem.candidates).toHaveLength(0);
    expect(syncedItem.givenUp).toBe(1);
  });
});

describe("runSync hardening: write batches bounded by chunks", () => {
  it("with writeBatchChunks 64, no commit carries more than 64 chunks unless it is one document; 200 chunks go alone", async () => {
    const h = makeHarness();
    for (let i = 0; i < 5; i++) h.source.set(key(i), chunkedText(`d${i}`, 30));
    h.source.set("big.txt", chunkedText("big", 200));
    for (let i = 5; i < 7; i++) h.source.set(key(i), chunkedText(`d${i}`, 30));
    const r = await h.run({ writeBatchDocs: 100, writeBatchChunks: 64 });
    expect(r).toMatchObject({ added: 8, failed: 0, embedded_chunks: 7 * 30 + 200 });
    const commits = h.store.upsertCommits();
    for (const c of commits) {
      if (c.chunkCount > 64) expect(c.upsertDocIds).toHaveLength(1);
    }
    expect(commits.map((c) => [c.upsertDocIds.length, c.chunkCount])).toEqual([
      [2, 60],
      [2, 60],
      [1, 30],
      [1, 200],
      [2, 60],
    ]);
    expect(commits[3]?.upsertDocIds).toEqual([h.docId("big.txt")]);
    h.expectConverged();
  });
});

describe("runSync hardening: per-user embedding cache", () => {
  async function twoUsers(scope: "user" | "global" | undefined) {
    const h = makeHarness();
    h.source.set("a.txt", chunkedText("shared", 3));
    await h.run();
    const bobSource = new MemorySource("docs");
    bobSource.set("b.txt", chunkedText("shared", 3) + chunkedText("bob", 1));
    const r = await h.run({
      userId: "bob",
      source: bobSource,
      ...(scope ? { embeddingCacheScope: scope } : {}),
    });
    return { h, r };
  }

  it("default scope: another user's identical texts are embedded again, lookups name the user", async () => {
    const { h, r } = await twoUsers(undefined);
    expect(r).toMatchObject({ added: 1, embedded_chunks: 4, reused_chunks: 0 });
    expect(h.embedder.texts).toHaveLength(4);
    expect(h.store.lookupUserIds).toEqual(["bob"]);
    expect(h.journal.listItems("bob", "docs").size).toBe(1);
    const bobChunks = h.store.chunks.filter((c) => c.user_id === "bob");
    expect(bobChunks).toHaveLength(4);
    for (const c of bobChunks) expect([...c.vector]).toEqual([...h.embedder.vectorOf(c.text)]);
  });

  it("explicit user scope behaves like the default", async () => {
    const { h, r } = await twoUsers("user");
    expect(r).toMatchObject({ embedded_chunks: 4, reused_chunks: 0 });
    expect(h.store.lookupUserIds).toEqual(["bob"]);
  });

  it("global scope: another user's identical texts are reused", async () => {
    const { h, r } = await twoUsers("global");
    expect(r).toMatchObject({ added: 1, embedded_chunks: 1, reused_chunks: 3 });
    expect(h.embedder.texts).toEqual([chunkedText("bob", 1)]);
    expect(h.store.lookupUserIds).toEqual([undefined]);
  });
});

describe("runSync hardening: store verification (storeEpoch)", () => {
  it("a newer store epoch re-processes exactly the items whose rows are missing or differ, reusing vectors", async () => {
    const h = await synced(6, 3, true);
    expect(h.journal.getSource(USER, "docs")?.storeEpoch).toBe(0);
    const id = (i: number) => h.docId(key(i));
    h.store.docs = h.store.docs.filter((d) => d.doc_id !== id(0)); // doc row gone, chunks kept
    h.store.chunks = h.store.chunks.filter((c) => c.doc_id !== id(1)); // chunks gone
    h.store.chunks = h.store.chunks.filter((c) => !(c.doc_id === id(2) && c.ordinal === 1)); // one chunk gone
    for (const d of h.store.docs) if (d.doc_id === id(3)) d.content_hash = "other"; // content differs
    const dup = h.store.docById(id(4));
    if (dup) h.store.docs.push({ ...dup }); // duplicated doc row
    h.store.listDocumentsCalls = 0;

    const r = await h.run({ storeEpoch: 1 });
    expect(r).toMatchObject({ repaired: 5, updated: 0, added: 0, unchanged: 1, failed: 0, deleted: 0 });
    expect(r.embedded_chunks).toBe(3 + 1);
    expect(r.reused_chunks).toBe(3 + 2 + 3 + 3);
    expect(sorted(h.source.fetchedKeys)).toEqual([0, 1, 2, 3, 4].map(key));
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain("5 documents");
    expect(h.store.listDocumentsCalls).toBe(1);
    expect(h.journal.getSource(USER, "docs")?.storeEpoch).toBe(1);
    h.expectConverged();

    // Same epoch: not verified again, so a loss since goes unnoticed.
    h.store.docs = h.store.docs.filter((d) => d.doc_id !== id(5));
    h.store.chunks = h.store.chunks.filter((c) => c.doc_id !== id(5));
    h.store.listDocumentsCalls = 0;
    const r2 = await h.run({ storeEpoch: 1 });
    expect(r2).toMatchObject({ repaired: 0, unchanged: 6 });
    expect(r2.warnings).toEqual([]);
    expect(h.store.listDocumentsCalls).toBe(0);
    expect(h.source.fetchCalls).toBe(0);

    // A newer epoch finds it.
    const r3 = await h.run({ storeEpoch: 2 });
    expect(r3).toMatchObject({ repaired: 1, unchanged: 5, embedded_chunks: 3 });
    expect(h.source.fetchedKeys).toEqual([key(5)]);
    h.expectConverged();
  });

  it("an intact store at a newer epoch: verified, nothing re-processed", async () => {
    const h = await synced(4, 2, true);
    h.store.listDocumentsCalls = 0;
    const r = await h.run({ storeEpoch: 3 });
    expect(r).toMatchObject({ repaired: 0, unchanged: 4 });
    expect(r.warnings).toEqual([]);
    expect(h.source.fetchCalls).toBe(0);
    expect(h.store.listDocumentsCalls).toBe(1);
    expect(h.journal.getSource(USER, "docs")?.storeEpoch).toBe(3);
  });
});

describe("runSync hardening: exclusive store writes", () => {
  it("every applyBatch and markPending runs inside exclusive, one at a time", async () => {
    let depth = 0;
    let maxDepth = 0;
    let wrapped = 0;
    const exclusive: Exclusive = async (fn) => {
      wrapped++;
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      try {
        return await fn();
      } finally {
        depth--;
      }
    };
    const h = makeHarness("docs", { exclusive });
    const outside: string[] = [];
    const apply = h.store.applyBatch.bind(h.store);
    h.store.applyBatch = async (b) => {
      if (depth === 0) outside.push("applyBatch");
      return apply(b);
    };
    const journal = h.journal;
    const markPending = journal.markPending.bind(journal);
    journal.markPending = (u, n, items) => {
      if (depth === 0) outside.push("markPending");
      markPending(u, n, items);
    };
    h.store.applyDelayMs = 2;
    for (let i = 0; i < 25; i++) h.source.set(key(i), chunkedText(`doc${i}`, 2));
    await h.run({ writeBatchDocs: 10 });
    expect(h.store.commits).toHaveLength(3);
    expect(wrapped).toBe(3);

    for (let i = 0; i < 3; i++) h.source.delete(key(i));
    h.source.set(key(10), chunkedText("edited", 2));
    await h.run({ writeBatchDocs: 10 });
    expect(h.store.commits).toHaveLength(5);
    expect(wrapped).toBe(h.store.commits.length);
    expect(outside).toEqual([]);
    expect(maxDepth).toBe(1);
    h.expectConverged();
  });

  it("exclusive throwing SYNC_E_STORE_CHANGED fails the run; that batch is not committed; a rerun converges", async () => {
    const h = makeHarness();
    for (let i = 0; i < 30; i++) h.source.set(key(i), chunkedText(`doc${i}`, 2));
    let calls = 0;
    h.exclusive = async (fn) => {
      calls++;
      if (calls === 2) throw new SyncError("SYNC_E_STORE_CHANGED", "the store was replaced");
      return fn();
    };
    const err = await rejection(h.run({ writeBatchDocs: 10 }));
    expect(isSyncError(err, "SYNC_E_STORE_CHANGED")).toBe(true);
    expect(calls).toBe(2);
    expect(h.journal.lastRuns(1)[0]?.status).toBe("failed");
    expect(h.store.commits).toHaveLength(1);
    const items = h.items();
    for (let i = 0; i < 10; i++) expect(items.get(key(i))?.status).toBe("synced");
    for (let i = 10; i < 30; i++) {
      expect(items.get(key(i))?.status, key(i)).not.toBe("synced");
      expect(h.store.docById(h.docId(key(i)))).toBeUndefined();
    }
    expect(h.journal.listFailures()).toEqual([]);

    h.exclusive = undefined;
    const r = await h.run({ writeBatchDocs: 10 });
    expect(r).toMatchObject({ unchanged: 10, added: 20, failed: 0 });
    h.expectConverged();
  });
});

describe("runSync hardening: items gone since the listing", () => {
  it("a fetch throwing SYNC_E_ITEM_GONE is not a failure; the item is deleted once the listing lacks it", async () => {
    const h = await synced(3, 2);
    const before = h.store.snapshot();
    const oldState = h.items().get(key(1));
    h.source.set(key(1), chunkedText("edited", 2)).set("new.txt", "brand new");
    const src = wrap(h.source, {
      fetch: async (ref, real) => {
        if (ref.key === key(1) || ref.key === "new.txt")
          throw new SyncError("SYNC_E_ITEM_GONE", `${ref.key}: gone since the listing`);
        return real(ref);
      },
    });
    const r = await h.run({ source: src });
    expect(r).toMatchObject({ failed: 0, updated: 0, added: 0, deleted: 0, unchanged: 2 });
    expect(r.failures).toEqual([]);
    expect(h.journal.listFailures()).toEqual([]);
    expect(h.journal.lastRuns(1)[0]?.status).toBe("succeeded");
    expect(h.items().get(key(1))).toEqual(oldState);
    expect(h.items().has("new.txt")).toBe(false);
    expect(h.store.snapshot()).toEqual(before);

    h.source.delete(key(1)).delete("new.txt");
    const r2 = await h.run();
    expect(r2).toMatchObject({ deleted: 1, failed: 0, added: 0 });
    expect(h.store.docById(h.docId(key(1)))).toBeUndefined();
    h.expectConverged();
  });
});
