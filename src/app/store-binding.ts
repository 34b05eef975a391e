import type { Config } from "../config/load-config.js";
import type { DocumentStore } from "../core/document-store.js";
import type { Journal } from "../core/journal.js";
import { probeStore, type StoreProbe } from "../storage/probe-store.js";

/** Journal setting holding the {@link StoreBinding}. */
export const STORE_BINDING_KEY = "store_binding";

/** The store the journal's items were written to, as last seen after a run. */
export interface StoreBinding {
  /** URI and table names. */
  location: string;
  storeId: string;
  docsVersion: number;
  chunksVersion: number;
  /** Table directory inodes (local stores only), for the cheap check. */
  docsIno?: number;
  chunksIno?: number;
}

/** How the store compares with what the journal recorded. */
export type StoreState =
  | { state: "ok" }
  /** No record yet and nothing synced: a first run. */
  | { state: "new" }
  | { state: "missing" | "replaced" | "behind" | "unrecorded"; detail: string };

/** A store that is not the one the journal recorded. */
export type StoreDrift = Extract<StoreState, { detail: string }>;

/** Where the store is, as recorded in a binding. */
export function storeLocation(config: Config): string {
  return `${config.lancedbUri}|${config.documentsTable}|${config.chunksTable}`;
}

/** The recorded binding, if any. */
export function readBinding(journal: Journal): StoreBinding | undefined {
  const raw = journal.getMeta(STORE_BINDING_KEY);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as StoreBinding;
  } catch {
    return undefined;
  }
}

/**
 * The cheap check (no LanceDB): true when the store directory is the recorded one and no table is behind.
 * Object stores, and anything unusual, answer false (the caller then opens the store to compare).
 */
export function bindingHolds(
  config: Config,
  binding: StoreBinding | undefined,
  probe: StoreProbe | undefined = probeStore(config.lancedbUri, config.documentsTable, config.chunksTable),
): boolean {
  if (!binding || binding.location !== storeLocation(config)) return false;
  return probe !== undefined && probe !== "missing" && probeMatches(probe, binding);
}

function probeMatches(probe: Exclude<StoreProbe, "missing">, b: StoreBinding): boolean {
  return (
    probe.docs.ino === b.docsIno &&
    probe.chunks.ino === b.chunksIno &&
    probe.docs.version >= b.docsVersion &&
    probe.chunks.version >= b.chunksVersion
  );
}

/**
 * Compares the open store with the recorded binding: `missing` (tables gone and re-created empty),
 * `replaced` (another store id), `behind` (a table's version is older than the journal saw: commits lost
 * or an older copy restored), `unrecorded` (items exist but no binding was ever recorded: an upgrade).
 */
export async function compareStore(
  config: Config,
  store: DocumentStore,
  binding: StoreBinding | undefined,
  hasItems: boolean,
  readOnly = false,
): Promise<StoreState> {
  const id = await store.identity(readOnly);
  if (!binding) {
    return hasItems
      ? {
          state: "unrecorded",
          detail:
            "the journal has synced items but no record yet of the store they are in (the first run after an " +
            "upgrade, or a journal restored on its own): each source checks its items against the tables once",
        }
      : { state: "new" };
  }
  if (binding.location !== storeLocation(config) || id.storeId !== binding.storeId) {
    const moved = binding.location !== storeLocation(config);
    const empty = (await store.isEmpty()) && hasItems;
    return {
      state: empty ? "missing" : "replaced",
      detail: moved
        ? `the store moved from ${binding.location.split("|").join(" / ")} to ${storeLocation(config).split("|").join(" / ")}`
        : empty
          ? `the tables at ${config.lancedbUri} are gone or empty (re-created), but the journal has synced items`
          : `the tables at ${config.lancedbUri} belong to another store (id ${id.storeId}, recorded ${binding.storeId})`,
    };
  }
  if (id.docsVersion < binding.docsVersion || id.chunksVersion < binding.chunksVersion) {
    return {
      state: "behind",
      detail:
        `the tables are at versions ${id.docsVersion}/${id.chunksVersion}, older than the ` +
        `${binding.docsVersion}/${binding.chunksVersion} the journal saw (commits lost, or an older copy restored)`,
    };
  }
  return { state: "ok" };
}

/**
 * Records the store as it is now (after a run that wrote, or after a check), keeping the highest versions
 * seen for the same store id: a run that finishes after a newer one never lowers the record.
 */
export async function recordBinding(config: Config, journal: Journal, store: DocumentStore): Promise<void> {
  const id = await store.identity();
  const probe = probeStore(config.lancedbUri, config.documentsTable, config.chunksTable);
  // Callers hold the writer lock: no other process records a binding between this read and the write.
  {
    const prev = readBinding(journal);
    const same = prev && prev.storeId === id.storeId && prev.location === storeLocation(config);
    const next: StoreBinding = {
      location: storeLocation(config),
      storeId: id.storeId,
      docsVersion: Math.max(id.docsVersion, same ? prev.docsVersion : 0),
      chunksVersion: Math.max(id.chunksVersion, same ? prev.chunksVersion : 0),
    };
    if (probe && probe !== "missing") {
      next.docsIno = probe.docs.ino;
      next.chunksIno = probe.chunks.ino;
    }
    journal.setMeta(STORE_BINDING_KEY, JSON.stringify(next));
  }
}
