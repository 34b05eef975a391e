import { createHash, hash } from "node:crypto";

/**
 * Stable document id: the same (user, source, item key) always maps to the same id, so every apply is an
 * idempotent upsert. 32 hex chars of SHA-256 over NUL-separated parts.
 */
export function makeDocId(userId: string, sourceName: string, itemKey: string): string {
  return createHash("sha256").update(`${userId}\0${sourceName}\0${itemKey}`).digest("hex").slice(0, 32);
}

/** Stable chunk id: the document id and the chunk's ordinal. */
export function makeChunkId(docId: string, ordinal: number): string {
  return `${docId}:${ordinal}`;
}

/** SHA-256 hex of bytes or a string (content hashes and chunk text hashes). */
export function hashContent(data: Uint8Array | string): string {
  // One-shot hashing: no Hash object per call (this runs once per chunk).
  return hash("sha256", data, "hex");
}
