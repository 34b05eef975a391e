import { describeError, SyncError } from "../errors/sync-error.js";
import { type DetectOptions, detectChanges, underPrefix } from "./detect-changes.js";
import type { FailureState, ItemState, Journal, RunStats } from "./journal.js";
import { type Logger, silentLogger } from "./logger.js";
import type { ItemFailure } from "./prepare-item.js";
import { rebuildJournal, verifyAgainstStore } from "./reconcile-journal.js";
import type { Source, SourceItemRef, SourceListing } from "./source.js";
import { MoveTracker, type WriteDeps, WritePath, type WriteSettings } from "./write-path.js";

export type { ItemFailure } from "./prepare-item.js";
export type { Exclusive, SyncStep } from "./write-path.js";

/** Collaborators of {@link runSync} (see {@link WriteDeps}). */
export type SyncDeps = WriteDeps;

/** Options of one full run over one source. */
export interface SyncOptions extends WriteSettings {
  /** Share of a source's documents above which deletions are held. */
  massDeleteThreshold: number;
  allowMassDelete?: boolean;
  /**
   * Treat a root that lists no item as really empty (its documents become deletions, still subject to the
   * mass-delete guard). Default false: such a root — an unmounted mount point looks like this — makes the
   * source unavailable when documents were synced from it, whatever `allowMassDelete` says.
   */
  allowEmptyRoots?: boolean;
  /** A failed item whose fingerprint did not move is retried until it has failed this many times. */
  maxRetryAttempts: number;
  /** Retry failed items only after an exponential, jittered delay (default: on every run). */
  retryBackoff?: DetectOptions["retryBackoff"];
  /**
   * The store's current epoch. A source last verified at an older epoch (the store was found missing,
   * replaced or behind since) has its items checked against the store first; those whose rows are missing
   * or differ are re-processed (cached vectors reused where they exist).
   */
  storeEpoch?: number;
  /**
   * Items modified less than this many ms before the previous run's start are re-read even when their
   * fingerprint did not move (default: 2000 for whole-second timestamps, 100 otherwise).
   */
  racyWindowMs?: number;
}

/** Outcome of {@link runSync} and `applyChanges`: the run's figures, and what the CLI reports besides. */
export interface SyncResult extends RunStats {
  run_id: number;
  duration_ms: number;
  /** Failed items that reached the attempt limit and were not retried this run. */
  given_up: number;
  /** Failed items whose next retry (exponential backoff) is not due yet. */
  retry_later: number;
  failures: ItemFailure[];
  warnings: string[];
}

/** At most this many listing warnings are reported one by one; the rest are counted. */
const MAX_LISTED_WARNINGS = 20;

/**
 * Brings the store in step with one source for one user, incrementally — the reconciliation:
 * list → compare fingerprints with the journal → read and hash only moved fingerprints → extract, chunk and
 * embed only changed content (vectors reused by chunk text hash) → apply in batches ({@link WritePath}) →
 * delete what a successful listing no longer has and the source confirms gone, unless that is more than
 * `massDeleteThreshold` of the source.
 * A crash at any point is recovered by the next run: items are marked `pending` before writes and written
 * under stable ids, so a replay neither duplicates nor loses a document. Throws `SYNC_E_SOURCE_UNAVAILABLE`
 * (nothing deleted) when the listing fails or a root that held documents lists empty.
 */
export async function runSync(deps: SyncDeps, options: SyncOptions): Promise<SyncResult> {
  const { journal } = deps;
  const log = deps.logger ?? silentLogger;
  const { userId, source, signal } = options;
  const name = source.name;
  const t0 = performance.now();
  const prevRunStart = journal.lastRunStart(userId, name);
  const runId = journal.startRun(userId, name);
  const repairing = new Set<string>();
  const moves = new MoveTracker();
  const writer = new WritePath(deps, options, (w) =>
    repairing.has(w.ref.key) ? "repaired" : moves.classify(w),
  );
  const { stats } = writer;

  try {
    let listResult: SourceListing;
    try {
      listResult = await source.list(signal);
    } catch (err) {
      throw unavailable(
        journal,
        userId,
        source,
        `listing failed, nothing deleted: ${describeError(err)}`,
        err,
      );
    }
    const listing = uniqueKeys(listResult.items, writer);
    addListingWarnings(listResult.warnings, writer, log, name);
    stats.listed = listing.length;

    let known = journal.listItems(userId, name);
    if (known.size === 0 && listing.length > 0)
      known = await rebuildJournal(journal, await writer.openStore(), userId, name);
    for (const root of options.allowEmptyRoots ? [] : listResult.emptyRoots) {
      const held = [...known.keys()].filter((k) => underPrefix(k, [root])).length;
      if (held > 0) {
        throw unavailable(
          journal,
          userId,
          source,
          `root ${root} lists no item but ${held} documents were synced from it (not mounted?); nothing ` +
            "deleted (if it really is empty now, rerun with --allow-empty-root --allow-mass-delete)",
        );
      }
    }
    journal.setSourceHealth(userId, name, true, null);
    options.onStep?.("listed", 0);

    if (options.storeEpoch !== undefined && known.size > 0) {
      const verifiedAt = journal.getSource(userId, name)?.storeEpoch ?? -1;
      if (verifiedAt < options.storeEpoch) {
        const found = await verifyAgainstStore(journal, await writer.openStore(), userId, name, known);
        for (const key of found.demoted) repairing.add(key);
        if (found.adopted > 0) {
          writer.warn(
            `the store holds ${found.adopted} documents of source "${name}" the journal did not know (an older copy of the store?): they are checked against the listing`,
            { adopted: found.adopted },
          );
        }
        if (repairing.size > 0 || found.adopted > 0) known = journal.listItems(userId, name);
        if (repairing.size > 0) {
          writer.warn(
            `the store lacks or differs from the rows of ${repairing.size} documents the journal recorded as ` +
              `synced in source "${name}" (store missing, replaced or behind): they are re-processed`,
            { repairing: repairing.size },
          );
        }
      }
    }
    if (options.storeEpoch !== undefined) journal.markSourceVerified(userId, name, options.storeEpoch);

    const failed = new Map<string, FailureState>();
    for (const f of journal.listFailures(userId, name)) failed.set(f.key, f);
    const changes = detectChanges(listing, known, failed, {
      maxRetryAttempts: options.maxRetryAttempts,
      prevRunStartMs: prevRunStart === undefined ? undefined : Date.parse(prevRunStart),
      racyWindowMs: options.racyWindowMs,
      incompletePrefixes: listResult.incompletePrefixes,
      retryBackoff: options.retryBackoff,
      nowMs: (deps.now?.() ?? new Date()).getTime(),
    });
    stats.unchanged += changes.unchanged;
    // Only what the source confirms gone may be deleted, or be the old half of a move.
    const gone = await confirmedGone(source, changes.gone, writer, signal);
    moves.expect(gone);

    await writer.process(changes.candidates);
    await writer.finish();

    // Deletions last: moves need the old rows until their new copies are written.
    const purged = writer.purgedKeys();
    let deletes = gone.filter((g) => !moves.isMoved(g.key) && !purged.has(g.key));
    if (deletes.length > 0 && !options.allowMassDelete) {
      const share = deletes.length / known.size;
      if (listing.length === 0 || share > options.massDeleteThreshold) {
        stats.held_deletions = deletes.length;
        writer.warn(
          `held ${deletes.length} deletions of ${known.size} documents in source "${name}" ` +
            `(${Math.round(share * 100)}% > ${Math.round(options.massDeleteThreshold * 100)}%` +
            `${listing.length === 0 ? ", listing was empty" : ""}); rerun with --allow-mass-delete to apply them`,
          { held: deletes.length },
        );
        deletes = [];
      }
    }
    await writer.remove([...moves.movedFrom, ...deletes]);
    stats.deleted = deletes.length;
    await writer.maintain();
    // Failures of items the listing could not see (under an incomplete prefix) are kept, like their items.
    const staleFailures = [...failed.keys()].filter(
      (k) => !changes.listed.has(k) && !underPrefix(k, listResult.incompletePrefixes),
    );
    if (staleFailures.length > 0) journal.clearFailures(userId, name, staleFailures);

    journal.finishRun(runId, writer.failures.length > 0 ? "partial" : "succeeded", stats, null);
    const durationMs = Math.round(performance.now() - t0);
    log.info({ user: userId, source: name, run: runId, ...stats, duration_ms: durationMs }, "sync finished");
    return {
      ...stats,
      run_id: runId,
      duration_ms: durationMs,
      given_up: changes.givenUp,
      retry_later: changes.deferred,
      failures: writer.failures,
      warnings: writer.warnings,
    };
  } catch (err) {
    await writer.abandon();
    journal.finishRun(runId, signal?.aborted ? "interrupted" : "failed", stats, describeError(err));
    throw err;
  }
}

/**
 * Of `items` absent from a listing, those the source confirms gone (all of them when it cannot confirm). The
 * rest are kept, with a warning: an item the source cannot vouch for is never deleted.
 */
export async function confirmedGone(
  source: Source,
  items: readonly ItemState[],
  writer: Pick<WritePath, "warn">,
  signal: AbortSignal | undefined,
): Promise<ItemState[]> {
  if (items.length === 0 || !source.confirmGone) return [...items];
  let confirmed: ReadonlySet<string>;
  try {
    confirmed = await source.confirmGone(
      items.map((i) => i.key),
      signal,
    );
  } catch (err) {
    if (signal?.aborted) throw err;
    writer.warn(
      `source "${source.name}" could not confirm that ${items.length} items are gone (${describeError(err)}); they are kept`,
    );
    return [];
  }
  const kept = items.filter((i) => !confirmed.has(i.key));
  if (kept.length > 0) {
    writer.warn(
      `${kept.length} items of source "${source.name}" were not listed but the source did not confirm them gone ` +
        `(e.g. ${kept[0]?.key}); they are kept`,
      { kept: kept.length },
    );
  }
  return items.filter((i) => confirmed.has(i.key));
}

function unavailable(
  journal: Journal,
  userId: string,
  source: Source,
  why: string,
  cause?: unknown,
): SyncError {
  const msg = `${source.type} source "${source.name}": ${why}`;
  journal.setSourceHealth(userId, source.name, false, msg);
  return new SyncError("SYNC_E_SOURCE_UNAVAILABLE", msg, cause === undefined ? undefined : { cause });
}

/** Drops repeated keys of a listing (API-backed sources can page one item twice), with a warning. */
function uniqueKeys(items: readonly SourceItemRef[], writer: WritePath): SourceItemRef[] {
  const seen = new Set<string>();
  const out: SourceItemRef[] = [];
  let repeats = 0;
  for (const ref of items) {
    if (seen.has(ref.key)) repeats++;
    else {
      seen.add(ref.key);
      out.push(ref);
    }
  }
  if (repeats > 0) {
    writer.warn(
      `source "${writer.sourceName}" listed ${repeats} keys more than once; the repeats were dropped`,
      {
        repeats,
      },
    );
  }
  return out;
}

function addListingWarnings(found: readonly string[], writer: WritePath, log: Logger, name: string): void {
  for (const w of found.slice(0, MAX_LISTED_WARNINGS)) writer.warn(w);
  if (found.length > MAX_LISTED_WARNINGS) {
    writer.warn(
      `source "${name}": ${found.length - MAX_LISTED_WARNINGS} more listing warnings (see the log)`,
    );
    for (const w of found.slice(MAX_LISTED_WARNINGS)) log.debug({ source: name }, w);
  }
}
