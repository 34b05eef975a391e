import { describeError } from "../errors/sync-error.js";
import type { Candidate } from "./detect-changes.js";
import type { ItemState } from "./journal.js";
import { type Logger, silentLogger } from "./logger.js";
import type { SyncDeps, SyncResult } from "./run-sync.js";
import { MoveTracker, WritePath, type WriteSettings } from "./write-path.js";

/** Options of {@link applyChanges}. */
export interface ApplyChangesOptions extends WriteSettings {
  /** Keys of the items that changed (repeats are ignored). */
  keys: readonly string[];
  /** Share of the source's documents above which this run's deletions are held. */
  massDeleteThreshold: number;
  /** Apply deletions whatever their share (an explicit delete by the user). */
  allowMassDelete?: boolean;
}

/**
 * A partial run: brings only the items `keys` in step, without listing the source, with the same write path
 * (batching, `pending` marks, crash safety) as a full run. Each key is read and hashed: unchanged content is
 * only re-fingerprinted, changed content is processed. A key the source confirms gone (`confirmGone`; a
 * source without it deletes nothing here) is deleted when the journal knows it; a key that cannot be read for
 * another reason fails like any item. Within one partial run, a deletion and an addition with the same
 * content hash are a move: nothing is re-embedded and the old key's rows go. Recorded as a run of kind
 * `changes`, which never stands in for a full run (the racy-clean rule keeps using the last full run).
 */
export async function applyChanges(deps: SyncDeps, options: ApplyChangesOptions): Promise<SyncResult> {
  const { journal } = deps;
  const log: Logger = deps.logger ?? silentLogger;
  const { userId, source, signal } = options;
  const name = source.name;
  const t0 = performance.now();
  const keys = [...new Set(options.keys)];
  const runId = journal.startRun(userId, name, "changes");
  const moves = new MoveTracker();
  const writer = new WritePath(deps, options, (w) => moves.classify(w));
  const { stats } = writer;
  stats.listed = keys.length;
  try {
    // Only the given keys are read; the source's size comes from a count (the mass-delete guard's base).
    const known = new Map<string, ItemState>();
    for (const key of keys) {
      const item = journal.getItem(userId, name, key);
      if (item) known.set(key, item);
    }
    const sourceSize = journal.counts(userId, name).items;
    const confirm = async (asked: readonly string[]): Promise<Set<string>> => {
      if (asked.length === 0 || !source.confirmGone) return new Set();
      try {
        return await source.confirmGone(asked, signal);
      } catch (err) {
        if (signal?.aborted) throw err;
        writer.warn(`source "${name}" could not confirm that items are gone (${describeError(err)}); kept`);
        return new Set();
      }
    };
    const goneKeys = await confirm(keys);
    const candidates: Candidate[] = keys
      .filter((k) => !goneKeys.has(k))
      .map((key) => ({ ref: { key, fingerprint: "" }, prev: known.get(key) }));
    moves.expect(keys.flatMap((k) => (goneKeys.has(k) ? [known.get(k)].filter(isItem) : [])));

    const vanished = await writer.process(candidates);
    await writer.finish();
    for (const k of await confirm(vanished.map((r) => r.key))) goneKeys.add(k);

    const purged = writer.purgedKeys();
    const goneItems = [...goneKeys].map((k) => known.get(k)).filter(isItem);
    let deletes = goneItems.filter((g) => !moves.isMoved(g.key) && !purged.has(g.key));
    if (deletes.length > 0 && !options.allowMassDelete) {
      const share = deletes.length / Math.max(1, sourceSize);
      if (deletes.length > 1 && share > options.massDeleteThreshold) {
        stats.held_deletions = deletes.length;
        writer.warn(
          `held ${deletes.length} deletions of ${sourceSize} documents in source "${name}" ` +
            `(${Math.round(share * 100)}% > ${Math.round(options.massDeleteThreshold * 100)}%); ` +
            "the next full sync with --allow-mass-delete applies them",
          { held: deletes.length },
        );
        deletes = [];
      }
    }
    await writer.remove([...moves.movedFrom, ...deletes]);
    stats.deleted = deletes.length;
    const deleted = new Set(deletes.map((d) => d.key));
    const forgotten = [...goneKeys].filter((k) => !known.has(k) || deleted.has(k));
    if (forgotten.length > 0) journal.clearFailures(userId, name, forgotten);
    await writer.maintain();

    journal.finishRun(runId, writer.failures.length > 0 ? "partial" : "succeeded", stats, null);
    const durationMs = Math.round(performance.now() - t0);
    log.info(
      { user: userId, source: name, run: runId, ...stats, duration_ms: durationMs },
      "changes applied",
    );
    return {
      ...stats,
      run_id: runId,
      duration_ms: durationMs,
      given_up: 0,
      retry_later: 0,
      failures: writer.failures,
      warnings: writer.warnings,
    };
  } catch (err) {
    await writer.abandon();
    journal.finishRun(runId, signal?.aborted ? "interrupted" : "failed", stats, describeError(err));
    throw err;
  }
}

function isItem(item: ItemState | undefined): item is ItemState {
  return item !== undefined;
}
