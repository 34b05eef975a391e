import type { DocumentRow, DocumentStore } from "./document-store.js";
import type { ItemState, Journal } from "./journal.js";

/**
 * Checks the journal's `synced` items of one source against the store: an item whose document row is
 * missing or duplicated, whose content hash differs, or whose chunks are not all there is demoted (re-read
 * and re-written by this run). Document rows the journal does not know are adopted as items. Returns the
 * demoted keys and how many rows were adopted.
 */
export async function verifyAgainstStore(
  journal: Journal,
  store: DocumentStore,
  userId: string,
  name: string,
  known: ReadonlyMap<string, ItemState>,
): Promise<{ demoted: string[]; adopted: number }> {
  const docs = await store.listDocuments(userId, name);
  const counts = await store.chunkCounts(userId, name);
  const byId = new Map<string, DocumentRow[]>();
  for (const d of docs) byId.set(d.doc_id, [...(byId.get(d.doc_id) ?? []), d]);
  const demote: string[] = [];
  for (const item of known.values()) {
    if (item.status !== "synced") continue;
    const rows = byId.get(item.docId) ?? [];
    const row = rows[0];
    if (
      rows.length !== 1 ||
      !row ||
      row.content_hash !== item.contentHash ||
      (counts.get(item.docId) ?? 0) !== row.chunk_count
    ) {
      demote.push(item.key);
    }
  }
  if (demote.length > 0) journal.demoteItems(userId, name, demote);
  // Rows the journal does not know (an older copy of the store brought back documents deleted since) are
  // adopted like a lost journal's: the listing then deletes them if their item is gone, or hashes it.
  const knownIds = new Set([...known.values()].map((i) => i.docId));
  const adopt = new Map<string, ItemState>();
  for (const d of docs) {
    if (knownIds.has(d.doc_id) || adopt.has(d.doc_id)) continue;
    adopt.set(d.doc_id, {
      key: d.item_key,
      docId: d.doc_id,
      fingerprint: "",
      contentHash: d.content_hash,
      status: "synced",
    });
  }
  if (adopt.size > 0) journal.commitItems(userId, name, [...adopt.values()], []);
  return { demoted: demote, adopted: adopt.size };
}
/** Journal lost but documents present: re-learn items from the store so a rescan hashes and embeds nothing. */
export async function rebuildJournal(
  journal: Journal,
  store: DocumentStore,
  userId: string,
  name: string,
): Promise<Map<string, ItemState>> {
  const rows = await store.listDocuments(userId, name);
  if (rows.length === 0) return new Map();
  journal.commitItems(
    userId,
    name,
    rows.map((r) => ({
      key: r.item_key,
      docId: r.doc_id,
      fingerprint: "",
      contentHash: r.content_hash,
      status: "synced" as const,
    })),
    [],
  );
  return journal.listItems(userId, name);
}
