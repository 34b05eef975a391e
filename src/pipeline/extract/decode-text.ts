import chardet from "chardet";
import iconv from "iconv-lite";
import { SyncError } from "../../errors/sync-error.js";
import { hasNul, utf16ByNulPattern } from "./detect-type.js";

/** Text decoded from bytes, with the encoding that was used. */
export interface DecodedText {
  /** The text, BOM removed; line endings and everything else exactly as in the bytes. */
  text: string;
  /** Lower-case encoding name, e.g. `utf-8`, `utf-16le`, `windows-1252`, `shift_jis`. */
  encoding: string;
  /** Invalid UTF-8 sequences replaced with U+FFFD (mostly-valid UTF-8 only); absent when none were. */
  replaced?: number;
}

/**
 * UTF-8 with invalid sequences is still read as UTF-8 (each replaced by U+FFFD) when there are at most this
 * many of them or at most 1% of the bytes, and at least as many valid multi-byte characters: legacy text
 * (windows-1252 and the like) has almost no valid multi-byte UTF-8 sequences, so it goes to chardet.
 */
export const MAX_REPLACED_SEQUENCES = 16;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const utf16le = new TextDecoder("utf-16le", { ignoreBOM: true });
const utf16be = new TextDecoder("utf-16be", { ignoreBOM: true });

/**
 * chardet names whose bytes browsers (WHATWG Encoding) decode with the Windows superset: the C1 range
 * 0x80–0x9F of ISO-8859-1/9 is practically never meant as control characters.
 */
const SUPERSETS: Readonly<Record<string, string>> = {
  "iso-8859-1": "windows-1252",
  "iso-8859-9": "windows-1254",
};
/** chardet may report these; they were already ruled out or are not real encodings. */
const SKIP = new Set(["utf-8", "utf-16le", "utf-16be", "ascii", "mbcs", "sbcs", "iso_2022"]);

function bomOf(bytes: Uint8Array): { encoding: string; length: number } | undefined {
  const [a, b, c, d] = bytes;
  if (a === 0xef && b === 0xbb && c === 0xbf) return { encoding: "utf-8", length: 3 };
  if (a === 0xff && b === 0xfe && c === 0 && d === 0) return { encoding: "utf-32le", length: 4 };
  if (a === 0 && b === 0 && c === 0xfe && d === 0xff) return { encoding: "utf-32be", length: 4 };
  if (a === 0xff && b === 0xfe) return { encoding: "utf-16le", length: 2 };
  if (a === 0xfe && b === 0xff) return { encoding: "utf-16be", length: 2 };
  return undefined;
}

function decodeWith(encoding: string, bytes: Uint8Array): string {
  switch (encoding) {
    case "utf-8":
      return lenientUtf8.decode(bytes);
    case "utf-16le":
      return utf16le.decode(bytes);
    case "utf-16be":
      return utf16be.decode(bytes);
    default:
      return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), encoding, {
        stripBOM: false,
      });
  }
}

/** Occurrences of U+FFFD written literally (EF BF BD) in `bytes`. */
function literalReplacementChars(bytes: Uint8Array): number {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let n = 0;
  for (let i = buf.indexOf(REPLACEMENT_UTF8); i !== -1; i = buf.indexOf(REPLACEMENT_UTF8, i + 3)) n++;
  return n;
}

const REPLACEMENT_UTF8 = Buffer.from([0xef, 0xbf, 0xbd]);

/** `bytes` as UTF-8 with U+FFFD for invalid sequences, when they are few (see {@link MAX_REPLACED_SEQUENCES}). */
function mostlyUtf8(bytes: Uint8Array): DecodedText | undefined {
  const text = lenientUtf8.decode(bytes);
  let replacements = 0;
  let multibyte = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c === 0xfffd) replacements++;
    else if (c < 0xdc00 || c > 0xdfff) multibyte++; // a surrogate pair counts once
  }
  const literal = literalReplacementChars(bytes);
  const replaced = replacements - literal;
  multibyte += literal;
  if (replaced <= 0 || multibyte < replaced) return undefined;
  if (replaced > Math.max(MAX_REPLACED_SEQUENCES, bytes.length / 100)) return undefined;
  return { text, encoding: "utf-8", replaced };
}

/**
 * Decodes the bytes of a text file. Order: BOM (UTF-8, UTF-16LE/BE, UTF-32LE/BE; the BOM is declared
 * authoritative and stripped) → UTF-16 without BOM by NUL-byte pattern (checked before UTF-8 because
 * NUL-interleaved ASCII is also valid UTF-8) → strict UTF-8 → mostly-valid UTF-8 (a few invalid sequences
 * among valid multi-byte characters, see {@link MAX_REPLACED_SEQUENCES}: decoded with U+FFFD, `replaced`
 * counts them) → the most confident `chardet` guess that
 * `iconv-lite` can decode (ISO-8859-1/9 are read as their Windows supersets). Nothing but the BOM is
 * changed: CRLF stays CRLF, so offsets into `text` are offsets into the decoded file. Empty input gives "".
 *
 * @throws SyncError `SYNC_E_DECODE_FAILED` when no candidate encoding fits; the message starts with `fileName`.
 */
export function decodeText(bytes: Uint8Array, fileName: string): DecodedText {
  const bom = bomOf(bytes);
  if (bom !== undefined) {
    return { text: decodeWith(bom.encoding, bytes.subarray(bom.length)), encoding: bom.encoding };
  }
  if (hasNul(bytes)) {
    const utf16 = utf16ByNulPattern(bytes);
    if (utf16 !== undefined) return { text: decodeWith(utf16, bytes), encoding: utf16 };
  }
  try {
    return { text: strictUtf8.decode(bytes), encoding: "utf-8" };
  } catch {
    // not strict UTF-8: mostly-valid UTF-8, or a legacy code page below
  }
  const mostly = mostlyUtf8(bytes);
  if (mostly !== undefined) return mostly;
  for (const match of chardet.analyse(bytes)) {
    const name = match.name.toLowerCase();
    if (SKIP.has(name)) continue;
    const encoding = SUPERSETS[name] ?? name;
    if (iconv.encodingExists(encoding)) return { text: decodeWith(encoding, bytes), encoding };
  }
  throw new SyncError(
    "SYNC_E_DECODE_FAILED",
    `${fileName}: text is not UTF-8 and its encoding could not be detected`,
  );
}
