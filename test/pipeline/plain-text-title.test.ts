import { describe, expect, it } from "vitest";
import { extractDocument } from "../../src/pipeline/extract/extract-document.js";
import { plainTextTitle } from "../../src/pipeline/extract/plain-text-title.js";
import { makeDocx } from "../fixtures/make-docx.js";

describe("plainTextTitle: an obvious title line of plain text", () => {
  it.each([
    ["Onboarding Checklist\n====================\n\nWelcome aboard.\n", "Onboarding Checklist"],
    ["\n\n  Quarterly Report 2024  \n\nRevenue rose.\n", "Quarterly Report 2024"],
    ["Release notes\n-------------\n* fixed things\n", "Release notes"],
    ["\uFEFFÜberblick\r\n\r\nGrüße aus Köln.\r\n", "Überblick"],
    ["What is new in 3.2?\n\nHybrid search.\n", "What is new in 3.2?"],
  ])("takes the title of %j", (text, title) => {
    expect(plainTextTitle(text)).toBe(title);
  });

  it.each([
    ["First line\r\nSecond line\n\n# not a title in txt\n"], // not set apart
    ["Shopping notes. Buy bread.\n\nAnd milk.\n"], // a sentence
    ["Things to do:\n\n- call mum\n"], // a lead-in
    ["[ ] Sign the contract\n\n[ ] Send the bank details\n"], // a list item
    ["Only one line, nothing else\n"], // nothing after it
    ["Title alone\n\n\n"],
    [`${"word ".repeat(20)}\n\nbody\n`], // too many words
    [`${"x".repeat(101)}\n\nbody\n`], // too long
    [""],
  ])("finds none in %j", (text) => {
    expect(plainTextTitle(text)).toBeUndefined();
  });

  it("gives .txt and .docx documents their title; without one the title stays unset (the file name is used)", async () => {
    const opts = { maxBytes: 1 << 20 };
    const txt = await extractDocument(
      Buffer.from("Harbour Guide\n=============\n\nThe harbour opens at dawn.\n"),
      "g.txt",
      opts,
    );
    expect(txt.title).toBe("Harbour Guide");
    const docx = await extractDocument(
      await makeDocx(["Orchard Minutes", "The orchard needs new fences."]),
      "m.docx",
      opts,
    );
    expect(docx.title).toBe("Orchard Minutes");
    const plain = await extractDocument(
      await makeDocx(["Dear committee,", "the orchard needs new fences."]),
      "l.docx",
      opts,
    );
    expect(plain.title).toBeUndefined();
  });
});
