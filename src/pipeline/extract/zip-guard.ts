import { inflateRawSync } from "node:zlib";
import { SyncError } from "../../errors/sync-error.js";

/** One entry of a zip central directory. */
export interface ZipEntry {
  name: string;
  /** Compression method: 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  /** Size the entry declares it inflates to. */
  uncompressedSize: number;
  /** Offset of the entry's local file header. */
  localHeaderOffset: number;
}

/** Limits of {@link checkZipDirectory} and {@link verifyZipEntries}. */
export interface ZipLimits {
  /** Largest accepted total of the entries' uncompressed sizes (`MAX_EXTRACTED_MB` in bytes). */
  maxExtractedBytes: number;
}

/**
 * An entry inflating to more than this many times its compressed size is a decompression bomb, once it is
 * larger than {@link BOMB_MIN_BYTES}. Deflate tops out near 1032:1; real Office XML compresses 5–50-fold.
 */
export const MAX_COMPRESSION_RATIO = 200;
/** Entries smaller than this are never judged by their ratio (tiny repetitive parts compress very well). */
export const BOMB_MIN_BYTES = 1024 * 1024;

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const U32_MAX = 0xffffffff;
const MB = 1024 * 1024;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u64(v: DataView, at: number): number {
  return Number(v.getBigUint64(at, true));
}

function formatSize(bytes: number): string {
  if (bytes >= MB) return `${Number((bytes / MB).toFixed(1))} MiB`;
  return `${Number((bytes / 1024).toFixed(1))} KiB`;
}

/**
 * Reads the central directory of a zip archive (ZIP64 included) without inflating anything. Returns
 * undefined when `bytes` is not a readable zip: the parser that follows reports that as corruption.
 */
export function readZipDirectory(bytes: Uint8Array): ZipEntry[] | undefined {
  if (bytes.length < 22) return undefined;
  const v = view(bytes);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (v.getUint32(i, true) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return undefined;
  let count = v.getUint16(eocd + 10, true);
  let offset = v.getUint32(eocd + 16, true);
  if ((count === 0xffff || offset === U32_MAX) && eocd >= 20) {
    const locator = eocd - 20;
    if (v.getUint32(locator, true) === EOCD64_LOCATOR_SIG) {
      const rec = u64(v, locator + 8);
      if (rec + 56 > bytes.length || v.getUint32(rec, true) !== EOCD64_SIG) return undefined;
      count = u64(v, rec + 32);
      offset = u64(v, rec + 48);
    }
  }
  const entries: ZipEntry[] = [];
  let p = offset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > bytes.length || v.getUint32(p, true) !== CENTRAL_SIG) return undefined;
    const nameLength = v.getUint16(p + 28, true);
    const extraLength = v.getUint16(p + 30, true);
    const commentLength = v.getUint16(p + 32, true);
    const end = p + 46 + nameLength + extraLength + commentLength;
    if (end > bytes.length) return undefined;
    const entry: ZipEntry = {
      name: Buffer.from(bytes.buffer, bytes.byteOffset + p + 46, nameLength).toString("utf8"),
      method: v.getUint16(p + 10, true),
      compressedSize: v.getUint32(p + 20, true),
      uncompressedSize: v.getUint32(p + 24, true),
      localHeaderOffset: v.getUint32(p + 42, true),
    };
    // ZIP64 extended information: only the fields whose 32-bit value is 0xFFFFFFFF are present, in this order.
    for (let x = p + 46 + nameLength; x + 4 <= p + 46 + nameLength + extraLength; ) {
      const id = v.getUint16(x, true);
      const size = v.getUint16(x + 2, true);
      if (id === 0x0001) {
        let f = x + 4;
        const take = (): number => {
          if (f + 8 > x + 4 + size) return U32_MAX;
          const value = u64(v, f);
          f += 8;
          return value;
        };
        if (entry.uncompressedSize === U32_MAX) entry.uncompressedSize = take();
        if (entry.compressedSize === U32_MAX) entry.compressedSize = take();
        if (entry.localHeaderOffset === U32_MAX) entry.localHeaderOffset = take();
      }
      x += 4 + size;
    }
    entries.push(entry);
    p = end;
  }
  return entries;
}

/**
 * Rejects a zip-based document (DOCX) that would expand beyond the limits, reading only its central
 * directory: the total of the declared uncompressed sizes must not exceed `maxExtractedBytes`, and no entry
 * over {@link BOMB_MIN_BYTES} may inflate more than {@link MAX_COMPRESSION_RATIO}-fold. Returns the entries
 * (undefined when the directory is unreadable, which the parser reports as corruption).
 *
 * @throws SyncError `SYNC_E_FILE_TOO_LARGE` naming `fileName`, the sizes and `MAX_EXTRACTED_MB`.
 */
export function checkZipDirectory(
  bytes: Uint8Array,
  fileName: string,
  limits: ZipLimits,
): ZipEntry[] | undefined {
  const entries = readZipDirectory(bytes);
  if (entries === undefined) return undefined;
  let total = 0;
  for (const e of entries) {
    total += e.uncompressedSize;
    const ratio = e.uncompressedSize / Math.max(e.compressedSize, 1);
    if (e.uncompressedSize > BOMB_MIN_BYTES && ratio > MAX_COMPRESSION_RATIO) {
      throw new SyncError(
        "SYNC_E_FILE_TOO_LARGE",
        `${fileName}: ${e.name} would expand ${Math.round(ratio)}-fold (${formatSize(e.compressedSize)} to ` +
          `${formatSize(e.uncompressedSize)}), more than the ${MAX_COMPRESSION_RATIO}-fold a real document ` +
          `compresses: a decompression bomb; nothing was inflated (MAX_EXTRACTED_MB is ` +
          `${Number((limits.maxExtractedBytes / MB).toFixed(1))})`,
      );
    }
  }
  if (total > limits.maxExtractedBytes) {
    throw new SyncError(
      "SYNC_E_FILE_TOO_LARGE",
      `${fileName}: its ${entries.length} zip parts expand to ${formatSize(total)} (from ` +
        `${formatSize(bytes.length)}), over MAX_EXTRACTED_MB (${Number((limits.maxExtractedBytes / MB).toFixed(1))} MB)`,
    );
  }
  return entries;
}

/**
 * Inflates every deflated entry with a hard output limit of its declared size, so a central directory that
 * understates the sizes cannot get past {@link checkZipDirectory}. Memory use is bounded by the declared
 * sizes, which that check has accepted. Entries whose local header cannot be read are left to the parser.
 *
 * @throws SyncError `SYNC_E_FILE_TOO_LARGE` when an entry inflates to more than it declares.
 */
export function verifyZipEntries(bytes: Uint8Array, fileName: string, entries: readonly ZipEntry[]): void {
  const v = view(bytes);
  for (const e of entries) {
    if (e.method !== 8) continue;
    const at = e.localHeaderOffset;
    if (at + 30 > bytes.length || v.getUint32(at, true) !== LOCAL_SIG) continue;
    const start = at + 30 + v.getUint16(at + 26, true) + v.getUint16(at + 28, true);
    const data = bytes.subarray(start, Math.min(bytes.length, start + e.compressedSize));
    try {
      inflateRawSync(data, { maxOutputLength: Math.max(e.uncompressedSize, 1) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ERR_BUFFER_TOO_LARGE") continue; // corrupt: the parser says so
      throw new SyncError(
        "SYNC_E_FILE_TOO_LARGE",
        `${fileName}: ${e.name} inflates to more than the ${formatSize(e.uncompressedSize)} its zip directory ` +
          "declares: a decompression bomb; inflating was stopped at the declared size",
        { cause: err },
      );
    }
  }
}
