import type { Config } from "../config/load-config.js";
import type { Journal, SourceRecord } from "../core/journal.js";
import type { Logger } from "../core/logger.js";
import type { Source } from "../core/source.js";
import { SyncError } from "../errors/sync-error.js";
import type { BlobStore } from "./upload/blob-store.js";

/** What a source factory may use. */
export interface SourceTypeContext {
  config: Config;
  journal: Journal;
  /** Where pushed documents' bytes live. */
  blobs: BlobStore;
  /** Where a source logs (waits, skipped content); absent: nowhere. */
  logger?: Logger;
}

/** One kind of source: how its config is checked and how a {@link Source} is made of a record. */
export interface SourceType {
  /** The name used in the API, the CLI and stored records, e.g. `local_filesystem`. */
  readonly type: string;
  /** Other names accepted on input (`fs`); never stored. */
  readonly aliases?: readonly string[];
  /**
   * Whether sources of this type change where they live and are reconciled on a schedule. `upload` is not:
   * its documents change only through `ingestDocument` and `deleteDocument`.
   */
  readonly scheduled: boolean;
  /**
   * Checks a config given by a user (API, CLI) for `userId`'s source `sourceId`, fills defaults, and returns
   * what is stored. Throws `SYNC_E_INVALID_ARGUMENT` naming the field and the bad value. `others` are the
   * user's other sources of this type (to refuse overlaps).
   */
  normalizeConfig(
    input: Record<string, unknown>,
    target: { userId: string; sourceId: string; others: readonly SourceRecord[] },
  ): Record<string, unknown>;
  /** The source of a stored record (its config as `normalizeConfig` returned it, or as older releases stored it). */
  create(record: SourceRecord, ctx: SourceTypeContext): Source;
}

/**
 * Maps type names (and aliases) to {@link SourceType}s. The API, the CLI and the sync system resolve every
 * type through it, so a new kind of source is one registration.
 */
export class SourceRegistry {
  private readonly types = new Map<string, SourceType>();
  private readonly names = new Map<string, string>();

  /** Adds a type; a name or alias already taken is a programming error. */
  register(type: SourceType): this {
    for (const name of [type.type, ...(type.aliases ?? [])]) {
      if (this.names.has(name)) throw new Error(`source type ${name} registered twice`);
      this.names.set(name, type.type);
    }
    this.types.set(type.type, type);
    return this;
  }

  /** The canonical name of `name` (an alias resolves to its type); `SYNC_E_INVALID_ARGUMENT` when unknown. */
  canonical(name: string): string {
    const found = this.names.get(name);
    if (found === undefined) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `unknown source type ${JSON.stringify(name)}: expected one of ${this.list().join(", ")}`,
      );
    }
    return found;
  }

  /** The type named `name` (or an alias of it). */
  get(name: string): SourceType {
    return this.types.get(this.canonical(name)) as SourceType;
  }

  /** Canonical names of every registered type. */
  list(): string[] {
    return [...this.types.keys()];
  }
}
