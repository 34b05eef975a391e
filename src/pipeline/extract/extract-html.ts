import { compile } from "html-to-text";

/** Text and title of an HTML document. */
export interface ExtractedHtml {
  text: string;
  /** Content of `<title>`, entities decoded and whitespace collapsed; absent when missing or blank. */
  title?: string;
}

const keepCase = (selector: string) => ({ selector, options: { uppercase: false } });

const toText = compile({
  wordwrap: false,
  selectors: [
    { selector: "a", options: { ignoreHref: true } },
    { selector: "img", format: "skip" },
    ...["h1", "h2", "h3", "h4", "h5", "h6"].map(keepCase),
    { selector: "table", format: "dataTable", options: { uppercaseHeaderCells: false } },
  ],
});

const inlineText = compile({ wordwrap: false });

const TITLE = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i;

/**
 * Converts HTML to readable plain text with `html-to-text`: no line wrapping, headings keep their case,
 * link targets and images are dropped, tables become aligned text, `<head>`, `<script>` and `<style>`
 * contribute nothing. The title comes from `<title>`.
 */
export function extractHtml(html: string): ExtractedHtml {
  const text = toText(html);
  const rawTitle = TITLE.exec(html)?.[1];
  const title = rawTitle === undefined ? "" : inlineText(rawTitle).replace(/\s+/g, " ").trim();
  return title === "" ? { text } : { text, title };
}
