import { describe, expect, it } from "vitest";
import { extractDocument } from "../../src/pipeline/extract/extract-document.js";

describe("extractDocument hot path", () => {
  it("extracts 2000 × 10 KB UTF-8 markdown files quickly", async () => {
    const para = "Remote work is allowed three days a week. Ask your manager — café chats count too. ";
    const files = Array.from({ length: 2000 }, (_, i) =>
      new TextEncoder().encode(
        `# Document ${i}\n\n${para.repeat(Math.ceil(10240 / para.length))}`.slice(0, 10240),
      ),
    );
    await extractDocument(files[0] as Uint8Array, "warm.md", { maxBytes: 1 << 20 }); // warm up
    const start = performance.now();
    let chars = 0;
    for (const [i, bytes] of files.entries()) {
      chars += (await extractDocument(bytes, `doc-${i}.md`, { maxBytes: 1 << 20 })).text.length;
    }
    const ms = performance.now() - start;
    console.log(`extracted 2000 × 10 KB .md in ${ms.toFixed(1)} ms`);
    expect(chars).toBeGreaterThan(2000 * 10000);
    expect(ms).toBeLessThan(1000); // generous for slow CI; typically far below 100 ms
  });
});
