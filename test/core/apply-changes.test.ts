import { describe, expect, it } from "vitest";
import { type RetryBackoff, retryDueAt } from "../../src/core/detect-changes.js";
import type { FailureState } from "../../src/core/journal.js";
import type { SyncStep } from "../../src/core/run-sync.js";
import { chunkedText, editChunk, type Harness, makeHarness, USER } from "../fakes/sync-harness.js";
import { rejection } from "../helpers/caught.js";

const key = (i: number) => `dir/d${String(i).padStart(2, "0")}.txt`;

/** A source that confirms gone exactly the keys it no longer holds (as fs `lstat` does). */
function confirming(h: Harness, refuse: ReadonlySet<string> = new Set()): Harness {
  Object.assign(h.source, {
    confirmGone: async (keys: readonly string[]) =>
      new Set(keys.filter((k) => !h.source.has(k) && !refuse.has(k))),
  });
  return h;
}

async function synced(n: number, chunks = 2): Promise<Harness> {
  const h = confirming(makeHarness());
  for (let i = 0; i < n; i++) h.source.set(key(i), chunkedText(`doc${i}`, chunks));
  await h.run();
  return h;
}

describe("applyChanges: partial runs", () => {
  it("processes only the given keys, without listing: other changed items wait for their own run", async () => {
    const h = await synced(4);
    h.source.set(key(0), chunkedText("zero-v2", 2)).set(key(1), chunkedText("one-v2", 2));
    const r = await h.apply([key(0)]);
    expect(r).toMatchObject({ updated: 1, added: 0, deleted: 0, unchanged: 0, failed: 0, listed: 1 });
    expect(h.source.listCalls).toBe(0);
    expect(h.source.fetchedKeys).toEqual([key(0)]);
    expect(h.store.docById(h.docId(key(1)))?.content_hash).not.toBe(
      (await import("../../src/core/ids.js")).hashContent(h.source.bytes(key(1))),
    );
    await h.apply([key(1)]);
    h.expectConverged();
  });

  it("same content under a key is unchanged: nothing processed or embedded; repeats count once", async () => {
    const h = await synced(2);
    h.source.touch(key(0));
    const r = await h.apply([key(0), key(0)]);
    expect(r).toMatchObject({ unchanged: 1, updated: 0, embedded_chunks: 0, listed: 1 });
    expect(h.processor.calls).toBe(0);
    h.expectConverged();
  });

  it("a new key is added; its chunks are embedded once", async () => {
    const h = await synced(2);
    h.source.set("new.txt", chunkedText("fresh", 3));
    const r = await h.apply(["new.txt"]);
    expect(r).toMatchObject({ added: 1, embedded_chunks: 3 });
    h.expectConverged();
  });

  it("a key the source confirms gone is deleted; a key it cannot confirm is kept", async () => {
    const h = confirming(makeHarness(), new Set([key(1)]));
    for (let i = 0; i < 4; i++) h.source.set(key(i), chunkedText(`doc${i}`, 2));
    await h.run();
    h.source.delete(key(0)).delete(key(1));
    const r = await h.apply([key(0), key(1)]);
    expect(r.deleted).toBe(1);
    expect(h.items().has(key(0))).toBe(false);
    expect(h.items().has(key(1))).toBe(true);
    expect(h.store.docById(h.docId(key(1)))).toBeDefined();
    // key(1) is not confirmed gone: fetching it says it vanished, which deletes nothing either.
    expect(r.failed).toBe(0);
  });

  it("a source without confirmGone never deletes in a partial run", async () => {
    const h = makeHarness();
    Object.assign(h.source, { confirmGone: undefined });
    for (let i = 0; i < 3; i++) h.source.set(key(i), chunkedText(`doc${i}`, 2));
    await h.run();
    h.source.delete(key(0));
    const r = await h.apply([key(0)]);
    expect(r).toMatchObject({ deleted: 0, failed: 0 });
    expect(h.items().has(key(0))).toBe(true);
    await h.run();
    h.expectConverged();
  });

  it("unlink plus add of the same content in one partial run is a move: nothing re-embedded", async () => {
    const h = await synced(4, 3);
    h.source.move(key(2), "renamed/d02.txt");
    const r = await h.apply([key(2), "renamed/d02.txt"]);
    expect(r).toMatchObject({ moved: 1, added: 0, deleted: 0, embedded_chunks: 0, reused_chunks: 3 });
    expect(h.processor.calls).toBe(1);
    h.expectConverged();
  });

  it("one bad key fails alone, is recorded, and the others are applied", async () => {
    const h = await synced(2);
    h.source.set("bad.txt", "CORRUPT garbage").set("ok.txt", chunkedText("ok", 1));
    const r = await h.apply(["bad.txt", "ok.txt"]);
    expect(r).toMatchObject({ added: 1, failed: 1 });
    expect(h.failures()).toMatchObject([{ key: "bad.txt", code: "SYNC_E_CORRUPT_FILE", attempts: 1 }]);
    expect(h.journal.lastRuns(1)[0]).toMatchObject({ kind: "changes", status: "partial" });
  });

  it("many confirmed deletions in one partial run are held by the mass-delete guard", async () => {
    const h = await synced(4);
    for (let i = 0; i < 3; i++) h.source.delete(key(i));
    const r = await h.apply([key(0), key(1), key(2)]);
    expect(r).toMatchObject({ deleted: 0, held_deletions: 3 });
    expect(h.items().size).toBe(4);
    const forced = await h.apply([key(0), key(1), key(2)], { allowMassDelete: true });
    expect(forced.deleted).toBe(3);
    h.expectConverged();
  });

  it("partial runs do not stand in for full runs: the racy-clean rule keeps the last full run's start", async () => {
    const h = await synced(1);
    const fullStart = h.journal.lastRunStart(USER, "docs");
    await h.apply([key(0)]);
    expect(h.journal.lastRunStart(USER, "docs")).toBe(fullStart);
    expect(h.journal.lastRuns(1)[0]?.kind).toBe("changes");
  });

  for (const step of [
    "pending-marked",
    "batch-applied",
    "batch-committed",
    "deletes-applied",
  ] as SyncStep[]) {
    it(`a crash right after ${step} in a partial run converges on the next partial or full run`, async () => {
      const h = await synced(3);
      h.source.set(key(0), chunkedText("zero-v2", 2)).set("new.txt", chunkedText("n", 2)).delete(key(2));
      const crash = new Error("crash");
      const err = await rejection(
        h.apply([key(0), "new.txt", key(2)], {
          allowMassDelete: true,
          onStep: (s) => {
            if (s === step) throw crash;
          },
        }),
      );
      expect(err).toBe(crash);
      expect(h.journal.lastRuns(1)[0]).toMatchObject({ kind: "changes", status: "failed" });
      await h.apply([key(0), "new.txt", key(2)], { allowMassDelete: true });
      h.expectConverged();
      await h.run();
      h.expectConverged();
    });
  }
});

describe("full runs consult confirmGone", () => {
  it("an item absent from the listing that the source does not confirm gone is kept, with a warning", async () => {
    const h = confirming(makeHarness(), new Set([key(1)]));
    for (let i = 0; i < 4; i++) h.source.set(key(i), chunkedText(`doc${i}`, 2));
    await h.run();
    h.source.delete(key(0)).delete(key(1));
    const r = await h.run();
    expect(r.deleted).toBe(1);
    expect(h.items().has(key(1))).toBe(true);
    expect(r.warnings.join("\n")).toMatch(/did not confirm them gone/);
  });

  it("a confirmGone that throws keeps every item and the run goes on", async () => {
    const h = await synced(3);
    Object.assign(h.source, {
      confirmGone: async () => {
        throw new Error("API down");
      },
    });
    h.source.delete(key(0));
    const r = await h.run();
    expect(r.deleted).toBe(0);
    expect(r.warnings.join("\n")).toMatch(/could not confirm.*API down/);
    expect(h.items().size).toBe(3);
  });
});

describe("retry with backoff", () => {
  const backoff: RetryBackoff = { baseMs: 60_000, maxMs: 3_600_000 };
  const failure = (attempts: number, retryable: boolean): FailureState => ({
    userId: USER,
    sourceName: "docs",
    key: "k",
    fingerprint: "f",
    attempts,
    code: retryable ? "SYNC_E_EMBEDDING_FAILED" : "SYNC_E_CORRUPT_FILE",
    error: "x",
    firstFailedAt: "2026-01-01T00:00:00.000Z",
    lastFailedAt: "2026-01-01T00:00:00.000Z",
    retryable,
  });

  it("the delay doubles per attempt within ±20% jitter, up to the maximum", () => {
    const t0 = Date.parse("2026-01-01T00:00:00.000Z");
    for (const [attempts, base] of [
      [1, 60_000],
      [2, 120_000],
      [3, 240_000],
      [10, 3_600_000],
    ] as const) {
      const d = retryDueAt(failure(attempts, false), backoff) - t0;
      expect(d).toBeGreaterThanOrEqual(base * 0.8);
      expect(d).toBeLessThanOrEqual(base * 1.2);
    }
  });

  it("a failed item is not retried before its backoff, is retried after; a retryable failure never gives up", async () => {
    // The memory journal stamps failures from 2025-01-01T00:00:00Z on, a second per write.
    let now = Date.parse("2025-01-01T00:01:00.000Z");
    const h = makeHarness("docs", { now: () => new Date(now) });
    h.source.set("a.txt", "OUTAGE for now");
    const r1 = await h.run({ retryBackoff: backoff });
    expect(r1.failed).toBe(1);
    expect(h.failures()[0]).toMatchObject({ retryable: true, attempts: 1 });
    const r2 = await h.run({ retryBackoff: backoff });
    expect(r2).toMatchObject({ failed: 0, retry_later: 1, given_up: 0 });
    expect(h.processor.calls).toBe(0);
    now += 10 * 60_000;
    const r3 = await h.run({ retryBackoff: backoff });
    expect(r3).toMatchObject({ failed: 1, retry_later: 0 });
    expect(h.failures()[0]?.attempts).toBe(2);
    // Past maxRetryAttempts a retryable failure is still retried.
    for (let i = 0; i < 3; i++) await h.run({ maxRetryAttempts: 2 });
    expect(h.failures()[0]?.attempts).toBe(5);
    const r4 = await h.run({ maxRetryAttempts: 2 });
    expect(r4).toMatchObject({ failed: 1, given_up: 0 });
  });
});

describe("a recomputable embedder (vectors cheaper to compute again than to read back)", () => {
  for (const recomputable of [false, true]) {
    it(`${recomputable ? "asks the store only which texts it holds" : "reads stored vectors back"}; the figures are the same`, async () => {
      const h = confirming(makeHarness());
      Object.assign(h.embedder, { recomputable });
      for (let i = 0; i < 3; i++) h.source.set(key(i), chunkedText(`doc${i}`, 4));
      await h.run();
      h.source.set(key(0), editChunk(chunkedText("doc0", 4), 1, "changed"));
      h.source.set("copy.txt", chunkedText("doc2", 4));
      const r = await h.run();
      // One new text (the edited chunk); the rest of doc0 and the copy's four are found in the store.
      expect(r).toMatchObject({ updated: 1, added: 1, embedded_chunks: 1, reused_chunks: 7 });
      const sent = h.embedder.texts.length;
      expect(sent).toBe(recomputable ? 8 : 1);
      h.expectConverged();
    });
  }
});
