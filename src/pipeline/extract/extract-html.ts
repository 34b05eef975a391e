import { decodeHTML } from "entities";
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
 * Deepest element nesting `html-to-text` is given. It (and the htmlparser2 tree builder under it) needs
 * stack or quadratic time per level: 2,000 levels overflow the stack and 200,000 take half a minute. Deeper
 * documents go to {@link streamHtmlText}.
 */
export const MAX_HTML_DEPTH = 512;

/** Elements without content or end tag. */
const VOID = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "param",
  "source",
  "track",
  "wbr",
]);
/** Elements whose end tag is often left out: not counted as nesting. */
const OPTIONAL_END = new Set(["p", "li", "td", "th", "tr", "dt", "dd", "option", "thead", "tbody", "tfoot"]);
/** Elements whose content is raw text up to their end tag. */
const RAW = new Set([
  "script",
  "style",
  "title",
  "textarea",
  "xmp",
  "iframe",
  "noembed",
  "noframes",
  "noscript",
]);
/** Elements whose content is not text a reader sees. */
const SKIPPED = new Set(["head", "template", "svg", "math", "object", "select"]);
/** Raw-text elements whose content is not text a reader sees. */
const SKIPPED_RAW = new Set(["script", "style", "title", "iframe", "noembed", "noframes", "noscript"]);
/** Elements that start a paragraph (a blank line before and after). */
const PARAGRAPHS = new Set([
  "p",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "blockquote",
  "pre",
  "table",
  "ul",
  "ol",
  "dl",
  "figure",
  "hr",
]);
/** Elements that start a new line. */
const LINES = new Set([
  "br",
  "div",
  "li",
  "tr",
  "section",
  "article",
  "header",
  "footer",
  "main",
  "nav",
  "aside",
  "address",
  "dd",
  "dt",
  "figcaption",
  "form",
  "fieldset",
  "caption",
  "body",
  "html",
]);

/** Callbacks of {@link scanHtml}. Text is passed raw (entities not decoded). */
interface HtmlEvents {
  open(name: string, selfClosing: boolean): void;
  close(name: string): void;
  text(raw: string): void;
  /** Content of a raw-text element (`<script>`, `<title>` …). */
  raw(name: string, raw: string): void;
}

const TAG_NAME = /^[A-Za-z][^\s/>]*/;
const rawEnds = new Map<string, RegExp>();

/**
 * One linear pass over `html` with `indexOf` and anchored regular expressions: tags, text, comments and
 * raw-text elements, with no stack and no recursion, so any nesting depth costs linear time.
 */
function scanHtml(html: string, on: HtmlEvents): void {
  const n = html.length;
  let i = 0;
  while (i < n) {
    const lt = html.indexOf("<", i);
    if (lt === -1) {
      on.text(html.slice(i));
      return;
    }
    if (lt > i) on.text(html.slice(i, lt));
    const next = html[lt + 1];
    if (html.startsWith("<!--", lt)) {
      const end = html.indexOf("-->", lt + 4);
      i = end === -1 ? n : end + 3;
      continue;
    }
    if (next === "!" || next === "?") {
      const end = html.indexOf(">", lt);
      i = end === -1 ? n : end + 1;
      continue;
    }
    const closing = next === "/";
    const nameStart = closing ? lt + 2 : lt + 1;
    const name = TAG_NAME.exec(html.slice(nameStart, nameStart + 64))?.[0]?.toLowerCase();
    const gt = name === undefined ? -1 : html.indexOf(">", nameStart);
    if (name === undefined || gt === -1) {
      on.text("<");
      i = lt + 1;
      continue;
    }
    i = gt + 1;
    if (closing) {
      on.close(name);
      continue;
    }
    on.open(name, html[gt - 1] === "/");
    if (RAW.has(name)) {
      let end = rawEnds.get(name);
      if (end === undefined) {
        end = new RegExp(`</${name}\\s*>`, "gi");
        rawEnds.set(name, end);
      }
      end.lastIndex = i;
      const m = end.exec(html);
      on.raw(name, html.slice(i, m === null ? n : m.index));
      on.close(name);
      i = m === null ? n : m.index + m[0].length;
    }
  }
}

/** Whether `name` opens a nesting level (not void, not self-closed, not an element with an optional end). */
function nests(name: string, selfClosing: boolean): boolean {
  return !selfClosing && !VOID.has(name) && !OPTIONAL_END.has(name);
}

/** Deepest element nesting of `html`, counted in one linear pass (no tree, no recursion). */
export function htmlDepth(html: string): number {
  let depth = 0;
  let max = 0;
  scanHtml(html, {
    open(name, selfClosing) {
      if (!nests(name, selfClosing)) return;
      depth++;
      if (depth > max) max = depth;
    },
    close(name) {
      if (nests(name, false) && depth > 0) depth--;
    },
    text() {},
    raw() {},
  });
  return max;
}

/**
 * Plain text of `html` from one linear pass ({@link scanHtml}): no tree and no recursion, so any nesting
 * depth works. Simpler than {@link extractHtml}'s output (tables are not aligned), but the same words: block
 * elements break lines, `<head>`, `<script>`, `<style>` and the like contribute nothing, entities are
 * decoded, whitespace is collapsed outside `<pre>`.
 */
export function streamHtmlText(html: string): ExtractedHtml {
  const out: string[] = [];
  let pending = 0; // line breaks owed before the next text
  let skip = 0;
  let pre = 0;
  let title: string | undefined;
  let atLineStart = true;
  const brk = (count: number) => {
    if (out.length > 0 && count > pending) pending = count;
  };
  const emit = (raw: string) => {
    if (skip > 0) return;
    const decoded = decodeHTML(raw);
    const text = pre > 0 ? decoded : decoded.replace(/\s+/g, " ");
    if (text === "" || (text === " " && (atLineStart || pending > 0))) return;
    if (pending > 0) {
      out.push("\n".repeat(pending));
      pending = 0;
      atLineStart = true;
    }
    const piece = atLineStart && pre === 0 ? text.trimStart() : text;
    if (piece === "") return;
    out.push(piece);
    atLineStart = piece.endsWith("\n");
  };
  scanHtml(html, {
    open(name, selfClosing) {
      if (name === "body") skip = 0; // an unclosed <head> ends here
      if (SKIPPED.has(name) && !selfClosing) skip++;
      if (name === "pre") pre++;
      if (PARAGRAPHS.has(name)) brk(2);
      else if (LINES.has(name)) brk(1);
      else if ((name === "td" || name === "th") && !atLineStart && pending === 0) out.push(" ");
    },
    close(name) {
      if (SKIPPED.has(name) && skip > 0) skip--;
      if (name === "pre" && pre > 0) pre--;
      if (PARAGRAPHS.has(name)) brk(2);
      else if (LINES.has(name) && name !== "br") brk(1);
    },
    text: emit,
    raw(name, raw) {
      if (name === "title") title ??= decodeHTML(raw).replace(/\s+/g, " ").trim();
      else if (!SKIPPED_RAW.has(name)) emit(raw);
    },
  });
  const text = out
    .join("")
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n")
    .trim();
  return title ? { text, title } : { text };
}

/**
 * Converts HTML to readable plain text with `html-to-text`: no line wrapping, headings keep their case,
 * link targets and images are dropped, tables become aligned text, `<head>`, `<script>` and `<style>`
 * contribute nothing. The title comes from `<title>`. Documents nested deeper than {@link MAX_HTML_DEPTH}
 * (or that still overflow the stack) are read with {@link streamHtmlText} instead.
 */
export function extractHtml(html: string): ExtractedHtml {
  if (htmlDepth(html) > MAX_HTML_DEPTH) return streamHtmlText(html);
  let text: string;
  try {
    text = toText(html);
  } catch (err) {
    if (err instanceof RangeError) return streamHtmlText(html);
    throw err;
  }
  const rawTitle = TITLE.exec(html)?.[1];
  const title = rawTitle === undefined ? "" : inlineText(rawTitle).replace(/\s+/g, " ").trim();
  return title === "" ? { text } : { text, title };
}
