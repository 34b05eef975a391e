import { describe, expect, it } from "vitest";
import { hashContent } from "../../src/core/ids.js";
import type { SyncStep } from "../../src/core/run-sync.js";
import { isSyncError, SyncError } from "../../src/errors/sync-error.js";
import type { FailPhase } from "../fakes/memory-store.js";
import { CHUNK, chunkedText, editChunk, type Harness, makeHarness, USER } from "../fakes/sync-harness.js";
import { rejection } from "../helpers/caught.js";

/** Runs `p`, expects a rejection and returns the error. */

/** A harness whose source holds `n` documents `d00.txt`… of `chunks` chunks each, synced once. */
async function synced(n: number, chunks = 2): Promise<Harness> {
  const h = makeHarness();
  for (let i = 0; i < n; i++) h.source.set(key(i), chunkedText(`doc${i}`, chunks));
  await h.run();
  return h;
}

const key = (i: number) => `dir/d${String(i).padStart(2, "0")}.txt`;

describe("runSync: incremental changes", () => {
  it("adds new items: each is fetched, processed and its chunks embedded once, then journaled as synced", async () => {
    const h = makeHarness();
    h.source.set("a.txt", chunkedText("a", 3)).set("b.txt", chunkedText("b", 2));
    const r = await h.run();
    expect(r).toMatchObject({
      added: 2,
      updated: 0,
      moved: 0,
      deleted: 0,
      unchanged: 0,
      failed: 0,
      listed: 2,
      embedded_chunks: 5,
      reused_chunks: 0,
      held_deletions: 0,
      given_up: 0,
    });
    expect(h.source.fetchCalls).toBe(2);
    expect(h.processor.calls).toBe(2);
    expect(h.embedder.texts).toHaveLength(5);
    h.expectConverged();
    const runs = h.journal.lastRuns(1, USER);
    expect(runs[0]).toMatchObject({ status: "succeeded", stats: { added: 2, embedded_chunks: 5 } });
  });

  it("an unchanged source: nothing is fetched, processed or embedded, and the store is not even opened", async () => {
    const h = await synced(4);
    const before = h.store.snapshot();
    const commits = h.store.commits.length;
    const r = await h.run();
    expect(r).toMatchObject({ added: 0, updated: 0, moved: 0, deleted: 0, unchanged: 4, listed: 4 });
    expect(r.embedded_chunks).toBe(0);
    expect(h.source.fetchCalls).toBe(0);
    expect(h.processor.calls).toBe(0);
    expect(h.embedder.calls).toBe(0);
    expect(h.storeOpens).toBe(0);
    expect(h.store.commits.length).toBe(commits);
    expect(h.store.snapshot()).toEqual(before);
  });

  it("touched files (fingerprint moved, same content) are hashed but the store is not opened", async () => {
    const h = await synced(4);
    h.source.touch(key(0)).touch(key(1));
    const r = await h.run();
    expect(r).toMatchObject({ added: 0, updated: 0, unchanged: 4 });
    expect(h.source.fetchCalls).toBe(2);
    expect(h.processor.calls).toBe(0);
    expect(h.storeOpens).toBe(0);
  });

  it("an edit of one paragraph of a multi-chunk document embeds only the changed chunk", async () => {
    const h = makeHarness();
    const original = chunkedText("big", 6);
    h.source.set("big.txt", original).set("other.txt", chunkedText("other", 2));
    await h.run();

    h.source.set("big.txt", editChunk(original, 2, "a changed para"));
    const r = await h.run();
    expect(r).toMatchObject({ updated: 1, added: 0, unchanged: 1, embedded_chunks: 1, reused_chunks: 5 });
    expect(h.embedder.texts).toEqual(["a changed para~~"]);
    expect(h.source.fetchedKeys).toEqual(["big.txt"]);
    h.expectConverged();

    // Two more paragraphs change: exactly two embeddings.
    h.source.set(
      "big.txt",
      editChunk(editChunk(editChunk(original, 2, "a changed para"), 0, "first"), 5, "last"),
    );
    const r2 = await h.run();
    expect(r2).toMatchObject({ updated: 1, embedded_chunks: 2, reused_chunks: 4 });
    expect(h.embedder.texts.sort()).toEqual(["first~~~~~~~~~~~", "last~~~~~~~~~~~~"]);
    h.expectConverged();
  });

  it("a document that shrinks loses its surplus chunks", async () => {
    const h = makeHarness();
    h.source.set("a.txt", chunkedText("a", 5));
    await h.run();
    h.source.set("a.txt", chunkedText("a", 2));
    const r = await h.run();
    expect(r).toMatchObject({ updated: 1, embedded_chunks: 0, reused_chunks: 2 });
    h.expectConverged();
  });

  it("a moved fingerprint with the same content is fetched and hashed, not processed or embedded, and counted unchanged", async () => {
    const h = await synced(3);
    const before = h.store.snapshot();
    h.source.touch(key(1));
    const r = await h.run();
    expect(r).toMatchObject({ unchanged: 3, updated: 0, added: 0, deleted: 0, embedded_chunks: 0 });
    expect(h.source.fetchedKeys).toEqual([key(1)]);
    expect(h.processor.calls).toBe(0);
    expect(h.embedder.calls).toBe(0);
    expect(h.store.snapshot()).toEqual(before);
    expect(h.items().get(key(1))?.fingerprint).toBe(h.source.fingerprint(key(1)));
    h.expectConverged();
    // The journal learned the new fingerprint: the next run reads nothing.
    await h.run();
    expect(h.source.fetchCalls).toBe(0);
  });

  it("a move (same content at a new key, old key gone) is moved=1, deleted=0, embeds nothing, and only the new key remains", async () => {
    const h = await synced(3, 3);
    h.source.move(key(0), "elsewhere/renamed.txt");
    const r = await h.run();
    expect(r).toMatchObject({ moved: 1, deleted: 0, added: 0, updated: 0, unchanged: 2, embedded_chunks: 0 });
    expect(r.reused_chunks).toBe(3);
    expect(h.embedder.calls).toBe(0);
    expect(h.store.docById(h.docId(key(0)))).toBeUndefined();
    expect(h.store.chunksOf(h.docId(key(0)))).toEqual([]);
    expect(h.store.docById(h.docId("elsewhere/renamed.txt"))?.item_key).toBe("elsewhere/renamed.txt");
    h.expectConverged();
  });

  it("moves are not held by the mass-delete guard (renaming a whole folder)", async () => {
    const h = await synced(4);
    for (let i = 0; i < 4; i++) h.source.move(key(i), `renamed/${i}.txt`);
    const r = await h.run();
    expect(r).toMatchObject({ moved: 4, deleted: 0, held_deletions: 0, embedded_chunks: 0 });
    expect(r.warnings).toEqual([]);
    h.expectConverged();
  });

  it("a duplicate of an existing file under a new key is added, reusing the stored vectors", async () => {
    const h = await synced(2, 3);
    h.source.set("copy.txt", h.source.bytes(key(0)));
    const r = await h.run();
    expect(r).toMatchObject({
      added: 1,
      moved: 0,
      deleted: 0,
      unchanged: 2,
      embedded_chunks: 0,
      reused_chunks: 3,
    });
    expect(h.embedder.calls).toBe(0);
    expect(h.store.docById(h.docId(key(0)))).toBeDefined();
    h.expectConverged();
  });

  it("a deleted item is removed from the store and the journal", async () => {
    const h = await synced(4);
    h.source.delete(key(2));
    const r = await h.run();
    expect(r).toMatchObject({ deleted: 1, unchanged: 3, added: 0, held_deletions: 0 });
    expect(h.source.fetchCalls).toBe(0);
    expect(h.store.docById(h.docId(key(2)))).toBeUndefined();
    expect(h.store.chunksOf(h.docId(key(2)))).toEqual([]);
    h.expectConverged();
  });

  it("several kinds of change in one run are all applied", async () => {
    const h = await synced(6, 2);
    h.source.set(key(0), chunkedText("doc0-new", 2)); // edit
    h.source.move(key(1), "moved.txt"); // move
    h.source.delete(key(2)); // delete
    h.source.touch(key(3)); // fingerprint only
    h.source.set("new.txt", chunkedText("fresh", 2)); // add
    const r = await h.run();
    expect(r).toMatchObject({ updated: 1, moved: 1, deleted: 1, added: 1, unchanged: 3, failed: 0 });
    h.expectConverged();
  });
});

describe("runSync: listing", () => {
  it("a failing listing throws SYNC_E_SOURCE_UNAVAILABLE, changes nothing and marks the source unhealthy", async () => {
    const h = await synced(3);
    h.journal.upsertSource({ userId: USER, name: "docs", type: "mem", config: {} });
    const before = h.store.snapshot();
    const items = h.items();
    h.source.failListing(new Error("EACCES: permission denied"));
    const err = await rejection(h.run());
    expect(isSyncError(err, "SYNC_E_SOURCE_UNAVAILABLE")).toBe(true);
    expect((err as SyncError).message).toContain("EACCES");
    expect(h.store.snapshot()).toEqual(before);
    expect(h.store.deleteCommits()).toEqual([]);
    expect(h.items()).toEqual(items);
    const src = h.journal.getSource(USER, "docs");
    expect(src?.healthy).toBe(false);
    expect(src?.lastError).toContain("EACCES");
    expect(h.journal.lastRuns(1)[0]?.status).toBe("failed");

    h.source.healListing();
    await h.run();
    expect(h.journal.getSource(USER, "docs")).toMatchObject({ healthy: true, lastError: null });
    h.expectConverged();
  });

  it("an empty listing of a non-empty source deletes nothing and warns", async () => {
    const h = await synced(3);
    const before = h.store.snapshot();
    for (const k of h.source.keys()) h.source.delete(k);
    const r = await h.run();
    expect(r.deleted).toBe(0);
    expect(r.held_deletions).toBe(3);
    expect(r.warnings.join("\n")).toMatch(/empty/);
    expect(r.warnings.join("\n")).toContain("--allow-mass-delete");
    expect(h.store.snapshot()).toEqual(before);
    expect(h.items().size).toBe(3);
  });
});

describe("runSync: mass-delete guard", () => {
  it("deleting 6 of 10 with threshold 0.5 holds all 6 and names --allow-mass-delete", async () => {
    const h = await synced(10);
    const before = h.store.snapshot();
    for (let i = 0; i < 6; i++) h.source.delete(key(i));
    const r = await h.run({ massDeleteThreshold: 0.5 });
    expect(r).toMatchObject({ held_deletions: 6, deleted: 0, unchanged: 4 });
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain("--allow-mass-delete");
    expect(h.store.snapshot()).toEqual(before);
    expect(h.items().size).toBe(10);

    const r2 = await h.run({ massDeleteThreshold: 0.5, allowMassDelete: true });
    expect(r2).toMatchObject({ held_deletions: 0, deleted: 6 });
    expect(r2.warnings).toEqual([]);
    h.expectConverged();
  });

  it("deleting 4 of 10 with threshold 0.5 deletes them", async () => {
    const h = await synced(10);
    for (let i = 0; i < 4; i++) h.source.delete(key(i));
    const r = await h.run({ massDeleteThreshold: 0.5 });
    expect(r).toMatchObject({ held_deletions: 0, deleted: 4 });
    expect(r.warnings).toEqual([]);
    h.expectConverged();
  });

  it("deleting exactly the threshold share (5 of 10 at 0.5) is not above it: deleted", async () => {
    const h = await synced(10);
    for (let i = 0; i < 5; i++) h.source.delete(key(i));
    const r = await h.run({ massDeleteThreshold: 0.5 });
    expect(r).toMatchObject({ held_deletions: 0, deleted: 5 });
    h.expectConverged();
  });

  it("an empty listing is held even with threshold 1", async () => {
    const h = await synced(2);
    h.source.delete(key(0)).delete(key(1));
    const r = await h.run({ massDeleteThreshold: 1 });
    expect(r).toMatchObject({ held_deletions: 2, deleted: 0 });
    expect(h.store.docs).toHaveLength(2);
  });

  it("deletions are written in batches of writeBatchDocs", async () => {
    const h = await synced(25, 1);
    for (let i = 0; i < 25; i++) h.source.delete(key(i));
    const commits = h.store.commits.length;
    const r = await h.run({ allowMassDelete: true, writeBatchDocs: 10 });
    expect(r.deleted).toBe(25);
    expect(h.store.commits.slice(commits).map((c) => c.deleteDocIds.length)).toEqual([10, 10, 5]);
    expect(h.store.docs).toEqual([]);
    expect(h.store.chunks).toEqual([]);
    expect(h.items().size).toBe(0);
  });
});

describe("runSync: failures", () => {
  it("a corrupt item fails alone, is retried until maxRetryAttempts, then given up until it changes", async () => {
    const h = makeHarness();
    h.source.set("good1.txt", chunkedText("g1", 2)).set("bad.txt", "CORRUPT bytes").set("good2.txt", "ok");
    const r1 = await h.run({ maxRetryAttempts: 3 });
    expect(r1).toMatchObject({ added: 2, failed: 1, given_up: 0 });
    expect(r1.failures).toEqual([
      { key: "bad.txt", code: "SYNC_E_CORRUPT_FILE", error: expect.stringContaining("bad.txt") },
    ]);
    expect(h.failures()).toMatchObject([{ key: "bad.txt", attempts: 1, code: "SYNC_E_CORRUPT_FILE" }]);
    expect(h.journal.lastRuns(1)[0]?.status).toBe("partial");
    h.expectConverged(["bad.txt"]);

    const r2 = await h.run({ maxRetryAttempts: 3 });
    expect(r2).toMatchObject({ failed: 1, given_up: 0, unchanged: 2 });
    expect(h.source.fetchedKeys).toEqual(["bad.txt"]);
    expect(h.failures()).toMatchObject([{ key: "bad.txt", attempts: 2 }]);

    const r3 = await h.run({ maxRetryAttempts: 3 });
    expect(r3).toMatchObject({ failed: 1, given_up: 0 });
    expect(h.failures()).toMatchObject([{ key: "bad.txt", attempts: 3 }]);

    // Reached the limit: not fetched any more.
    const r4 = await h.run({ maxRetryAttempts: 3 });
    expect(r4).toMatchObject({ failed: 0, given_up: 1, unchanged: 2 });
    expect(h.source.fetchCalls).toBe(0);
    expect(h.failures()).toMatchObject([{ key: "bad.txt", attempts: 3 }]);
    expect(h.journal.lastRuns(1)[0]?.status).toBe("succeeded");

    // Its fingerprint moves (still corrupt): retried, and the count restarts.
    h.source.set("bad.txt", "CORRUPT still");
    const r5 = await h.run({ maxRetryAttempts: 3 });
    expect(r5).toMatchObject({ failed: 1, given_up: 0 });
    expect(h.source.fetchedKeys).toEqual(["bad.txt"]);
    expect(h.failures()).toMatchObject([{ key: "bad.txt", attempts: 1 }]);

    // Fixed: added, and the failure record is gone.
    h.source.set("bad.txt", chunkedText("fixed", 2));
    const r6 = await h.run({ maxRetryAttempts: 3 });
    expect(r6).toMatchObject({ added: 1, failed: 0, given_up: 0 });
    expect(h.failures()).toEqual([]);
    h.expectConverged();
  });

  it("a given-up item is retried once its content is fixed", async () => {
    const h = makeHarness();
    h.source.set("ok.txt", "fine").set("bad.txt", "CORRUPT");
    await h.run({ maxRetryAttempts: 1 });
    const r2 = await h.run({ maxRetryAttempts: 1 });
    expect(r2.given_up).toBe(1);
    h.source.set("bad.txt", "now fine");
    const r3 = await h.run({ maxRetryAttempts: 1 });
    expect(r3).toMatchObject({ added: 1, given_up: 0, failed: 0 });
    expect(h.failures()).toEqual([]);
    h.expectConverged();
  });

  it("an edit that breaks a synced document keeps its last good version and records the failure", async () => {
    const h = await synced(3);
    const good = h.store.snapshot();
    h.source.set(key(1), "CORRUPT now");
    const r = await h.run();
    expect(r).toMatchObject({ failed: 1, updated: 0, deleted: 0 });
    expect(h.store.snapshot()).toEqual(good);
    expect(h.failures()).toMatchObject([{ key: key(1), attempts: 1 }]);
    h.source.set(key(1), chunkedText("repaired", 2));
    const r2 = await h.run();
    expect(r2).toMatchObject({ updated: 1, failed: 0 });
    expect(h.failures()).toEqual([]);
    h.expectConverged();
  });

  it("a broken edit restored to the synced version with its old fingerprint clears the failure record", async () => {
    const h = await synced(3);
    const good = h.source.bytes(key(1));
    const fp = h.source.fingerprint(key(1));
    h.source.set(key(1), "CORRUPT now");
    await h.run();
    expect(h.failures()).toHaveLength(1);
    h.source.set(key(1), good, fp);
    const r = await h.run();
    expect(r).toMatchObject({ failed: 0, unchanged: 3, updated: 0 });
    expect(h.failures()).toEqual([]);
    h.expectConverged();
  });

  it("a failed item whose file is deleted gets its failure record cleared", async () => {
    const h = makeHarness();
    h.source.set("a.txt", "aaa").set("b.txt", "bbb").set("c.txt", "ccc").set("bad.txt", "CORRUPT");
    await h.run();
    expect(h.failures()).toHaveLength(1);
    h.source.delete("bad.txt");
    const r = await h.run();
    expect(r).toMatchObject({ failed: 0, deleted: 0, given_up: 0 });
    expect(h.failures()).toEqual([]);
    h.expectConverged();
  });

  it("an item that vanishes between listing and fetch is skipped, not failed; the next run deletes it", async () => {
    const h = makeHarness();
    h.source.set("a.txt", "aaa").set("b.txt", "bbb");
    await h.run();
    h.source.set("b.txt", "bbb edited");
    const realFetch = h.source.fetch.bind(h.source);
    h.source.fetch = async (ref) => {
      if (ref.key === "b.txt" && h.source.has("b.txt")) h.source.delete("b.txt");
      return realFetch(ref);
    };
    const r = await h.run();
    expect(r).toMatchObject({ updated: 0, failed: 0, deleted: 0 });
    expect(r.failures).toEqual([]);
    expect(h.journal.listFailures()).toEqual([]);
    const next = await h.run();
    expect(next).toMatchObject({ deleted: 1, failed: 0 });
    h.expectConverged();
  });
});

describe("runSync: crash recovery", () => {
  const phases: FailPhase[] = ["before", "after-chunks", "after-docs"];
  const cases = phases.flatMap((phase) => [1, 2, 3].map((k) => ({ phase, k })));

  it.each(cases)(
    "store fails in applyBatch $k ($phase) of a first run: the rerun converges",
    async ({ phase, k }) => {
      const h = makeHarness();
      for (let i = 0; i < 40; i++) h.source.set(key(i), chunkedText(`doc${i}`, 3));
      h.store.failOnApply(k, phase);
      const err = await rejection(h.run({ writeBatchDocs: 10 }));
      expect(isSyncError(err, "SYNC_E_STORAGE")).toBe(true);
      expect(h.journal.lastRuns(1)[0]?.status).toBe("failed");
      const committed = h.store.commits.slice(0, k - 1).flatMap((c) => c.upsertDocIds);
      expect(h.store.commits[k - 1]?.failed).toBe(true);

      const r = await h.run({ writeBatchDocs: 10 });
      expect(r.failed).toBe(0);
      // Batches before the failed one were committed: they are not read again.
      expect(r.unchanged).toBe(committed.length);
      expect(r.added + r.updated).toBe(40 - committed.length);
      h.expectConverged();
      const again = await h.run({ writeBatchDocs: 10 });
      expect(again).toMatchObject({ unchanged: 40, added: 0, updated: 0, deleted: 0 });
      expect(h.source.fetchCalls).toBe(0);
    },
  );

  it("a crash mid-edit, then the file restored to its synced version (same fingerprint): the rerun rewrites it", async () => {
    const h = await synced(3, 3);
    const original = h.source.bytes(key(0));
    const fp = h.source.fingerprint(key(0));
    h.source.set(key(0), chunkedText("half-written", 2));
    h.store.failOnApply(1, "after-chunks");
    await expect(h.run()).rejects.toThrow(SyncError);
    expect(h.items().get(key(0))?.status).toBe("pending");
    // The store now holds the new chunks under the old document row.
    h.source.set(key(0), original, fp);
    await h.run();
    h.expectConverged();
  });

  it("a crash mid-edit, then the edit reverted (new fingerprint, old content): the rerun rewrites it", async () => {
    const h = await synced(3, 3);
    const original = h.source.bytes(key(0));
    h.source.set(key(0), chunkedText("half-written", 2));
    h.store.failOnApply(1, "after-chunks");
    await expect(h.run()).rejects.toThrow(SyncError);
    h.source.set(key(0), original);
    await h.run();
    h.expectConverged();
  });

  it.each(phases)(
    "store fails (%s) while updating edited documents: the rerun converges to the new content",
    async (phase) => {
      const h = await synced(6, 3);
      for (let i = 0; i < 6; i += 2) h.source.set(key(i), chunkedText(`doc${i}-v2`, 2 + i));
      h.store.failOnApply(1, phase);
      await expect(h.run({ writeBatchDocs: 2 })).rejects.toThrow(SyncError);
      const r = await h.run({ writeBatchDocs: 2 });
      expect(r.failed).toBe(0);
      h.expectConverged();
    },
  );

  it.each(phases)("store fails (%s) while applying deletions: the rerun finishes them", async (phase) => {
    const h = await synced(6);
    h.source.delete(key(0)).delete(key(1));
    h.store.failOnApply(1, phase);
    await expect(h.run({ writeBatchDocs: 1 })).rejects.toThrow(SyncError);
    const r = await h.run({ writeBatchDocs: 1 });
    expect(r.deleted).toBeGreaterThanOrEqual(1);
    h.expectConverged();
  });

  it.each(phases)(
    "store fails (%s) in the middle of a move: the rerun leaves the document under the new key only",
    async (phase) => {
      const h = await synced(4, 2);
      h.source.move(key(0), "moved.txt");
      h.store.failOnApply(1, phase);
      await expect(h.run()).rejects.toThrow(SyncError);
      const r = await h.run();
      expect(r.deleted + r.moved).toBe(1);
      expect(r.embedded_chunks).toBe(0);
      h.expectConverged();
    },
  );

  const crashSteps: SyncStep[] = ["pending-marked", "batch-applied", "batch-committed", "deletes-applied"];
  it.each(crashSteps)("a crash right after step %s is recovered by the next run", async (step) => {
    const h = await synced(6, 2);
    h.source.set(key(0), chunkedText("edited", 3)).set("new.txt", chunkedText("new", 2)).delete(key(5));
    const crash = (s: SyncStep) => {
      if (s === step) throw new Error(`crash at ${s}`);
    };
    await expect(h.run({ onStep: crash, writeBatchDocs: 1 })).rejects.toThrow(`crash at ${step}`);
    await h.run({ writeBatchDocs: 1 });
    h.expectConverged();
  });

  it("chunks of a new doc written before the journal commit are deleted when its file is gone before the rerun (store crash)", async () => {
    const h = await synced(4, 2);
    h.source.set("new.txt", chunkedText("orphan", 3));
    h.store.failOnApply(1, "after-chunks");
    await expect(h.run()).rejects.toThrow(SyncError);
    const orphan = h.docId("new.txt");
    expect(h.store.chunksOf(orphan)).toHaveLength(3);

    h.source.delete("new.txt");
    const r = await h.run();
    expect(h.store.chunksOf(orphan)).toEqual([]);
    expect(h.store.docById(orphan)).toBeUndefined();
    expect(r.held_deletions).toBe(0);
    h.expectConverged();
  });

  it("a doc written but not committed (crash after batch-applied) is deleted when its file is gone before the rerun", async () => {
    const h = await synced(4, 2);
    h.source.set("new.txt", chunkedText("orphan", 3));
    await expect(
      h.run({
        onStep: (s) => {
          if (s === "batch-applied") throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    const orphan = h.docId("new.txt");
    expect(h.store.docById(orphan)).toBeDefined();
    expect(h.items().get("new.txt")?.status).toBe("pending");

    h.source.delete("new.txt");
    await h.run();
    expect(h.store.chunksOf(orphan)).toEqual([]);
    expect(h.store.docById(orphan)).toBeUndefined();
    h.expectConverged();
  });
});

describe("runSync: lost journal", () => {
  it("rebuilds the journal from the store: files are hashed, nothing is processed, embedded or added", async () => {
    const h = await synced(5, 3);
    const before = h.store.snapshot();
    h.loseJournal();
    const r = await h.run();
    expect(r).toMatchObject({ added: 0, updated: 0, moved: 0, deleted: 0, unchanged: 5, embedded_chunks: 0 });
    expect(h.source.fetchCalls).toBe(5);
    expect(h.processor.calls).toBe(0);
    expect(h.embedder.calls).toBe(0);
    expect(h.store.snapshot()).toEqual(before);
    h.expectConverged();
    await h.run();
    expect(h.source.fetchCalls).toBe(0);
  });

  it("after a lost journal, changed files are updated and deleted ones removed", async () => {
    const h = await synced(6, 2);
    h.loseJournal();
    h.source.set(key(0), chunkedText("changed", 2)).delete(key(1));
    const r = await h.run();
    expect(r).toMatchObject({ updated: 1, deleted: 1, unchanged: 4, added: 0 });
    h.expectConverged();
  });
});

describe("runSync: journal behind the store (last journal transactions lost in an OS crash)", () => {
  it("a new document the journal forgot is rewritten without duplicate rows", async () => {
    const h = await synced(3, 2);
    const before = h.journal.snapshot();
    h.source.set("new.txt", chunkedText("new", 3));
    await h.run();
    h.journal.restore(before); // markPending and commit of new.txt lost; its rows are in the store
    await h.run();
    h.expectConverged();
  });

  it("a move the journal forgot is redone without duplicate rows", async () => {
    const h = await synced(3, 2);
    const before = h.journal.snapshot();
    h.source.move(key(0), "moved.txt");
    await h.run();
    h.journal.restore(before);
    await h.run();
    h.expectConverged();
  });

  it("an update the journal forgot is redone", async () => {
    const h = await synced(3, 2);
    const before = h.journal.snapshot();
    h.source.set(key(1), chunkedText("v2", 4));
    await h.run();
    h.journal.restore(before);
    await h.run();
    h.expectConverged();
  });

  it("a deletion the journal forgot is redone", async () => {
    const h = await synced(4, 2);
    const before = h.journal.snapshot();
    h.source.delete(key(1));
    await h.run();
    h.journal.restore(before);
    const r = await h.run();
    expect(r.deleted).toBe(1);
    h.expectConverged();
  });
});

describe("runSync: batching", () => {
  it("25 new documents with writeBatchDocs 10 are written in 3 applyBatch calls", async () => {
    const h = makeHarness();
    for (let i = 0; i < 25; i++) h.source.set(key(i), chunkedText(`doc${i}`, 2));
    const r = await h.run({ writeBatchDocs: 10 });
    expect(r.added).toBe(25);
    expect(h.store.upsertCommits().map((c) => c.upsertDocIds.length)).toEqual([10, 10, 5]);
    expect(h.store.commits).toHaveLength(3);
    h.expectConverged();
  });

  it("a write batch closes at writeBatchDocs documents whatever the concurrency", async () => {
    const h = makeHarness();
    for (let i = 0; i < 9; i++) h.source.set(key(i), chunkedText(`doc${i}`, 1));
    await h.run({ writeBatchDocs: 2, concurrency: 8 });
    expect(h.store.upsertCommits().map((c) => c.upsertDocIds.length)).toEqual([2, 2, 2, 2, 1]);
    h.expectConverged();
  });

  it("a write batch closes at writeBatchChunks chunks", async () => {
    const h = makeHarness();
    for (let i = 0; i < 10; i++) h.source.set(key(i), chunkedText(`doc${i}`, 2));
    await h.run({ writeBatchDocs: 100, writeBatchChunks: 6 });
    const sizes = h.store.upsertCommits().map((c) => c.chunkCount);
    expect(sizes).toEqual([6, 6, 6, 2]);
    h.expectConverged();
  });

  it("a chunk text embedded for one batch is not embedded again for a later batch of the same run (slow store)", async () => {
    const h = makeHarness();
    h.store.applyDelayMs = 20;
    const shared = chunkedText("boilerplate", 2);
    for (let i = 0; i < 40; i++) h.source.set(key(i), shared + chunkedText(`doc${i}`, 1));
    const r = await h.run({ writeBatchDocs: 10 });
    expect(r.added).toBe(40);
    expect(r.embedded_chunks).toBe(42);
    expect(h.embedder.texts).toHaveLength(42);
    h.expectConverged();
  });

  it("identical chunk texts are embedded once per run", async () => {
    const h = makeHarness();
    const same = chunkedText("same", 2);
    h.source.set("a.txt", same + same).set("b.txt", same);
    const r = await h.run();
    expect(r.embedded_chunks).toBe(2);
    expect(new Set(h.embedder.texts).size).toBe(h.embedder.texts.length);
    h.expectConverged();
  });

  it("stores the content hash of the bytes and chunk offsets of the processor", async () => {
    const h = makeHarness();
    h.source.set("x.txt", "x".repeat(CHUNK * 2 + 3));
    await h.run();
    const doc = h.store.docById(h.docId("x.txt"));
    expect(doc?.content_hash).toBe(hashContent(h.source.bytes("x.txt")));
    expect(h.store.chunksOf(h.docId("x.txt")).map((c) => [c.start, c.end])).toEqual([
      [0, 16],
      [16, 32],
      [32, 35],
    ]);
  });
});
