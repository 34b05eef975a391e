import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { runSync, type SyncOptions, type SyncResult } from "../core/run-sync.js";
import { SyncError } from "../errors/sync-error.js";
import { FsSource } from "../sources/fs-source.js";
import { validateId } from "../storage/filter.js";
import type { AppContext } from "./app-context.js";

/** Options of {@link syncFolders}. */
export interface SyncFoldersOptions {
  userId: string;
  /** Source name; default derived from the paths (`fs-` + 8 hex chars), so the same folders keep one name. */
  sourceName?: string;
  /** Folders or files; may be omitted when `sourceName` names a source registered earlier. */
  paths?: readonly string[];
  /** Globs relative to each root; default: every supported type. */
  patterns?: readonly string[];
  allowMassDelete?: boolean;
  signal?: AbortSignal;
  onProgress?: SyncOptions["onProgress"];
  onStep?: SyncOptions["onStep"];
}

/** {@link SyncResult} plus the source it ran on. */
export interface SyncFoldersResult extends SyncResult {
  source: string;
}

/** Registers (or updates) a local-folder source for a user and runs one incremental sync of it. */
export async function syncFolders(ctx: AppContext, options: SyncFoldersOptions): Promise<SyncFoldersResult> {
  const userId = validateId("user id", options.userId);
  let paths = (options.paths ?? []).map((p) => resolve(p));
  let patterns = options.patterns ?? [];
  let name = options.sourceName;
  if (name !== undefined) validateId("source name", name);
  if (paths.length === 0) {
    const known = name === undefined ? undefined : ctx.journal.getSource(userId, name);
    if (!known) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        name === undefined
          ? "give at least one path to sync"
          : `source "${name}" of user "${userId}" is not registered; give the paths to sync`,
      );
    }
    paths = (known.config.paths as string[]) ?? [];
    if (patterns.length === 0) patterns = (known.config.patterns as string[]) ?? [];
  }
  name ??= `fs-${createHash("sha256")
    .update([...paths].sort().join("\0"))
    .digest("hex")
    .slice(0, 8)}`;
  await ctx.checkEmbedder();
  ctx.journal.upsertSource({ userId, name, type: "fs", config: { paths, patterns } });
  const { config } = ctx;
  const source = new FsSource({
    name,
    paths,
    patterns,
    maxFileBytes: config.maxFileBytes,
    readChunkBytes: config.readChunkBytes,
  });
  const deps = {
    journal: ctx.journal,
    openStore: () => ctx.openStore(),
    embedder: await ctx.embedder(),
    process: ctx.process,
    logger: ctx.logger,
  };
  // One run per source at a time: two overlapping runs could each write a document the other also writes.
  const lock = ctx.journal.acquireRunLock(userId, name);
  try {
    const result = await runSync(deps, {
      userId,
      source,
      writeBatchDocs: config.writeBatchDocs,
      writeBatchChunks: config.writeBatchChunks,
      concurrency: config.maxConcurrentProcessing,
      massDeleteThreshold: config.massDeleteThreshold,
      allowMassDelete: options.allowMassDelete,
      maxRetryAttempts: config.maxRetryAttempts,
      signal: options.signal,
      onProgress: options.onProgress,
      onStep: options.onStep,
    });
    return { source: name, ...result };
  } finally {
    ctx.journal.releaseRunLock(userId, name, lock);
  }
}
