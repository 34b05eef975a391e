import { describe, expect, it } from "vitest";
import { isBackedUpPath } from "../../src/backup/lance-table-files.js";
import {
  assertSnapshotId,
  newSnapshotId,
  objectKey,
  parseManifest,
  referencedKeys,
  type SnapshotManifest,
} from "../../src/backup/snapshot-manifest.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import { thrown } from "../helpers/caught.js";

const sha = (c: string) => c.repeat(64);

function manifest(path = "data/a.lance"): SnapshotManifest {
  return {
    format: 1,
    snapshot_id: "20261130T090041123Z-a1b2c3",
    created_at: "2026-11-30T09:00:41.123Z",
    store_id: "s",
    tables: [
      {
        role: "documents",
        name: "processed_documents",
        version: 3,
        rows: 2,
        files: [{ path, size: 10, sha256: sha("a"), mtime_ms: 1 }],
      },
      {
        role: "chunks",
        name: "document_chunks",
        version: 4,
        rows: 5,
        files: [{ path: "data/b.lance", size: 10, sha256: sha("a"), mtime_ms: 1 }],
      },
    ],
    journal: { size: 4, sha256: sha("b") },
    total_files: 3,
    total_bytes: 24,
  };
}

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe("snapshot manifest", () => {
  it("ids sort by time and are checked; keys are content-addressed and shared", () => {
    const a = newSnapshotId(new Date("2026-11-30T09:00:00.001Z"));
    const b = newSnapshotId(new Date("2026-11-30T09:00:00.010Z"));
    expect(a < b).toBe(true);
    expect(assertSnapshotId(a)).toBe(a);
    expect(
      isSyncError(
        thrown(() => assertSnapshotId("../x")),
        "SYNC_E_INVALID_ARGUMENT",
      ),
    ).toBe(true);
    expect(objectKey(sha("c"))).toBe(`objects/cc/${sha("c")}`);
    // Two table files with the same bytes are one object; the journal is another.
    expect([...referencedKeys(manifest())].sort()).toEqual([objectKey(sha("a")), objectKey(sha("b"))].sort());
  });

  it("parses a good manifest and names what is wrong with a bad one (SYNC_E_BACKUP_CORRUPT)", () => {
    expect(parseManifest(bytes(manifest()), "m")).toEqual(manifest());
    const bad: Array<[unknown, RegExp]> = [
      ["not json", /not an object|not JSON/],
      [{ ...manifest(), format: 2 }, /format 2/],
      [{ ...manifest(), journal: { size: 1, sha256: "zz" } }, /journal/],
      [{ ...manifest(), tables: [] }, /two tables/],
      [manifest("../../etc/passwd"), /bad file entry/],
      [manifest("/abs/path"), /bad file entry/],
      [manifest("data//x"), /bad file entry/],
    ];
    for (const [m, why] of bad) {
      const err = thrown(() =>
        parseManifest(typeof m === "string" ? new TextEncoder().encode(m) : bytes(m), "s3://b/m.json"),
      );
      expect(isSyncError(err, "SYNC_E_BACKUP_CORRUPT"), String(err)).toBe(true);
      expect((err as Error).message).toMatch(why);
      expect((err as Error).message).toContain("s3://b/m.json");
    }
  });

  it("leaves out the mutable and local-only entries of a Lance dataset", () => {
    for (const p of [
      "data/x.lance",
      "_versions/18446744073709551614.manifest",
      "_transactions/1-a.txn",
      "_deletions/0-1-2.arrow",
      "_indices/u/part_0_tokens.lance",
    ]) {
      expect(isBackedUpPath(p), p).toBe(true);
    }
    for (const p of [
      "_versions/latest_version_hint.json",
      "_latest.manifest",
      "_refs/tags/keep.json",
      "_damaged/3.manifest",
    ]) {
      expect(isBackedUpPath(p), p).toBe(false);
    }
  });
});
