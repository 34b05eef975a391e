import type { FetchedItem, Source, SourceItemRef, SourceListing } from "../../src/core/source.js";
import { SyncError } from "../../src/errors/sync-error.js";

interface Entry {
  bytes: Uint8Array;
  fingerprint: string;
}

const encoder = new TextEncoder();
const toBytes = (content: string | Uint8Array): Uint8Array =>
  typeof content === "string" ? encoder.encode(content) : Uint8Array.from(content);

/**
 * An in-memory {@link Source}. Every change gives the item a fresh fingerprint (`touch` changes only the
 * fingerprint); `move` keeps it, like a rename keeps size, mtime and inode. The listing can be made to fail.
 * Counts `list` and `fetch` calls and remembers the fetched keys. {@link listingExtras} is merged into every
 * listing, to simulate warnings, incomplete prefixes and empty roots. `confirmGone` confirms every asked key
 * that it does not hold now, except those made to fail ({@link failConfirm}, {@link failConfirmCall}).
 */
export class MemorySource implements Source {
  readonly type = "mem";
  private readonly items = new Map<string, Entry>();
  private version = 0;
  private listError: unknown;
  private confirmError: unknown;
  private readonly confirmFailures = new Set<string>();
  listCalls = 0;
  fetchCalls = 0;
  fetchedKeys: string[] = [];
  confirmCalls = 0;
  /** Every key `confirmGone` was asked about, in order. */
  confirmAsked: string[] = [];
  /** Added to what every successful `list` returns (default: nothing). */
  listingExtras: { warnings: string[]; incompletePrefixes: string[]; emptyRoots: string[] } = {
    warnings: [],
    incompletePrefixes: [],
    emptyRoots: [],
  };

  constructor(readonly name = "docs") {}

  private nextFingerprint(): string {
    this.version++;
    return `fp-${this.version}`;
  }

  /**
   * Adds or replaces an item with a fresh fingerprint, or with `fingerprint` (e.g. a restore from backup
   * that brings back the old size and mtime).
   */
  set(key: string, content: string | Uint8Array, fingerprint?: string): this {
    this.items.set(key, { bytes: toBytes(content), fingerprint: fingerprint ?? this.nextFingerprint() });
    return this;
  }

  /** Moves the fingerprint of an item without changing its content (e.g. `touch`, a copy-back). */
  touch(key: string): this {
    const e = this.must(key);
    e.fingerprint = this.nextFingerprint();
    return this;
  }

  /** Renames an item: same bytes and fingerprint under a new key, the old key is gone. */
  move(from: string, to: string): this {
    const e = this.must(from);
    this.items.delete(from);
    this.items.set(to, e);
    return this;
  }

  delete(key: string): this {
    this.must(key);
    this.items.delete(key);
    return this;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  keys(): string[] {
    return [...this.items.keys()].sort();
  }

  bytes(key: string): Uint8Array {
    return this.must(key).bytes;
  }

  fingerprint(key: string): string {
    return this.must(key).fingerprint;
  }

  /** Makes every `list` call throw `err` until {@link healListing}. */
  failListing(err: unknown = new Error("connection reset")): this {
    this.listError = err;
    return this;
  }

  healListing(): this {
    this.listError = undefined;
    return this;
  }

  /** Makes `confirmGone` unable to answer for `keys` (never in its result, as after a timeout) until healed. */
  failConfirm(...keys: string[]): this {
    for (const k of keys) this.confirmFailures.add(k);
    return this;
  }

  /** Makes every `confirmGone` call throw `err` (an outage) until {@link healConfirm}. */
  failConfirmCall(err: unknown = new SyncError("SYNC_E_SOURCE_UNAVAILABLE", "mem: confirm failed")): this {
    this.confirmError = err;
    return this;
  }

  /** Undoes {@link failConfirm} and {@link failConfirmCall}. */
  healConfirm(): this {
    this.confirmFailures.clear();
    this.confirmError = undefined;
    return this;
  }

  resetCounters(): void {
    this.listCalls = 0;
    this.fetchCalls = 0;
    this.fetchedKeys = [];
    this.confirmCalls = 0;
    this.confirmAsked = [];
  }

  async list(): Promise<SourceListing> {
    this.listCalls++;
    if (this.listError !== undefined) throw this.listError;
    const { warnings, incompletePrefixes, emptyRoots } = this.listingExtras;
    return {
      items: [...this.items.entries()].map(([key, e]) => ({
        key,
        fingerprint: e.fingerprint,
        sizeBytes: e.bytes.length,
        modifiedAt: "2024-01-01T00:00:00.000Z",
      })),
      warnings: [...warnings],
      incompletePrefixes: [...incompletePrefixes],
      emptyRoots: [...emptyRoots],
    };
  }

  async fetch(ref: SourceItemRef): Promise<FetchedItem> {
    this.fetchCalls++;
    this.fetchedKeys.push(ref.key);
    const e = this.items.get(ref.key);
    if (!e) throw new SyncError("SYNC_E_ITEM_GONE", `${ref.key}: gone since the listing`);
    return {
      bytes: Uint8Array.from(e.bytes),
      fileName: ref.key.split("/").pop() ?? ref.key,
      fingerprint: e.fingerprint,
    };
  }

  /** See {@link Source.confirmGone}: the asked keys not held now, less those made to fail. */
  async confirmGone(keys: readonly string[], signal?: AbortSignal): Promise<Set<string>> {
    signal?.throwIfAborted();
    this.confirmCalls++;
    this.confirmAsked.push(...keys);
    if (this.confirmError !== undefined) throw this.confirmError;
    return new Set(keys.filter((k) => !this.items.has(k) && !this.confirmFailures.has(k)));
  }

  private must(key: string): Entry {
    const e = this.items.get(key);
    if (!e) throw new Error(`MemorySource: no item ${key}`);
    return e;
  }
}
