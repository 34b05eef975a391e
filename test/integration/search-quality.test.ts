import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ModeQuality, measureQuality } from "../../bench/search-quality.js";
import { silentLogger } from "../../src/core/logger.js";
import { createSyncSystem, type SyncSystem } from "../../src/index.js";
import type { SearchMode } from "../../src/search/search-chunks.js";
import { SAMPLE_QUESTIONS } from "../fixtures/search-questions.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const SAMPLES = fileURLToPath(new URL("../../samples/", import.meta.url));

/**
 * The search quality floor on the labelled questions about samples/, with the default (hashing) embedder:
 * the default mode's hit@1 is at least the best single mode's minus one, and hybrid is never worse than its
 * better half. `npm run bench:quality` prints the same figures.
 */
describe("search quality on the labelled sample questions", () => {
  const tmp = makeTempDir("lancedb-sync-quality-");
  let system: SyncSystem;
  const quality = new Map<string, ModeQuality>();

  beforeAll(async () => {
    system = createSyncSystem({
      lancedbUri: join(tmp.path, "lancedb"),
      stateDbPath: join(tmp.path, "state.db"),
      uploadDir: join(tmp.path, "uploads"),
      logger: silentLogger,
    });
    await system.start();
    await system.sources.add({
      userId: "q",
      sourceId: "samples",
      type: "local_filesystem",
      config: { watch_paths: [SAMPLES] },
    });
    const synced = await system.syncSource({ userId: "q", sourceId: "samples" });
    expect(synced.failures).toEqual([]);
    for (const mode of ["vector", "fts", "hybrid", undefined] as (SearchMode | undefined)[]) {
      const name = mode ?? "default";
      quality.set(
        name,
        await measureQuality(name, SAMPLE_QUESTIONS, (query) =>
          system.search({ userId: "q", query, limit: 10, ...(mode ? { mode } : {}) }),
        ),
      );
    }
  });
  afterAll(async () => {
    await system?.stop();
    tmp.cleanup();
  });

  const get = (mode: string) => quality.get(mode) as ModeQuality;

  it("has at least 12 questions, each naming a sample that exists", () => {
    expect(SAMPLE_QUESTIONS.length).toBeGreaterThanOrEqual(12);
    expect(get("fts").questions).toBe(SAMPLE_QUESTIONS.length);
  });

  it("default mode hit@1 >= the best single mode's - 1", () => {
    const best = Math.max(get("vector").hitAt1, get("fts").hitAt1);
    expect(get("default").hitAt1, JSON.stringify([...quality.values()])).toBeGreaterThanOrEqual(best - 1);
  });

  it("hybrid is never worse than its better half, in hit@1 and MRR", () => {
    const halves = [get("vector"), get("fts")];
    expect(get("hybrid").hitAt1).toBeGreaterThanOrEqual(Math.max(...halves.map((h) => h.hitAt1)));
    expect(get("hybrid").mrr).toBeGreaterThanOrEqual(Math.max(...halves.map((h) => h.mrr)));
  });

  it("the first answer's scores tell hits apart (no ties)", async () => {
    const hits = await system.search({ userId: "q", query: "how do I claim travel expenses", limit: 3 });
    expect(new Set(hits.map((h) => h.score)).size).toBe(3);
    expect(hits[0]?.item_key.endsWith("expense-policy.pdf")).toBe(true);
  });
});
