import { lstat, readFile } from "node:fs/promises";
import { basename, isAbsolute, relative, resolve, sep } from "node:path";
import type { Config } from "../config/load-config.js";
import type { ChunkRow, DocumentRow, DocumentStore } from "../core/document-store.js";
import { embedMisses } from "../core/embed-misses.js";
import type { Embedder } from "../core/embedder.js";
import { hashContent } from "../core/ids.js";
import { type ItemState, type Journal, retypeError, type SourceRecord } from "../core/journal.js";
import type { ItemFailure } from "../core/prepare-item.js";
import { describeError, isSyncError, SyncError } from "../errors/sync-error.js";
import { createEmbedder } from "../pipeline/embed/create-embedder.js";
import { toKey } from "../sources/local-filesystem/fs-paths.js";
import { fingerprintOf } from "../sources/local-filesystem/fs-source.js";
import {
  canonicalRoot,
  localFilesystemConfig,
  localFilesystemType,
  sameRoots,
} from "../sources/local-filesystem/local-filesystem-type.js";
import { validateId } from "../storage/filter.js";
import { acquireLock, type HeldLock, runLockName } from "../storage/lease-lock.js";
import {
  type LegacyMapping,
  type LegacyRow,
  LegacyTableReader,
  resolveMapping,
  sameDatabase,
} from "../storage/legacy-table.js";
import type { AppContext } from "./app-context.js";
import { crashHook } from "./crash-hook.js";
import {
  type BuiltDocument,
  buildDocument,
  type LegacyDocument,
  type SkippedRows,
  skip,
} from "./migrate-rows.js";

/** Options of {@link migrateTable}: the CLI's `migrate` flags, the API's body. */
export interface MigrateOptions {
  /** Database URI of the legacy table; default `LANCEDB_URI`. */
  from?: string;
  table: string;
  /** Exactly one of `allUsers`, `userId`, `assignUser`. Every row, by its user column. */
  allUsers?: boolean;
  /** Only the rows of this user (by its user column). */
  userId?: string;
  /** Every row, given to this user (tables without a user column). */
  assignUser?: string;
  /** Column → field overrides (`--map column=field`), see `LEGACY_FIELDS`. */
  map?: Readonly<Record<string, string>>;
  /** Target source name; default `migrated-<table>`. */
  sourceName?: string;
  /** Documents join a `local_filesystem` source over this folder, keyed by their file under it. */
  root?: string;
  /** Id of the embedder that made the legacy vectors: kept only when it is the configured embedder's id. */
  legacyEmbedder?: string;
  /** Re-embed every chunk even when vectors could be kept. */
  reembed?: boolean;
  /** Read and check everything, write nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number }) => void;
}

/** What one user gets (or would get) from a migration. */
export interface MigrateUserPlan {
  user_id: string;
  source_id: string;
  source_type: string;
  documents: number;
  chunks: number;
  /** Documents written by this run (would be, in a dry run). */
  written: number;
  /** Documents already migrated with the same content: not written again. */
  unchanged: number;
}

/** Outcome of {@link migrateTable}. `rows_migrated` plus every skipped count is `source_rows`. */
export interface MigrateReport {
  dry_run: boolean;
  from: string;
  table: string;
  /** The legacy table's version that was read (pinned for the whole run, and for a resumed one). */
  version: number;
  /** True when an unfinished run of the same migration was resumed (at its version). */
  resumed: boolean;
  /** Field → legacy column, as detected and overridden. */
  mapping: LegacyMapping;
  /** Rows in scope (of the chosen user only, with `--user`). */
  source_rows: number;
  rows_migrated: number;
  documents: number;
  chunks: number;
  skipped: SkippedRows;
  vectors: "kept" | "reembedded";
  /** Why vectors are (or are not) kept. */
  vectors_reason: string;
  vectors_kept: number;
  reembedded: number;
  written_documents: number;
  unchanged_documents: number;
  /** Number of users with migrated documents. */
  users: number;
  per_user: MigrateUserPlan[];
  /** With `--root`: documents whose file exists (and equals the legacy time or is older), is newer, or is missing. */
  root: { path: string; found: number; newer: number; missing: number } | null;
  /** Problems that stop nothing but need attention (also printed by a dry run). */
  problems: string[];
  duration_ms: number;
}

/** What the operation needs. `journal` absent: a dry run that must not even open the journal. */
interface MigrateDeps {
  config: Config;
  embedder: () => Promise<Embedder>;
  journal?: Journal;
  ctx?: AppContext;
}

/** Journal setting holding the checkpoint of a migration (see {@link Checkpoint}). */
const CHECKPOINT_PREFIX = "migrate:";

/** A migration's progress: the pinned legacy version, documents done, and whether it finished. */
interface Checkpoint {
  version: number;
  docs_done: number;
  finished: boolean;
}

/** Documents per write, and legacy rows per read, at most. */
const READ_ROWS = 2048;

/**
 * `lancedb-sync migrate`: brings a LanceDB table of another application into this store without losing a
 * row. Reads the legacy table at one version (pinned in a journal checkpoint, so a killed run resumes on the
 * same rows), maps its columns, groups rows into documents per user, checks every row (skipped ones are
 * counted by reason with examples), and writes documents and chunks under stable ids, batch by batch, with the
 * sync's journal protocol (pending → rows → synced) under the writer lock. A document the journal already
 * holds with the same content is not written again, so a second run changes nothing.
 *
 * Vectors are kept only when `legacyEmbedder` is the configured embedder's id (and not `reembed`); otherwise
 * every chunk is embedded by the configured embedder, so the store (the embedding cache) only ever holds
 * vectors under the id that made them. `dryRun` writes nothing. Refuses (`SYNC_E_MIGRATION_SELF`) to read this
 * store's own tables.
 */
export function migrateTable(ctx: AppContext, options: MigrateOptions): Promise<MigrateReport> {
  return runMigration({ config: ctx.config, embedder: ctx.embedder, journal: ctx.journal, ctx }, options);
}

/**
 * A dry run without an app context: creates no journal file and no table (the CLI's `migrate --dry-run`).
 * The embedder is created to learn its id and width, then closed.
 */
export async function dryRunMigration(config: Config, options: MigrateOptions): Promise<MigrateReport> {
  let made: Promise<Embedder> | undefined;
  const embedder = () => {
    made ??= createEmbedder(config.embedding, options.signal);
    return made;
  };
  try {
    return await runMigration({ config, embedder }, { ...options, dryRun: true });
  } finally {
    await (await made?.catch(() => undefined))?.close?.();
  }
}

async function runMigration(deps: MigrateDeps, options: MigrateOptions): Promise<MigrateReport> {
  const t0 = performance.now();
  const { config, journal } = deps;
  const dryRun = options.dryRun === true || deps.ctx === undefined;
  const from = options.from ?? config.lancedbUri;
  const table = options.table;
  if (typeof table !== "string" || table === "") {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", "give the legacy table's name (--table)");
  }
  const scope = userScope(options);
  const sourceName = validateId(
    "source name",
    options.sourceName ?? `migrated-${table.replace(/[^A-Za-z0-9._-]/g, "-")}`.slice(0, 128),
  );
  if (sameDatabase(from, config.lancedbUri) && [config.documentsTable, config.chunksTable].includes(table)) {
    throw new SyncError(
      "SYNC_E_MIGRATION_SELF",
      `table "${table}" at ${from} is one of this store's own tables: it cannot be migrated into itself`,
    );
  }
  const root = options.root === undefined ? undefined : canonicalRoot(options.root, process.cwd());
  if (root !== undefined) {
    const st = await lstat(root).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new SyncError("SYNC_E_INVALID_ARGUMENT", `--root ${options.root}: not a folder`);
    }
  }
  const sourceType = root === undefined ? "migrated" : "local_filesystem";
  const checkpointKey = `${CHECKPOINT_PREFIX}${JSON.stringify([from, table, sourceName, scope.label])}`;
  const checkpoint = readCheckpoint(journal, checkpointKey);
  let resumed = checkpoint !== undefined && !checkpoint.finished;
  const problems: string[] = [];
  let reader: LegacyTableReader;
  let keeper: SourceKeeper | undefined;
  try {
    reader = await LegacyTableReader.open(from, table, resumed ? checkpoint?.version : undefined);
  } catch (err) {
    if (!resumed || !isSyncError(err, "SYNC_E_NOT_FOUND") || !/no version/.test(err.message)) throw err;
    // The pinned version was cleaned up in the legacy database: start over at its newest (ids are stable, so
    // what the killed run wrote is recognised, not duplicated).
    problems.push(`${err.message}; migrated from the newest version instead`);
    resumed = false;
    reader = await LegacyTableReader.open(from, table);
  }
  try {
    if (reader.writtenByLanceDbSync && sameDatabase(from, config.lancedbUri)) {
      throw new SyncError(
        "SYNC_E_MIGRATION_SELF",
        `table "${table}" at ${from} was written by lancedb-sync in this very database; it cannot be migrated into it`,
      );
    }
    const mapping = resolveMapping(reader.columns, options.map);
    if (scope.mode !== "assign" && mapping.user === undefined) {
      throw new SyncError(
        "SYNC_E_MIGRATION_MAPPING",
        `table "${table}" has no user column (looked for user_id, owner): give every row to one user with ` +
          '--assign-user <id>, or name the column with --map "<column>=user"',
      );
    }
    const embedder = await deps.embedder();
    const wantKeep = !options.reembed && options.legacyEmbedder !== undefined;
    const keep = wantKeep && options.legacyEmbedder === embedder.id && mapping.vector !== undefined;
    const vectorsReason = options.reembed
      ? "--reembed: every chunk is embedded again"
      : mapping.vector === undefined
        ? "the table has no vector column: every chunk is embedded"
        : options.legacyEmbedder === undefined
          ? `no --legacy-embedder given: a vector's width cannot tell its model, so every chunk is embedded by ${embedder.id}`
          : keep
            ? `--legacy-embedder ${options.legacyEmbedder} is the configured embedder: legacy vectors are kept`
            : `--legacy-embedder ${options.legacyEmbedder} is not the configured embedder ${embedder.id}: every chunk is embedded`;
    const report: MigrateReport = {
      dry_run: dryRun,
      from,
      table,
      version: reader.version,
      resumed,
      mapping,
      source_rows: 0,
      rows_migrated: 0,
      documents: 0,
      chunks: 0,
      skipped: {},
      vectors: keep ? "kept" : "reembedded",
      vectors_reason: vectorsReason,
      vectors_kept: 0,
      reembedded: 0,
      written_documents: 0,
      unchanged_documents: 0,
      users: 0,
      per_user: [],
      root: root === undefined ? null : { path: root, found: 0, newer: 0, missing: 0 },
      problems,
      duration_ms: 0,
    };

    // Pass 1: keys only, grouped into documents in order of first appearance.
    const docs = new Map<string, LegacyDocument>();
    const badUsers = new Set<string>();
    // Row ids seen (when the table has an id column): a repeated one is a duplicated row, wherever it is.
    const seenIds = new Set<string>();
    for await (const page of reader.scanKeys(mapping)) {
      options.signal?.throwIfAborted();
      for (const row of page) {
        let userId: string;
        if (scope.mode === "assign") userId = scope.userId;
        else if (scope.mode === "user") {
          if (row.user !== scope.userId) continue;
          userId = scope.userId;
        } else {
          if (row.user === null || row.user === "") {
            report.source_rows++;
            skip(report.skipped, "no_user_id", row);
            continue;
          }
          userId = row.user;
        }
        report.source_rows++;
        try {
          validateId("user id", userId);
        } catch {
          badUsers.add(userId);
          skip(report.skipped, "invalid_user_id", row);
          continue;
        }
        if (row.id !== null) {
          if (seenIds.has(row.id)) {
            skip(report.skipped, "duplicate_chunk_id", row);
            continue;
          }
          seenIds.add(row.id);
        }
        const legacyKey = mapping.doc !== undefined ? row.doc : (row.id ?? `row-${row.rowId}`);
        if (legacyKey === null || legacyKey.trim() === "") {
          skip(report.skipped, "no_document_id", row);
          continue;
        }
        const key = root === undefined ? legacyKey : rootKey(root, legacyKey);
        if (key === undefined) {
          skip(report.skipped, "outside_root", row);
          continue;
        }
        const id = `${userId}\0${key}`;
        let doc = docs.get(id);
        if (!doc) {
          doc = { userId, key, rows: [] };
          docs.set(id, doc);
        }
        doc.rows.push(row);
      }
    }
    for (const u of badUsers) {
      report.problems.push(`user id ${JSON.stringify(u)} is not valid: its rows are skipped`);
    }
    if (mapping.doc === undefined) {
      report.problems.push(
        "no document column: every row is its own document (name one with --map <column>=doc)",
      );
    }

    const writer = dryRun ? undefined : await openWriter(deps, options.signal);
    const sources = new SourceKeeper(deps, { sourceName, sourceType, from, table, root, dryRun });
    keeper = sources;
    const perUser = new Map<string, MigrateUserPlan>();
    const plan = (userId: string): MigrateUserPlan => {
      let p = perUser.get(userId);
      if (!p) {
        p = {
          user_id: userId,
          source_id: sourceName,
          source_type: sourceType,
          documents: 0,
          chunks: 0,
          written: 0,
          unchanged: 0,
        };
        perUser.set(userId, p);
      }
      return p;
    };
    const ingestedAt = new Date().toISOString();
    // Vectors that are not kept are not read.
    const readMapping: LegacyMapping = keep ? mapping : { ...mapping, vector: undefined };
    const all = [...docs.values()];
    const maxDocs = Math.max(1, config.writeBatchDocs);
    const maxRows = Math.max(READ_ROWS, config.writeBatchChunks);
    let done = 0;
    let batchNo = 0;
    while (done < all.length) {
      options.signal?.throwIfAborted();
      const group: LegacyDocument[] = [];
      let rows = 0;
      while (done + group.length < all.length && group.length < maxDocs) {
        const next = all[done + group.length] as LegacyDocument;
        if (group.length > 0 && rows + next.rows.length > maxRows) break;
        group.push(next);
        rows += next.rows.length;
      }
      const fetched = await reader.take(
        group.flatMap((d) => d.rows.map((r) => r.rowId)),
        readMapping,
      );
      const byRowId = new Map(fetched.map((r) => [r.rowId, r]));
      const entries: Entry[] = [];
      for (const legacy of group) {
        const legacyRows = legacy.rows
          .map((r) => byRowId.get(r.rowId))
          .filter((r): r is LegacyRow => r !== undefined);
        const built = buildDocument(
          legacy,
          legacyRows,
          {
            sourceName,
            sourceType,
            keepWidth: keep ? embedder.dimensions : undefined,
            chunkSize: config.textChunkSize,
            chunkOverlap: config.textChunkOverlap,
            ingestedAt,
          },
          report.skipped,
        );
        if (!built) continue;
        const { state, fileHash } = await itemState(built, root === undefined ? undefined : report.root);
        entries.push({ legacy, built, state, fileHash });
      }
      const toWrite: Entry[] = [];
      for (const e of entries) {
        const userId = e.legacy.userId;
        await sources.ensure(userId, options.signal);
        const p = plan(userId);
        const prev = journal?.getItem(userId, sourceName, e.state.key);
        // Unchanged: migrated before with the same content, or (under --root) the file is indexed as it is now
        // (a sync re-processed it since): the legacy rows must not overwrite it.
        const same =
          prev?.status === "synced" &&
          prev.docId === e.state.docId &&
          ((prev.contentHash === e.state.contentHash && prev.fingerprint === e.state.fingerprint) ||
            (e.fileHash !== undefined && prev.contentHash === e.fileHash));
        report.documents++;
        report.chunks += e.built.chunks.length;
        report.rows_migrated += e.built.rowsUsed;
        p.documents++;
        p.chunks += e.built.chunks.length;
        if (same) {
          report.unchanged_documents++;
          p.unchanged++;
        } else toWrite.push(e);
      }
      if (toWrite.length > 0) {
        const vectors = await fillVectors(
          embedder,
          toWrite.map((e) => e.built),
          dryRun,
          options.signal,
        );
        for (const e of toWrite) {
          const failure = vectors.rejected.get(e.built.doc.doc_id);
          if (!failure) continue;
          const p = plan(e.legacy.userId);
          report.documents--;
          report.chunks -= e.built.chunks.length;
          report.rows_migrated -= e.built.rowsUsed;
          p.documents--;
          p.chunks -= e.built.chunks.length;
          for (const r of e.legacy.rows) skip(report.skipped, "embedding_rejected", r);
          report.problems.push(failure.error.replace(e.built.doc.doc_id, e.legacy.key));
        }
        const accepted = toWrite.filter((e) => !vectors.rejected.has(e.built.doc.doc_id));
        report.vectors_kept += vectors.kept;
        report.reembedded += vectors.embedded;
        report.written_documents += accepted.length;
        for (const e of accepted) plan(e.legacy.userId).written++;
        if (writer && accepted.length > 0) {
          await writer.write(
            sourceName,
            accepted.map((e) => ({
              userId: e.legacy.userId,
              doc: e.built.doc,
              chunks: e.built.chunks,
              state: e.state,
            })),
            batchNo++,
          );
        }
      }
      done += group.length;
      if (writer && journal) {
        journal.setMeta(
          checkpointKey,
          JSON.stringify({ version: reader.version, docs_done: done, finished: false } satisfies Checkpoint),
        );
      }
      options.onProgress?.({ done, total: all.length });
    }
    if (writer && journal) {
      await writer.finish();
      journal.setMeta(
        checkpointKey,
        JSON.stringify({ version: reader.version, docs_done: done, finished: true } satisfies Checkpoint),
      );
    }
    report.per_user = [...perUser.values()].filter((p) => p.documents > 0);
    report.users = report.per_user.length;
    report.duration_ms = Math.round(performance.now() - t0);
    return report;
  } finally {
    keeper?.release();
    reader.close();
  }
}

/** One legacy document of a batch, built, with its journal state (and its file's hash under `--root`). */
interface Entry {
  legacy: LegacyDocument;
  built: BuiltDocument;
  state: ItemState;
  fileHash?: string;
}

/** The rows' owner: every user, one user, or one user for every row. */
type UserScope =
  | { mode: "all"; label: string }
  | { mode: "user"; userId: string; label: string }
  | { mode: "assign"; userId: string; label: string };

function userScope(options: MigrateOptions): UserScope {
  const given = [options.allUsers === true, options.userId !== undefined, options.assignUser !== undefined];
  if (given.filter(Boolean).length !== 1) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      "give exactly one of --all-users, --user <id> and --assign-user <id>",
    );
  }
  if (options.allUsers) return { mode: "all", label: "all" };
  if (options.userId !== undefined) {
    const userId = validateId("user id", options.userId);
    return { mode: "user", userId, label: `user:${userId}` };
  }
  const userId = validateId("user id", options.assignUser as string);
  return { mode: "assign", userId, label: `assign:${userId}` };
}

function readCheckpoint(journal: Journal | undefined, key: string): Checkpoint | undefined {
  const raw = journal?.getMeta(key);
  if (raw === undefined) return undefined;
  try {
    const c = JSON.parse(raw) as Checkpoint;
    return Number.isInteger(c.version) ? c : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `local_filesystem` key of a legacy document under `root`: a relative name is resolved under it, an
 * absolute path inside it kept, one outside it replaced by its base name under it. Undefined when the result
 * lies outside the root (`../` in the name).
 */
function rootKey(root: string, legacyKey: string): string | undefined {
  const rel = isAbsolute(legacyKey)
    ? legacyKey === root || legacyKey.startsWith(root + sep)
      ? relative(root, legacyKey)
      : basename(legacyKey)
    : legacyKey;
  const abs = resolve(root, rel);
  if (abs === root || !abs.startsWith(root + sep)) return undefined;
  return toKey(abs);
}

/**
 * The journal state of a built document. Without a root: fingerprint and content hash are the legacy hash. With
 * one: a file that exists gives its own hash and fingerprint (the next sync reads nothing) unless it is newer
 * than the legacy rows (then the legacy hash and no fingerprint: the next sync reads it, sees other content,
 * and re-processes it); a missing file keeps the legacy hash with no fingerprint (a deletion candidate).
 */
async function itemState(
  built: BuiltDocument,
  root: { found: number; newer: number; missing: number } | null | undefined,
): Promise<{ state: ItemState; fileHash?: string }> {
  const state: ItemState = {
    key: built.doc.item_key,
    docId: built.doc.doc_id,
    fingerprint: built.legacyHash,
    contentHash: built.legacyHash,
    status: "synced",
  };
  if (!root) return { state };
  const st = await lstat(built.doc.item_key).catch(() => undefined);
  if (!st?.isFile()) {
    root.missing++;
    return { state: { ...state, fingerprint: "" } };
  }
  const bytes = await readFile(built.doc.item_key);
  const fileHash = hashContent(bytes);
  if (built.newest !== null && st.mtimeMs > Date.parse(built.newest) + 1000) {
    root.newer++;
    return { state: { ...state, fingerprint: "" }, fileHash };
  }
  root.found++;
  built.doc.content_hash = fileHash;
  built.doc.size_bytes = bytes.length;
  built.doc.modified_at = new Date(st.mtimeMs).toISOString();
  return { state: { ...state, fingerprint: fingerprintOf(st), contentHash: fileHash }, fileHash };
}

/**
 * Sets every chunk's vector: the kept legacy one, else the configured embedder's (texts rejected by the
 * embedder fail their document alone, see `embedMisses`). A dry run embeds nothing and only counts.
 */
async function fillVectors(
  embedder: Embedder,
  built: readonly BuiltDocument[],
  dryRun: boolean,
  signal: AbortSignal | undefined,
): Promise<{ kept: number; embedded: number; rejected: Map<string, ItemFailure> }> {
  const texts = new Map<string, string>();
  let kept = 0;
  for (const b of built) {
    for (const c of b.chunks) {
      if (b.legacyVectors.has(c.ordinal)) kept++;
      else texts.set(c.text_hash, c.text);
    }
  }
  const rejected = new Map<string, ItemFailure>();
  if (dryRun) {
    const embedded = built.reduce((n, b) => n + b.chunks.length, 0) - kept;
    return { kept, embedded, rejected };
  }
  const vectors = new Map<string, Float32Array>();
  // Rejections are keyed by item key in `embedMisses`; documents of several users may share one, so each
  // document goes in under its (unique) doc id.
  const rows = {
    upserts: built.map((b) => ({ doc: { ...b.doc, item_key: b.doc.doc_id }, chunks: b.chunks })),
    replaceDocIds: [],
    states: [],
    texts,
  };
  await embedMisses(embedder, rows, [...texts.keys()], vectors, rejected, signal);
  let embedded = 0;
  for (const b of built) {
    if (rejected.has(b.doc.doc_id)) continue;
    for (const c of b.chunks) {
      const legacy = b.legacyVectors.get(c.ordinal);
      if (legacy) c.vector = legacy;
      else {
        c.vector = vectors.get(c.text_hash) as Float32Array;
        embedded++;
      }
    }
  }
  return { kept: kept - keptOfRejected(built, rejected), embedded, rejected };
}

function keptOfRejected(built: readonly BuiltDocument[], rejected: Map<string, ItemFailure>): number {
  let n = 0;
  for (const b of built) if (rejected.has(b.doc.doc_id)) n += b.legacyVectors.size;
  return n;
}

/** Writes batches with the sync's protocol, under the writer lock, refusing a store replaced meanwhile. */
interface Writer {
  /** Writes documents of any users in one store batch (their journal items per user, around it). */
  write(
    sourceName: string,
    docs: ReadonlyArray<{ userId: string; doc: DocumentRow; chunks: ChunkRow[]; state: ItemState }>,
    batch: number,
  ): Promise<void>;
  finish(): Promise<void>;
}

async function openWriter(deps: MigrateDeps, signal: AbortSignal | undefined): Promise<Writer> {
  const ctx = deps.ctx as AppContext;
  const { journal } = ctx;
  const { epoch } = await ctx.checkStore();
  const store: DocumentStore = await ctx.openStore();
  const storeWasEmpty = await store.isEmpty();
  const hook = crashHook(ctx.config);
  let wrote = false;
  const exclusive = <T>(fn: () => Promise<T>) =>
    ctx.withWriterLock(
      "migrate",
      async () => {
        if (journal.storeEpoch() !== epoch) {
          throw new SyncError(
            "SYNC_E_STORE_CHANGED",
            "the store was reset or replaced while migrating; nothing of this batch was written: run migrate again",
          );
        }
        return fn();
      },
      signal,
    );
  return {
    async write(sourceName, docs, batch) {
      const byUser = new Map<string, ItemState[]>();
      for (const d of docs) {
        const list = byUser.get(d.userId) ?? [];
        list.push(d.state);
        byUser.set(d.userId, list);
      }
      await exclusive(async () => {
        for (const [userId, states] of byUser) {
          journal.markPending(
            userId,
            sourceName,
            states.map((st) => ({ key: st.key, docId: st.docId })),
          );
        }
        hook?.("pending-marked", batch);
        await store.applyBatch({
          upserts: docs.map((d) => ({ doc: d.doc, chunks: d.chunks })),
          replaceDocIds: storeWasEmpty ? [] : docs.map((d) => d.doc.doc_id),
          deleteDocIds: [],
        });
        hook?.("batch-applied", batch);
        for (const [userId, states] of byUser) {
          journal.commitItems(userId, sourceName, states, []);
          journal.clearFailures(
            userId,
            sourceName,
            states.map((st) => st.key),
          );
        }
        hook?.("batch-committed", batch);
      });
      wrote = true;
    },
    async finish() {
      if (!wrote) return;
      await ctx.recordStore();
      try {
        await exclusive(async () => store.maintain?.());
      } catch (err) {
        ctx.logger.warn({ err: describeError(err) }, "index maintenance after migrate failed; lookups scan");
      }
    },
  };
}

/**
 * Registers (once per user) the target source, or checks that an existing one can take the documents; outside a
 * dry run, holds the source's run lock until {@link release}, so that no sync of it runs meanwhile.
 */
class SourceKeeper {
  private readonly done = new Set<string>();
  private readonly locks: HeldLock[] = [];

  constructor(
    private readonly deps: MigrateDeps,
    private readonly target: {
      sourceName: string;
      sourceType: string;
      from: string;
      table: string;
      root: string | undefined;
      dryRun: boolean;
    },
  ) {}

  async ensure(userId: string, signal: AbortSignal | undefined): Promise<void> {
    if (this.done.has(userId)) return;
    this.done.add(userId);
    const { sourceName: name, sourceType: type, root, dryRun } = this.target;
    const journal = this.deps.journal;
    if (!dryRun && journal) {
      const { config } = this.deps;
      this.locks.push(
        await acquireLock(journal, runLockName(userId, name), {
          purpose: `migrate into ${userId}/${name}`,
          leaseMs: config.lockLeaseSeconds * 1000,
          waitMs: config.lockWaitSeconds * 1000,
          busyCode: "SYNC_E_SOURCE_BUSY",
          signal,
        }),
      );
    }
    const existing = journal?.getSource(userId, name);
    if (existing && existing.type !== type) throw retypeError({ userId, name, type }, existing.type);
    let config: Record<string, unknown>;
    if (root !== undefined) {
      if (existing) {
        const roots = localFilesystemConfig(existing).watch_paths.map((p) => canonicalRoot(p, "/"));
        if (!sameRoots(roots, [root])) {
          throw new SyncError(
            "SYNC_E_INVALID_ARGUMENT",
            `source "${name}" of user "${userId}" syncs ${roots.join(", ")}, not ${root}: choose another --source`,
          );
        }
        return;
      }
      const others = (journal?.listSources(userId) ?? []).filter(
        (s: SourceRecord) => s.type === "local_filesystem",
      );
      config = localFilesystemType.normalizeConfig(
        { watch_paths: [root] },
        { userId, sourceId: name, others },
      );
    } else {
      if (existing) return;
      config = { from: this.target.from, table: this.target.table };
    }
    if (dryRun || !journal) return;
    journal.upsertSource({ userId, name, type, config });
  }

  /** Releases the run locks taken by {@link ensure}. */
  release(): void {
    for (const l of this.locks.splice(0)) l.release();
  }
}
