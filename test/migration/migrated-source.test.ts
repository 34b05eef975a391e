import { describe, expect, it } from "vitest";
import { isSyncError } from "../../src/errors/sync-error.js";
import { MigratedSource } from "../../src/sources/migrated/migrated-source.js";
import { migratedType } from "../../src/sources/migrated/migrated-type.js";
import { MemoryJournal } from "../fakes/memory-journal.js";
import { rejection, thrown } from "../helpers/caught.js";

describe("MigratedSource", () => {
  it("lists exactly the journal's items with their fingerprints, cannot fetch, confirms what it is asked", async () => {
    const journal = new MemoryJournal();
    journal.upsertSource({ userId: "auth0|x", name: "m", type: "migrated", config: {} });
    journal.commitItems(
      "auth0|x",
      "m",
      [
        { key: "a.md", docId: "d1", fingerprint: "h1", contentHash: "h1", status: "synced" },
        { key: "b.md", docId: "d2", fingerprint: "h2", contentHash: "h2", status: "synced" },
      ],
      [],
    );
    const source = new MigratedSource({ name: "m", userId: "auth0|x", journal });
    const listing = await source.list();
    expect(listing.items.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: "a.md", fingerprint: "h1" },
      { key: "b.md", fingerprint: "h2" },
    ]);
    expect(listing).toMatchObject({ warnings: [], incompletePrefixes: [], emptyRoots: [] });
    const err = await rejection(source.fetch({ key: "a.md", fingerprint: "h1" }));
    expect(isSyncError(err, "SYNC_E_READ_FAILED")).toBe(true);
    expect((err as Error).message).toContain("migrate");
    expect(await source.confirmGone(["a.md", "zzz"])).toEqual(new Set(["a.md", "zzz"]));
    const other = new MigratedSource({ name: "m", userId: "someone-else", journal });
    expect((await other.list()).items).toEqual([]);
  });

  it("a journal that cannot be read makes the listing fail (nothing is deleted)", async () => {
    const source = new MigratedSource({
      name: "m",
      userId: "u",
      journal: {
        listItems: () => {
          throw new Error("disk I/O error");
        },
      },
    });
    expect(isSyncError(await rejection(source.list()), "SYNC_E_SOURCE_UNAVAILABLE")).toBe(true);
  });

  it("cannot be added by hand, and is not scheduled", () => {
    expect(migratedType.scheduled).toBe(false);
    const err = thrown(() => migratedType.normalizeConfig({}, { userId: "u", sourceId: "m", others: [] }));
    expect(isSyncError(err, "SYNC_E_INVALID_ARGUMENT")).toBe(true);
  });
});
