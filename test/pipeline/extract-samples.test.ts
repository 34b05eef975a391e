import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { extractDocument } from "../../src/pipeline/extract/extract-document.js";

const SAMPLES = join(import.meta.dirname, "../../samples");

/** What each demo document must yield, so `lancedb-sync demo` searches have something to find. */
const EXPECTED: Record<string, { mimeType: string; title?: string; contains: string[] }> = {
  "remote-work-policy.md": {
    mimeType: "text/markdown",
    title: "Remote Work Policy",
    contains: ["core hours"],
  },
  "security-guidelines.md": {
    mimeType: "text/markdown",
    title: "Security Guidelines",
    contains: ["password rotation", "Multi-factor authentication"],
  },
  "it-support-faq.md": { mimeType: "text/markdown", title: "IT Support FAQ", contains: ["reset it?"] },
  "onboarding-checklist.txt": {
    mimeType: "text/plain",
    title: "Onboarding Checklist for New Employees",
    contains: ["onboarding buddy"],
  },
  "release-notes.html": {
    mimeType: "text/html",
    title: "Tidepool Release Notes",
    contains: ["Hybrid search.", "Version 3.2 (March)"],
  },
  "expense-policy.pdf": {
    mimeType: "application/pdf",
    title: "Expense and Travel Policy",
    contains: ["How to claim travel expenses", "receipt"],
  },
  "product-overview.docx": {
    mimeType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    title: "Tidepool Product Overview",
    contains: ["Tidepool Product Overview", "vector embeddings"],
  },
};

describe("demo samples", () => {
  it("contains exactly the expected documents", async () => {
    expect((await readdir(SAMPLES)).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, want] of Object.entries(EXPECTED)) {
    it(`extracts ${name}`, async () => {
      const doc = await extractDocument(await readFile(join(SAMPLES, name)), name, { maxBytes: 1 << 20 });
      expect(doc.mimeType).toBe(want.mimeType);
      expect(doc.title).toBe(want.title);
      expect(doc.text.split(/\s+/).length).toBeGreaterThan(250);
      for (const phrase of want.contains) expect(doc.text.replace(/\s+/g, " ")).toContain(phrase);
    });
  }
});
