import type { Journal } from "../../core/journal.js";
import type { FetchedItem, Source, SourceItemRef, SourceListing } from "../../core/source.js";
import { describeError, SyncError } from "../../errors/sync-error.js";

/** Options of {@link MigratedSource}. */
export interface MigratedSourceOptions {
  name: string;
  userId: string;
  /** Where the items live (read only: `migrate` writes them). */
  journal: Pick<Journal, "listItems">;
}

/**
 * Documents brought in by `migrate` from another LanceDB table, as a {@link Source} with no live origin.
 *
 * - `list` returns exactly the items the journal holds, with their recorded fingerprints: a sync finds every
 *   one unchanged and never deletes one (nothing can be absent from the listing). A journal that cannot be
 *   read throws `SYNC_E_SOURCE_UNAVAILABLE` (nothing is deleted).
 * - `fetch` always fails with `SYNC_E_READ_FAILED`: there are no bytes to read again. It is only reached for
 *   an item a killed `migrate` left `pending`; running the same `migrate` again finishes it.
 * - `confirmGone` confirms every key it is asked about: only an explicit delete (API, CLI) asks, and a
 *   migrated document has no origin that could bring it back.
 *
 * Not in the contract: writing documents (`migrate` does, through the app).
 */
export class MigratedSource implements Source {
  readonly type = "migrated";
  readonly name: string;
  private readonly userId: string;
  private readonly journal: Pick<Journal, "listItems">;

  constructor(options: MigratedSourceOptions) {
    this.name = options.name;
    this.userId = options.userId;
    this.journal = options.journal;
  }

  async list(signal?: AbortSignal): Promise<SourceListing> {
    signal?.throwIfAborted();
    let items: SourceItemRef[];
    try {
      items = [...this.journal.listItems(this.userId, this.name).values()].map((i) => ({
        key: i.key,
        fingerprint: i.fingerprint,
      }));
    } catch (err) {
      throw new SyncError(
        "SYNC_E_SOURCE_UNAVAILABLE",
        `migrated: ${this.name}: items could not be listed: ${describeError(err)}`,
        { cause: err },
      );
    }
    return { items, warnings: [], incompletePrefixes: [], emptyRoots: [] };
  }

  async fetch(ref: SourceItemRef): Promise<FetchedItem> {
    throw new SyncError(
      "SYNC_E_READ_FAILED",
      `migrated: ${this.name}: ${ref.key} has no origin to read again; run the same \`lancedb-sync migrate\` ` +
        "again to finish it",
    );
  }

  async confirmGone(keys: readonly string[], signal?: AbortSignal): Promise<Set<string>> {
    signal?.throwIfAborted();
    return new Set(keys);
  }
}
