import { describe, expect, it } from "vitest";
import {
  type BucketClock,
  sharedBucket,
  TokenBucket,
  tokenId,
} from "../../src/sources/notion/notion-rate-limit.js";
import {
  type BlockNode,
  normalizeId,
  plainText,
  propertyText,
  renderBlocks,
} from "../../src/sources/notion/notion-render.js";
import { normalizeNotionConfig } from "../../src/sources/notion/notion-type.js";

/** A clock that only moves when a sleeper sleeps: the bucket's schedule becomes a list of start times. */
function fakeClock(): BucketClock & { t: number } {
  const clock = {
    t: 0,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t = Math.max(clock.t, clock.t + ms);
    },
  };
  return clock;
}

describe("TokenBucket", () => {
  it("lets a burst through, then spaces requests at the rate, however many callers queue", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(3, 3, clock);
    const starts: number[] = [];
    for (let i = 0; i < 9; i++) {
      await bucket.take();
      starts.push(Math.round(clock.t));
    }
    expect(starts.slice(0, 3)).toEqual([0, 0, 0]);
    // Then one token every 333 ms.
    expect(starts.slice(3)).toEqual([333, 667, 1000, 1333, 1667, 2000]);
  });

  it("reserves slots for concurrent callers: n callers at once need (n - burst) / rate seconds", async () => {
    let now = 0;
    const waits: number[] = [];
    const clock: BucketClock = {
      now: () => now,
      sleep: async (ms) => {
        waits.push(Math.round(ms));
      },
    };
    const bucket = new TokenBucket(3, 3, clock);
    await Promise.all(Array.from({ length: 6 }, () => bucket.take()));
    expect(waits).toEqual([333, 667, 1000]);
    now = 10_000;
    waits.length = 0;
    await bucket.take();
    expect(waits).toEqual([]);
  });

  it("is shared by every client of one token, and separate per token", () => {
    const a = sharedBucket("secret_token_one_for_tests", 3);
    expect(sharedBucket("secret_token_one_for_tests", 3)).toBe(a);
    expect(sharedBucket("secret_token_two_for_tests", 3)).not.toBe(a);
    expect(sharedBucket("secret_token_one_for_tests", 5).ratePerSecond).toBe(5);
  });

  it("names a token by a hash, never by the token", () => {
    expect(tokenId("secret_abc")).toMatch(/^[0-9a-f]{12}$/);
    expect(tokenId("secret_abc")).not.toContain("abc");
  });
});

describe("notion rendering", () => {
  const block = (type: string, body: object, children: BlockNode[] = []): BlockNode => ({
    block: { id: "x", type, [type]: body },
    children,
  });
  const rt = (text: string) => [{ plain_text: text, annotations: { bold: true }, href: "https://x.org" }];

  it("reduces annotations and links to plain text and renders lists, tables and toggles with children", () => {
    expect(plainText(rt("bold link"))).toBe("bold link");
    const out = renderBlocks([
      block("heading_2", { rich_text: rt("Title") }),
      block("toggle", { rich_text: rt("Open me") }, [block("paragraph", { rich_text: rt("hidden") })]),
      block("to_do", { rich_text: rt("done"), checked: true }),
      block("table", {}, [
        block("table_row", { cells: [rt("a"), rt("b|c")] }),
        block("table_row", { cells: [rt("1"), rt("2")] }),
      ]),
      block("child_page", { title: "Sub" }),
      block("ai_block", {}),
    ]);
    expect(out.text).toBe(
      [
        "## Title",
        "Open me",
        "  hidden",
        "- [x] done",
        "| a | b\\|c |",
        "| --- | --- |",
        "| 1 | 2 |",
        "[page: Sub]",
      ].join("\n"),
    );
    expect(out.unsupported).toEqual({ ai_block: 1 });
    expect(out.childPages).toEqual(["x"]);
  });

  it("renders property values as readable text", () => {
    expect(propertyText({ type: "select", select: { name: "Doing" } })).toBe("Doing");
    expect(propertyText({ type: "checkbox", checkbox: true })).toBe("yes");
    expect(propertyText({ type: "date", date: { start: "2026-01-01", end: "2026-01-02" } })).toBe(
      "2026-01-01 → 2026-01-02",
    );
    expect(propertyText({ type: "formula", formula: { type: "number", number: 4 } })).toBe("4");
    const id = "0000abcd-0000-4000-8000-000000000001";
    const titles = new Map([[id, "Deep"]]);
    expect(propertyText({ type: "relation", relation: [{ id }] }, (x) => titles.get(x))).toBe("Deep");
  });

  it("normalizes ids with or without dashes", () => {
    expect(normalizeId("0000ABCD000040008000000000000001")).toBe("0000abcd-0000-4000-8000-000000000001");
  });
});

describe("notion config", () => {
  it("defaults token_env, dashes root ids, and refuses a token given as token_env", () => {
    expect(normalizeNotionConfig({ roots: ["0000ABCD000040008000000000000001"] })).toEqual({
      token_env: "NOTION_TOKEN",
      roots: ["0000abcd-0000-4000-8000-000000000001"],
    });
    expect(() => normalizeNotionConfig({ token_env: `secret_${"a1".repeat(22)}` })).toThrow(
      /token_env: .*looks like a token/,
    );
    expect(() => normalizeNotionConfig({ token_env: "secret-abc" })).toThrow(/token_env/);
    expect(() => normalizeNotionConfig({ token_file: "relative.txt" })).toThrow(/absolute path/);
  });
});
