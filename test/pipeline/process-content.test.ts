import { constants } from "node:buffer";
import { describe, expect, it } from "vitest";
import { isSyncError } from "../../src/errors/sync-error.js";
import { createContentProcessor } from "../../src/pipeline/process-content.js";

describe("createContentProcessor", () => {
  const process = createContentProcessor({ maxFileBytes: 2 ** 31, chunkSize: 1000, chunkOverlap: 100 });

  it("a text longer than the longest JavaScript string fails at once with SYNC_E_FILE_TOO_LARGE naming the file", async () => {
    const bytes = Buffer.alloc(constants.MAX_STRING_LENGTH + 1, 0x61);
    const t0 = performance.now();
    const err = await process({ bytes, fileName: "huge.txt" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSyncError(err, "SYNC_E_FILE_TOO_LARGE"), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/^huge\.txt: .*more text than JavaScript can hold/);
    // Not minutes of decoding first (the old path failed after about two minutes, as SYNC_E_INTERNAL).
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it("an ordinary text is still processed (the check is not a size cap of its own)", async () => {
    const r = await process({ bytes: Buffer.from("short text."), fileName: "a.txt" });
    expect(r.chunks.map((c) => c.text)).toEqual(["short text."]);
  });
});
