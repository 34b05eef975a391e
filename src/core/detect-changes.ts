import type { FailureState, ItemState } from "./journal.js";
import type { SourceItemRef } from "./source.js";

/** An item that must be read (and, if its content changed, processed). */
export interface Candidate {
  ref: SourceItemRef;
  /** What the journal knows of it; undefined for a new item. */
  prev: ItemState | undefined;
}

/** The outcome of comparing a listing with the journal. */
export interface DetectedChanges {
  /** New items, moved fingerprints, `pending` items, and failed items still to retry. */
  candidates: Candidate[];
  /** Items whose fingerprint did not move: not read at all. */
  unchanged: number;
  /** Failed items at the attempt limit whose fingerprint did not move: skipped. */
  givenUp: number;
  /** Journal items absent from the listing (deletion candidates, or the old half of a move). */
  gone: ItemState[];
  /** `gone` items with a known content hash, by hash: a new item with that hash is a move. */
  goneByHash: Map<string, ItemState[]>;
  /** Keys of the listing. */
  listed: Set<string>;
}

/**
 * Compares a successful listing with the journal, reading nothing: an item is a candidate when it is new,
 * its fingerprint moved, its last apply may not have finished (`pending`), or it failed and may be retried
 * (under `maxRetryAttempts`, or changed since it failed).
 */
export function detectChanges(
  listing: readonly SourceItemRef[],
  known: ReadonlyMap<string, ItemState>,
  failed: ReadonlyMap<string, FailureState>,
  maxRetryAttempts: number,
): DetectedChanges {
  const out: DetectedChanges = {
    candidates: [],
    unchanged: 0,
    givenUp: 0,
    gone: [],
    goneByHash: new Map(),
    listed: new Set(),
  };
  for (const ref of listing) {
    out.listed.add(ref.key);
    const prev = known.get(ref.key);
    const failure = failed.get(ref.key);
    if (failure && failure.fingerprint === ref.fingerprint && failure.attempts >= maxRetryAttempts) {
      out.givenUp++;
    } else if (!prev || prev.status === "pending" || prev.fingerprint !== ref.fingerprint || failure) {
      out.candidates.push({ ref, prev });
    } else out.unchanged++;
  }
  for (const item of known.values()) {
    if (out.listed.has(item.key)) continue;
    out.gone.push(item);
    if (item.contentHash === "" || item.status !== "synced") continue;
    const same = out.goneByHash.get(item.contentHash) ?? [];
    same.push(item);
    out.goneByHash.set(item.contentHash, same);
  }
  return out;
}
