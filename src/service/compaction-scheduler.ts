import type { SyncSystem } from "../app/sync-system.js";
import type { TableHealth } from "../core/document-store.js";
import type { Logger } from "../core/logger.js";
import { describeError } from "../errors/sync-error.js";

/** Options of {@link CompactionScheduler}. */
export interface CompactionSchedulerOptions {
  system: SyncSystem;
  logger: Logger;
  /** Least time between two checks (ms); default one minute. */
  minIntervalMs?: number;
}

/** Default least time between two compaction checks. */
export const COMPACT_CHECK_INTERVAL_MS = 60_000;

/**
 * Compacts the store when it needs it, never while a run is in progress or queued. After a run that wrote
 * (see {@link runFinished}), once no run is left and at most once per `minIntervalMs`, it reads the tables'
 * health from `system.status()` and calls `system.compact()` (which takes the store's writer lock) when a
 * table has `compactAfterVersions` versions more than the last compaction left it with (old versions are
 * kept for `VERSION_RETENTION_HOURS`, so the plain count could stay above the threshold for a day) or
 * `compactAfterFragments` small fragments, or the chunks table needs its vector index built
 * (`needsVectorIndex`). A check that finds runs going waits for the next run to finish.
 * Outcomes are logged; a failed compaction is retried after the next write.
 */
export class CompactionScheduler {
  private readonly minIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private lastCheckAt = 0;
  private dirty = false;
  private checking: Promise<void> | undefined;
  private stopped = false;
  /** Versions per table left by the last compaction (what retention keeps). */
  private readonly baseline = new Map<string, number>();

  constructor(private readonly options: CompactionSchedulerOptions) {
    this.minIntervalMs = options.minIntervalMs ?? COMPACT_CHECK_INTERVAL_MS;
  }

  /** A run finished; `wrote`: it may have committed to the store (a failed run may have, too). */
  runFinished(wrote: boolean): void {
    if (wrote) this.dirty = true;
    if (!this.dirty || this.stopped || this.timer !== undefined) return;
    const wait = Math.max(0, this.lastCheckAt + this.minIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.checking) {
        void this.checking.then(() => this.runFinished(false));
        return;
      }
      this.checking = this.check().finally(() => {
        this.checking = undefined;
      });
    }, wait);
    this.timer.unref();
  }

  /**
   * Stops scheduling checks. A compaction in progress is not waited for: `SyncSystem.stop` waits for it (up
   * to its deadline).
   */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private busy(): boolean {
    const { running, queued } = this.options.system.activity();
    return running.length + queued.length > 0;
  }

  private async check(): Promise<void> {
    const { system, logger } = this.options;
    if (this.stopped || !this.dirty) return;
    if (this.busy()) {
      logger.debug({}, "compaction check deferred: runs in progress");
      return;
    }
    this.lastCheckAt = Date.now();
    try {
      const { tables } = await system.status();
      const due = this.due(tables);
      this.dirty = false;
      if (due.length === 0) return;
      // The status read took a while: runs may have begun meanwhile.
      if (this.stopped || this.busy()) {
        this.dirty = true;
        logger.debug({}, "compaction check deferred: runs in progress");
        return;
      }
      logger.info({ tables: due }, "compacting the store");
      const t0 = Date.now();
      const result = await system.compact();
      for (const t of result.after) this.baseline.set(t.name, t.versions);
      logger.info(
        {
          duration_ms: Date.now() - t0,
          before: result.before.map(brief),
          after: result.after.map(brief),
        },
        "store compacted",
      );
    } catch (err) {
      this.dirty = true;
      logger.warn({ err: describeError(err) }, "scheduled compaction failed; retried after the next write");
    }
  }

  /** Tables over a threshold, with why. */
  private due(
    tables: readonly TableHealth[],
  ): Array<{ name: string; versions: number; small_fragments: number }> {
    const { compactAfterVersions, compactAfterFragments } = this.options.system.config;
    return tables
      .filter(
        (t) =>
          t.versions - (this.baseline.get(t.name) ?? 0) >= compactAfterVersions ||
          t.smallFragments >= compactAfterFragments ||
          t.needsVectorIndex === true,
      )
      .map((t) => ({ name: t.name, versions: t.versions, small_fragments: t.smallFragments }));
  }
}

function brief(t: TableHealth): {
  name: string;
  versions: number;
  fragments: number;
  small_fragments: number;
  needs_vector_index?: true;
} {
  return {
    name: t.name,
    versions: t.versions,
    fragments: t.fragments,
    small_fragments: t.smallFragments,
    ...(t.needsVectorIndex ? { needs_vector_index: true as const } : {}),
  };
}
