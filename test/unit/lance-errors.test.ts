import { describe, expect, it } from "vitest";
import { sanitizeNativeMessage } from "../../src/errors/sync-error.js";
import { storeError, withConflictRetry } from "../../src/storage/lance-errors.js";

const CONFLICT =
  "lance error: Retryable commit conflict for version 7: This Append transaction was preempted by concurrent " +
  "transaction Delete at version 7. Please retry., /usr/local/cargo/registry/src/index.crates.io-1949cf8c6b5b557f/lance-8.0.0/src/io/commit.rs:1123:17";

describe("LanceDB errors", () => {
  it("a retryable commit conflict is SYNC_E_STORE_CONFLICT, retryable, without cargo paths", () => {
    const e = storeError("add chunks", new Error(CONFLICT), "document_chunks");
    expect(e.code).toBe("SYNC_E_STORE_CONFLICT");
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('table "document_chunks"');
    expect(e.message).not.toMatch(/cargo|\.rs:\d/);
  });

  it("a missing data file is SYNC_E_STORE_DAMAGED naming the table and the file", () => {
    const e = storeError(
      "count chunks",
      new Error(
        "lance error: Not found: data/db/document_chunks.lance/data/0101.lance\nCaused by: Not found: data/db/document_chunks.lance/data/0101.lance",
      ),
      "document_chunks",
    );
    expect(e.code).toBe("SYNC_E_STORE_DAMAGED");
    expect(e.retryable).toBe(false);
    expect(e.message).toContain("data/db/document_chunks.lance/data/0101.lance");
    expect(e.message.match(/Not found/g)?.length, "repeated Caused by folded").toBe(1);
  });

  it("backtraces and source locations are stripped", () => {
    const raw =
      "Panic in async function\nthread 'tokio-rt-worker' panicked at /usr/local/cargo/registry/src/x/lance-8.0.0/src/dataset.rs:714:43:\nrange end index 9 out of range\nstack backtrace:\n   0: __rustc::rust_begin_unwind\n   1: core::panicking::panic_fmt";
    const clean = sanitizeNativeMessage(raw);
    expect(clean).not.toMatch(/cargo|backtrace|rust_begin_unwind|\.rs:\d|\n/);
    expect(clean).toContain("range end index 9 out of range");
  });

  it("withConflictRetry retries conflicts with backoff, then gives up; other errors are not retried", async () => {
    let calls = 0;
    const ok = await withConflictRetry(
      async () => {
        if (++calls < 3) throw storeError("add", new Error(CONFLICT));
        return "done";
      },
      { baseDelayMs: 1 },
    );
    expect(ok).toBe("done");
    expect(calls).toBe(3);

    calls = 0;
    await expect(
      withConflictRetry(
        async () => {
          calls++;
          throw new Error(CONFLICT);
        },
        { attempts: 4, baseDelayMs: 1 },
      ),
    ).rejects.toMatchObject({ code: "SYNC_E_STORE_CONFLICT" });
    expect(calls).toBe(4);

    calls = 0;
    await expect(
      withConflictRetry(async () => {
        calls++;
        throw storeError("add", new Error("disk full"));
      }),
    ).rejects.toMatchObject({ code: "SYNC_E_STORAGE" });
    expect(calls).toBe(1);
  });
});
