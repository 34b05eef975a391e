/** Longest line taken as a title, in characters. */
const MAX_TITLE_CHARS = 100;
/** Most words a title line may have. */
const MAX_TITLE_WORDS = 14;
/** A line that underlines the one above it (setext style: `=====`, `-----`, `~~~~~`). */
const UNDERLINE = /^\s*([=\-~*_#])\1{2,}\s*$/;

/**
 * The title of plain text (a .txt file, a DOCX's text): its first non-blank line when that line is
 * obviously one — short (at most 100 characters and 14 words), starting with a letter or digit, not ending
 * like a sentence or a list item (`.`, `,`, `;`, `:`), and set apart: followed by a blank line or an
 * underline (`=====`, `-----`), with more text after it. Undefined otherwise (the file name is used).
 */
export function plainTextTitle(text: string): string | undefined {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let i = 0;
  while (i < lines.length && (lines[i] as string).trim() === "") i++;
  const first = lines[i]?.trim();
  if (first === undefined || first.length > MAX_TITLE_CHARS) return undefined;
  if (!/^[\p{L}\p{N}]/u.test(first) || /[.,;:]$/.test(first)) return undefined;
  if (first.split(/\s+/).length > MAX_TITLE_WORDS) return undefined;
  const next = lines[i + 1];
  if (next === undefined || !(next.trim() === "" || UNDERLINE.test(next))) return undefined;
  const rest = lines.slice(i + 2).some((l) => l.trim() !== "" && !UNDERLINE.test(l));
  return rest ? first.replace(/\s+/g, " ") : undefined;
}
