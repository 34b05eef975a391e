import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { BackupTarget } from "../backup/backup-target.js";
import type { PruneReport } from "../backup/prune-snapshots.js";
import type { VerifyReport } from "../backup/verify-snapshot.js";
import { type Config, type ConfigOptions, resolveConfig } from "../config/load-config.js";
import type { SourceRecord } from "../core/journal.js";
import type { Logger } from "../core/logger.js";
import { createSemaphore } from "../core/semaphore.js";
import { describeError, SyncError } from "../errors/sync-error.js";
import { createLogger } from "../logging/create-logger.js";
import type { SearchHit, SearchOptions } from "../search/search-chunks.js";
import type { SourceRegistry } from "../sources/registry.js";
import { validateId } from "../storage/filter.js";
import { acquireLock, type HeldLock } from "../storage/lease-lock.js";
import { type AppContext, openAppContext } from "./app-context.js";
import {
  type BackupResult,
  configuredBackupTargets,
  listBackups,
  pruneBackups,
  runBackup,
  type SnapshotSummary,
  verifyBackups,
} from "./backups.js";
import { collectStatus, type StatusReport } from "./collect-status.js";
import { type CompactResult, compactTables } from "./compact-tables.js";
import { crashHook } from "./crash-hook.js";
import {
  type DeleteResult,
  type DocumentView,
  deleteDocument,
  documentView,
  type IngestInput,
  type IngestResult,
  ingestDocument,
} from "./documents.js";
import { type MigrateOptions, type MigrateReport, migrateTable } from "./migrate.js";
import {
  handleNotionWebhook,
  type NotionWebhookInput,
  type NotionWebhookResult,
  storedNotionWebhookToken,
} from "./notion-webhook.js";
import { type DrillResult, restoreDrill } from "./restore-drill.js";
import { type RunSourceOptions, runSource, type SourceRunResult } from "./run-source.js";
import { searchDocuments } from "./search-documents.js";
import {
  type AddSourceInput,
  addSource,
  type RemoveSourceResult,
  removeSource,
  type SourceView,
  sourceView,
  type UpdateSourceInput,
  updateSource,
} from "./sources.js";

/** Options of {@link createSyncSystem}: every setting in camelCase (see `ConfigOptions`), plus collaborators. */
export interface SyncSystemOptions extends ConfigOptions {
  /** Where logs go; default: pino at `logLevel` on stderr (and `logFile`). */
  logger?: Logger;
  /** Source types; default: the built-in ones (`local_filesystem`, `upload`). */
  registry?: SourceRegistry;
  /** Where backups go (primary first, then a replica); default: the targets the config describes. */
  backupTargets?: readonly BackupTarget[];
}

/** A search of one user's documents (the CLI's `search`): query, mode, limit, filters. */
export type SearchInput = SearchOptions;

/** Options of one sync of a source. */
export interface SyncSourceOptions {
  allowMassDelete?: boolean;
  allowEmptyRoots?: boolean;
  /** A scheduled run: failed items are retried only once their backoff has passed. */
  scheduled?: boolean;
  /** A poll: a source that lists its changes since a cursor (Notion) gets a partial run over them. */
  incremental?: boolean;
  signal?: AbortSignal;
}

/** Events of a {@link SyncSystem}; `jobId` is the {@link RunTicket.jobId} of the request(s) the run serves. */
export interface SyncSystemEvents {
  /** A run began (`kind`: `full` or `changes`). */
  "run-started": [{ jobId: string; userId: string; sourceId: string; kind: RunKindName }];
  /** Items of a running run were read and processed (`done` of `total`). */
  "run-progress": [{ jobId: string; userId: string; sourceId: string; done: number; total: number }];
  "run-finished": [{ jobId: string; userId: string; sourceId: string; result: SourceRunResult }];
  "run-failed": [{ jobId: string; userId: string; sourceId: string; error: SyncError }];
}

/** `full`: a reconciliation of the whole source; `changes`: a partial run over given keys. */
export type RunKindName = "full" | "changes";

/**
 * A run requested without waiting for it: its job id (shared by every request that joined the same queued
 * run), whether it is already `running` or `queued` behind the source's run in progress, and its result.
 */
export interface RunTicket {
  jobId: string;
  userId: string;
  sourceId: string;
  kind: RunKindName;
  state: "queued" | "running";
  /** True when the request joined a run already queued (no new run was created). */
  joined: boolean;
  /** Settles with the run's result (rejects with its error); never an unhandled rejection. */
  done: Promise<SourceRunResult>;
}

/** A run in progress or queued, as {@link SyncSystem.activity} lists it (snake_case, for the API). */
export interface RunActivity {
  job_id: string;
  user_id: string;
  source_id: string;
  source_type: string;
  kind: RunKindName;
  state: "queued" | "running";
  queued_at: string;
  started_at: string | null;
  /** Items read and processed so far, of `total` (0 of 0 until the listing is done). */
  done: number;
  total: number;
  /** Keys of a partial run. */
  keys: number | null;
}

/** The whole system as a library: see {@link createSyncSystem}. */
export interface SyncSystem {
  /** The resolved configuration (frozen). */
  readonly config: Config;
  readonly events: EventEmitter<SyncSystemEvents>;
  /**
   * Makes the system ready: marks runs left `running` by a dead process `abandoned`, applies pushed documents
   * a crash left unapplied, and removes blobs no upload refers to. Idempotent.
   */
  start(): Promise<void>;
  /**
   * Stops taking work (calls then fail with `SYNC_E_SHUTTING_DOWN`), waits up to `deadlineMs` (default
   * `SHUTDOWN_TIMEOUT`) for runs in flight, then aborts the rest — their items stay `pending` and the next
   * start resumes them — and closes the journal, store and workers. Idempotent.
   */
  stop(options?: { deadlineMs?: number }): Promise<void>;
  ingestDocument(input: IngestInput): Promise<IngestResult>;
  deleteDocument(input: { userId: string; docId: string }): Promise<DeleteResult>;
  /** One user's documents, optionally of one source, ordered by source and key. */
  listDocuments(input: {
    userId: string;
    sourceId?: string;
    limit?: number;
    offset?: number;
  }): Promise<DocumentView[]>;
  /** One document of the user; `SYNC_E_NOT_FOUND` otherwise. */
  getDocument(input: { userId: string; docId: string }): Promise<DocumentView>;
  search(input: SearchInput): Promise<SearchHit[]>;
  /** The status report (per user when `userId` is given: no store-wide figures). */
  status(input?: { userId?: string }): Promise<StatusReport>;
  sources: {
    add(input: AddSourceInput): Promise<SourceView>;
    list(input?: { userId?: string }): Promise<SourceView[]>;
    get(input: { userId: string; sourceId: string }): Promise<SourceView>;
    /** Changes config, poll interval or enabled flag (see `updateSource`); the next full run applies it. */
    update(input: UpdateSourceInput): Promise<SourceView>;
    /**
     * Records a source's health as a monitor saw it (a watcher that failed, a root that vanished); the next
     * run's listing records it again.
     */
    setHealth(input: {
      userId: string;
      sourceId: string;
      healthy: boolean;
      error?: string | null;
    }): Promise<void>;
    remove(input: { userId: string; sourceId: string; keepDocuments?: boolean }): Promise<RemoveSourceResult>;
    sync(input: { userId: string; sourceId: string } & SyncSourceOptions): Promise<SourceRunResult>;
  };
  /**
   * A full run of a registered source of any type. A request for a source that is already running joins the
   * one queued after it (all such requests share its result) instead of failing.
   */
  syncSource(input: { userId: string; sourceId: string } & SyncSourceOptions): Promise<SourceRunResult>;
  /**
   * Requests a full run like {@link syncSource} without waiting for it: returns at once with the job id of the
   * run that will serve it (a new one, or the queued one it joined). Throws for an unknown source.
   */
  requestSync(input: { userId: string; sourceId: string } & SyncSourceOptions): RunTicket;
  /** Requests a partial run like {@link applyChanges} without waiting for it (see {@link requestSync}). */
  requestChanges(input: { userId: string; sourceId: string; keys: readonly string[] }): RunTicket;
  /** Runs in progress (with their progress) and queued, of every user or of one. */
  activity(input?: { userId?: string }): { running: RunActivity[]; queued: RunActivity[] };
  /**
   * Whether sources of `type` (a registered type or alias) are reconciled on a schedule (`local_filesystem`:
   * yes; `upload`: no, its documents change only through this API). `SYNC_E_INVALID_ARGUMENT` when unknown.
   */
  isScheduledType(type: string): boolean;
  /** A partial run over `keys` of a source (watch events, webhooks), queued like {@link syncSource}. */
  applyChanges(input: {
    userId: string;
    sourceId: string;
    keys: readonly string[];
  }): Promise<SourceRunResult>;
  /** Forgets failure records (all, one user's, or one source's) so the items are retried afresh; returns how many. */
  cleanupFailed(input?: { userId?: string; sourceId?: string }): Promise<number>;
  /** Compacts both tables and removes versions older than `retentionHours` (default `VERSION_RETENTION_HOURS`). */
  compact(input?: { retentionHours?: number }): Promise<CompactResult>;
  /** Notion webhooks: a delivery (see `handleNotionWebhook`), and the verification token Notion sent. */
  notionWebhook: {
    deliver(input: NotionWebhookInput): Promise<NotionWebhookResult>;
    verificationToken(): Promise<string | null>;
  };
  /**
   * Brings a LanceDB table of another application into this store (see `migrateTable`): stable ids, resumable,
   * vectors kept only under their own embedder; `dryRun` writes nothing.
   */
  migrate(options: MigrateOptions): Promise<MigrateReport>;
  /** Backups of the store and journal (see `runBackup`, `restoreDrill`); `SYNC_E_BACKUP_NOT_CONFIGURED` without a target. */
  backups: {
    /** Takes a consistent, incremental snapshot now (syncs go on meanwhile). */
    run(input?: { signal?: AbortSignal }): Promise<BackupResult>;
    /** Complete snapshots on the primary target, oldest first. */
    list(): Promise<SnapshotSummary[]>;
    /** Checks every snapshot on every target; `deep` re-reads each object and checks its SHA-256. */
    verify(input?: { deep?: boolean }): Promise<VerifyReport[]>;
    /** Deletes snapshots outside the policy and every object no kept snapshot references. */
    prune(input: { keepLast: number; keepDays: number }): Promise<PruneReport[]>;
    /** Restores a snapshot into a temporary directory and checks it (counts, checksums, a sample search). */
    drill(input?: { snapshotId?: string }): Promise<DrillResult>;
    /** The configured targets (primary first). */
    targets(): readonly BackupTarget[];
  };
}

/** Runs that wrote after which the store's handles are reopened (see `System.maybeRecycle`). */
const RECYCLE_AFTER_WRITES = 5;

/** One source's queue: the run in progress and at most one full and one partial run waiting behind it. */
interface Lane {
  busy: boolean;
  record: SourceRecord;
  /** The run in progress (undefined while busy with an exclusive task such as a remove). */
  current?: RunActivity;
  full?: Waiting<SyncSourceOptions>;
  changes?: Waiting<{ keys: Set<string>; allowMassDelete: boolean }>;
}

interface Waiting<T> {
  jobId: string;
  queuedAt: string;
  options: T;
  promise: Promise<SourceRunResult>;
  resolve: (r: SourceRunResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Creates the whole system for a host application: the journal, the store, the pipeline and every source
 * type, configured by `options` (nothing is read from the environment). Long-lived: failed store opens and
 * embedder probes are retried on the next call, one semaphore bounds processing across all runs
 * (`maxConcurrentProcessing`), runs are queued per source, writes take the store-wide writer lock (shared
 * with other processes), and run history is pruned. Call {@link SyncSystem.start} before use and
 * {@link SyncSystem.stop} when done. Throws `SYNC_E_CONFIG_INVALID` naming a bad option and its value.
 */
export function createSyncSystem(options: SyncSystemOptions = {}): SyncSystem {
  const { logger: givenLogger, registry, backupTargets, ...settings } = options;
  const config = resolveConfig(settings);
  const logger = givenLogger ?? createLogger({ level: config.logLevel, file: config.logFile });
  const ctx = openAppContext(config, logger, registry);
  return new System(ctx, true, backupTargets);
}

/**
 * A {@link SyncSystem} over an open context (the CLI's): `stop` then leaves the context open for its owner to
 * close.
 */
export function systemOn(ctx: AppContext, backupTargets?: readonly BackupTarget[]): SyncSystem {
  return new System(ctx, false, backupTargets);
}

class System implements SyncSystem {
  readonly events = new EventEmitter<SyncSystemEvents>();
  private readonly gate;
  /** Bounds searches in flight: each vector scan holds what it read, and a burst would otherwise pile up. */
  private readonly searchGate;
  private readonly lanes = new Map<string, Lane>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();
  private state: "new" | "started" | "stopping" | "stopped" = "new";
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private writesSinceRecycle = 0;
  private presence: HeldLock | undefined;

  private readonly backupTargets: readonly BackupTarget[];
  /** Releases the targets this system made from the config (not given ones). */
  private readonly closeTargets: () => void = () => undefined;

  constructor(
    private readonly ctx: AppContext,
    private readonly ownsContext: boolean,
    backupTargets?: readonly BackupTarget[],
  ) {
    if (backupTargets) this.backupTargets = backupTargets;
    else {
      const made = configuredBackupTargets(ctx.config);
      this.backupTargets = made.targets;
      this.closeTargets = made.close;
    }
    this.gate = createSemaphore(ctx.config.maxConcurrentProcessing);
    this.searchGate = createSemaphore(ctx.config.maxConcurrentSearches);
    // An "error" event without listeners would throw; run failures are also reported to the caller.
    this.events.on("run-failed", () => undefined);
  }

  get config(): Config {
    return this.ctx.config;
  }

  async start(): Promise<void> {
    this.live();
    this.starting ??= this.track(
      (async () => {
        const { journal } = this.ctx;
        // Says "this process uses the store" for as long as the system runs: a restore refuses meanwhile.
        this.presence ??= await acquireLock(journal, `process:${randomUUID()}`, {
          purpose: "a running lancedb-sync system",
          leaseMs: this.ctx.config.lockLeaseSeconds * 1000,
          waitMs: 0,
          busyCode: "SYNC_E_STORE_BUSY",
        });
        journal.abandonRuns();
        for (const s of journal.listSources()) {
          if (s.type !== "upload") continue;
          const items = journal.listItems(s.userId, s.name);
          const pending = [...items.values()].some((i) => i.status === "pending");
          const unapplied = journal
            .listUploads(s.userId, s.name)
            .some((u) => items.get(u.key)?.contentHash !== u.blobHash);
          if (pending || unapplied) {
            try {
              await this.enqueueFull(s, {}).done;
            } catch (err) {
              this.ctx.logger.warn(
                { source: s.name, err: describeError(err) },
                "could not resume pushed documents; the next sync retries",
              );
            }
          }
        }
        await this.collectBlobs();
        this.state = "started";
      })(),
    );
    return this.starting;
  }

  stop(options: { deadlineMs?: number } = {}): Promise<void> {
    if (this.stopping) return this.stopping;
    this.state = "stopping";
    const deadlineMs = options.deadlineMs ?? this.ctx.config.shutdownTimeoutSeconds * 1000;
    this.stopping = (async () => {
      const all = Promise.allSettled([...this.inflight]);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), deadlineMs);
      });
      if ((await Promise.race([all, late])) === "late") {
        this.ctx.logger.warn({ deadlineMs }, "stop: runs still in flight at the deadline are abandoned");
        this.abort.abort(new SyncError("SYNC_E_SHUTTING_DOWN", "the system is stopping"));
        await all;
      }
      clearTimeout(timer);
      for (const lane of this.lanes.values()) {
        const err = new SyncError("SYNC_E_SHUTTING_DOWN", "the system stopped before this run began");
        lane.full?.reject(err);
        lane.changes?.reject(err);
      }
      this.presence?.release();
      if (this.ownsContext) await this.ctx.close();
      this.closeTargets();
      this.state = "stopped";
    })();
    return this.stopping;
  }

  async ingestDocument(input: IngestInput): Promise<IngestResult> {
    this.live();
    return this.track(
      ingestDocument(this.ctx, input, (record, keys) => this.enqueueChanges(record, keys, false).done),
    );
  }

  async deleteDocument(input: { userId: string; docId: string }): Promise<DeleteResult> {
    this.live();
    return this.track(
      deleteDocument(
        this.ctx,
        input.userId,
        input.docId,
        (record, keys, o) => this.enqueueChanges(record, keys, o?.allowMassDelete === true).done,
      ),
    );
  }

  async listDocuments(input: {
    userId: string;
    sourceId?: string;
    limit?: number;
    offset?: number;
  }): Promise<DocumentView[]> {
    this.live();
    const userId = validateId("user id", input.userId);
    if (input.sourceId !== undefined) validateId("source id", input.sourceId);
    return this.track(
      (async () => {
        const store = await this.ctx.openStore();
        const rows = await store.listUserDocuments(userId, {
          sourceId: input.sourceId,
          limit: input.limit,
          offset: input.offset,
        });
        return rows.map(documentView);
      })(),
    );
  }

  async getDocument(input: { userId: string; docId: string }): Promise<DocumentView> {
    this.live();
    const userId = validateId("user id", input.userId);
    const docId = validateId("document id", input.docId);
    const doc = await this.track((async () => (await this.ctx.openStore()).getDocument(userId, docId))());
    if (!doc) throw new SyncError("SYNC_E_NOT_FOUND", `user "${userId}" has no document ${docId}`);
    return documentView(doc);
  }

  async search(input: SearchInput): Promise<SearchHit[]> {
    this.live();
    return this.track(this.searchGate(() => searchDocuments(this.ctx, input)));
  }

  async status(input: { userId?: string } = {}): Promise<StatusReport> {
    this.live();
    return this.track(collectStatus(this.ctx, input.userId, this.backupTargets.length > 0));
  }

  readonly sources = {
    add: async (input: AddSourceInput): Promise<SourceView> => {
      this.live();
      return addSource(this.ctx, input);
    },
    list: async (input: { userId?: string } = {}): Promise<SourceView[]> => {
      this.live();
      if (input.userId !== undefined) validateId("user id", input.userId);
      return this.ctx.journal
        .listSources(input.userId)
        .map((r) => sourceView(r, this.ctx.config.defaultPollIntervalSeconds));
    },
    get: async (input: { userId: string; sourceId: string }): Promise<SourceView> => {
      this.live();
      return sourceView(
        this.record(input.userId, input.sourceId),
        this.ctx.config.defaultPollIntervalSeconds,
      );
    },
    update: async (input: UpdateSourceInput): Promise<SourceView> => {
      this.live();
      return updateSource(this.ctx, input);
    },
    setHealth: async (input: {
      userId: string;
      sourceId: string;
      healthy: boolean;
      error?: string | null;
    }): Promise<void> => {
      this.live();
      const record = this.record(input.userId, input.sourceId);
      this.ctx.journal.setSourceHealth(record.userId, record.name, input.healthy, input.error ?? null);
    },
    remove: async (input: {
      userId: string;
      sourceId: string;
      keepDocuments?: boolean;
    }): Promise<RemoveSourceResult> => {
      this.live();
      const record = this.record(input.userId, input.sourceId);
      return this.track(
        this.exclusiveLane(record, async () => {
          const removed = await removeSource(this.ctx, record, input.keepDocuments === true);
          this.lanes.delete(laneKey(record));
          await this.collectBlobs();
          return removed;
        }),
      );
    },
    sync: async (input: { userId: string; sourceId: string } & SyncSourceOptions) => this.syncSource(input),
  };

  async syncSource(
    input: { userId: string; sourceId: string } & SyncSourceOptions,
  ): Promise<SourceRunResult> {
    return this.requestSync(input).done;
  }

  requestSync(input: { userId: string; sourceId: string } & SyncSourceOptions): RunTicket {
    this.live();
    const { userId, sourceId, ...options } = input;
    return this.enqueueFull(this.record(userId, sourceId), options);
  }

  async applyChanges(input: {
    userId: string;
    sourceId: string;
    keys: readonly string[];
  }): Promise<SourceRunResult> {
    return this.requestChanges(input).done;
  }

  requestChanges(input: { userId: string; sourceId: string; keys: readonly string[] }): RunTicket {
    this.live();
    if (!Array.isArray(input.keys) || input.keys.some((k) => typeof k !== "string" || k === "")) {
      throw new SyncError("SYNC_E_INVALID_ARGUMENT", "keys: expected a list of item keys");
    }
    return this.enqueueChanges(this.record(input.userId, input.sourceId), input.keys, false);
  }

  activity(input: { userId?: string } = {}): { running: RunActivity[]; queued: RunActivity[] } {
    const running: RunActivity[] = [];
    const queued: RunActivity[] = [];
    for (const lane of this.lanes.values()) {
      if (input.userId !== undefined && lane.record.userId !== input.userId) continue;
      if (lane.current) running.push({ ...lane.current });
      if (lane.changes)
        queued.push(this.queuedView(lane, lane.changes, "changes", lane.changes.options.keys.size));
      if (lane.full) queued.push(this.queuedView(lane, lane.full, "full", null));
    }
    return { running, queued };
  }

  isScheduledType(type: string): boolean {
    return this.ctx.registry.get(type).scheduled;
  }

  async cleanupFailed(input: { userId?: string; sourceId?: string } = {}): Promise<number> {
    this.live();
    if (input.userId !== undefined) validateId("user id", input.userId);
    if (input.sourceId !== undefined) {
      validateId("source id", input.sourceId);
      if (input.userId === undefined) throw new SyncError("SYNC_E_INVALID_ARGUMENT", "sourceId needs userId");
    }
    return this.ctx.journal.cleanupFailures(input.userId, input.sourceId);
  }

  async compact(input: { retentionHours?: number } = {}): Promise<CompactResult> {
    this.live();
    return this.track(compactTables(this.ctx, input.retentionHours ?? this.ctx.config.versionRetentionHours));
  }

  readonly notionWebhook = {
    deliver: async (input: NotionWebhookInput): Promise<NotionWebhookResult> => {
      this.live();
      return handleNotionWebhook(this.ctx, input, (record, keys) => {
        this.enqueueChanges(record, keys, false);
      });
    },
    verificationToken: async (): Promise<string | null> => storedNotionWebhookToken(this.ctx),
  };
  async migrate(options: MigrateOptions): Promise<MigrateReport> {
    this.live();
    const signal = options.signal ? AbortSignal.any([options.signal, this.abort.signal]) : this.abort.signal;
    return this.track(migrateTable(this.ctx, { ...options, signal }));
  }
  readonly backups = {
    run: async (input: { signal?: AbortSignal } = {}): Promise<BackupResult> => {
      this.live();
      const signal = input.signal ? AbortSignal.any([input.signal, this.abort.signal]) : this.abort.signal;
      return this.track(
        runBackup(this.ctx, this.backupTargets, { signal, onStep: crashHook(this.ctx.config) }),
      );
    },
    list: async (): Promise<SnapshotSummary[]> => {
      this.live();
      return this.track(listBackups(this.backupTargets));
    },
    verify: async (input: { deep?: boolean } = {}): Promise<VerifyReport[]> => {
      this.live();
      return this.track(verifyBackups(this.ctx, this.backupTargets, { deep: input.deep === true }));
    },
    prune: async (input: { keepLast: number; keepDays: number }): Promise<PruneReport[]> => {
      this.live();
      return this.track(pruneBackups(this.ctx, this.backupTargets, input));
    },
    drill: async (input: { snapshotId?: string } = {}): Promise<DrillResult> => {
      this.live();
      return this.track(restoreDrill(this.ctx.config, this.backupTargets, this.ctx.logger, input));
    },
    targets: (): readonly BackupTarget[] => this.backupTargets,
  };

  /** Throws `SYNC_E_SHUTTING_DOWN` once `stop` was called. */
  private live(): void {
    if (this.state === "stopping" || this.state === "stopped") {
      throw new SyncError("SYNC_E_SHUTTING_DOWN", "the sync system is stopping or stopped");
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => {
      this.inflight.delete(p);
      if (this.inflight.size === 0) void this.maybeRecycle();
    };
    p.then(done, done);
    return p;
  }

  /**
   * LanceDB's table handles keep native memory that grows with every commit they see: after
   * {@link RECYCLE_AFTER_WRITES} runs that wrote, the handles are reopened, at a moment nothing uses them.
   */
  private async maybeRecycle(): Promise<void> {
    if (this.writesSinceRecycle === 0 || this.state !== "started") return;
    // LanceDB's JavaScript wrappers hold native memory V8 does not see: when the host exposes the collector
    // (`node --expose-gc`), collect once the system is idle after a run that wrote.
    const gc = (globalThis as { gc?: () => void }).gc;
    if (this.writesSinceRecycle < RECYCLE_AFTER_WRITES) {
      gc?.();
      return;
    }
    this.writesSinceRecycle = 0;
    try {
      await this.ctx.recycleStore();
      gc?.();
    } catch (err) {
      this.ctx.logger.warn({ err: describeError(err) }, "could not reopen the store handles");
    }
  }

  private record(userIdIn: string, sourceIdIn: string): SourceRecord {
    const userId = validateId("user id", userIdIn);
    const sourceId = validateId("source id", sourceIdIn);
    const record = this.ctx.journal.getSource(userId, sourceId);
    if (!record) throw new SyncError("SYNC_E_NOT_FOUND", `user "${userId}" has no source "${sourceId}"`);
    return record;
  }

  private lane(record: SourceRecord): Lane {
    const key = laneKey(record);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { busy: false, record };
      this.lanes.set(key, lane);
    }
    lane.record = record;
    return lane;
  }

  private enqueueFull(record: SourceRecord, options: SyncSourceOptions): RunTicket {
    const lane = this.lane(record);
    if (lane.full) {
      // Joins the queued run; a request that allows more (mass deletes, empty roots) widens it.
      const o = lane.full.options;
      o.allowMassDelete ||= options.allowMassDelete;
      o.allowEmptyRoots ||= options.allowEmptyRoots;
      o.scheduled &&= options.scheduled;
      o.incremental &&= options.incremental;
      return this.ticket(record, lane.full, "full", true);
    }
    const queued = waiting<SyncSourceOptions>({ ...options });
    lane.full = queued;
    this.track(queued.promise);
    this.pump(record);
    return this.ticket(record, queued, "full", false);
  }

  private enqueueChanges(record: SourceRecord, keys: readonly string[], allowMassDelete: boolean): RunTicket {
    const lane = this.lane(record);
    if (lane.changes) {
      for (const k of keys) lane.changes.options.keys.add(k);
      lane.changes.options.allowMassDelete ||= allowMassDelete;
      return this.ticket(record, lane.changes, "changes", true);
    }
    const queued = waiting({ keys: new Set(keys), allowMassDelete });
    lane.changes = queued;
    this.track(queued.promise);
    this.pump(record);
    return this.ticket(record, queued, "changes", false);
  }

  private ticket(record: SourceRecord, w: Waiting<unknown>, kind: RunKindName, joined: boolean): RunTicket {
    const lane = this.lane(record);
    return {
      jobId: w.jobId,
      userId: record.userId,
      sourceId: record.name,
      kind,
      state: lane.current?.job_id === w.jobId ? "running" : "queued",
      joined,
      done: w.promise,
    };
  }

  private queuedView(lane: Lane, w: Waiting<unknown>, kind: RunKindName, keys: number | null): RunActivity {
    return {
      job_id: w.jobId,
      user_id: lane.record.userId,
      source_id: lane.record.name,
      source_type: lane.record.type,
      kind,
      state: "queued",
      queued_at: w.queuedAt,
      started_at: null,
      done: 0,
      total: 0,
      keys,
    };
  }

  /** Runs `fn` as the only thing happening on the source's lane (after the run in progress, before queued ones). */
  private async exclusiveLane<T>(record: SourceRecord, fn: () => Promise<T>): Promise<T> {
    const lane = this.lane(record);
    while (lane.busy) await new Promise((r) => setTimeout(r, 20));
    lane.busy = true;
    try {
      return await fn();
    } finally {
      lane.busy = false;
      this.pump(record);
    }
  }

  /** Starts the next queued run of a source when none is running: partial runs first (they are small). */
  private pump(record: SourceRecord): void {
    const lane = this.lane(record);
    if (lane.busy) return;
    const next = lane.changes ?? lane.full;
    if (!next) return;
    const isChanges = next === lane.changes;
    if (isChanges) lane.changes = undefined;
    else lane.full = undefined;
    lane.busy = true;
    const keyCount = isChanges ? (next.options as { keys: Set<string> }).keys.size : null;
    lane.current = {
      ...this.queuedView(lane, next, isChanges ? "changes" : "full", keyCount),
      state: "running",
      started_at: new Date().toISOString(),
    };
    const options: RunSourceOptions = isChanges
      ? {
          keys: [...(next.options as { keys: Set<string> }).keys],
          allowMassDelete: (next.options as { allowMassDelete: boolean }).allowMassDelete,
        }
      : { ...(next.options as SyncSourceOptions) };
    this.execute(record, next.jobId, options)
      .then(next.resolve, next.reject)
      .finally(() => {
        lane.busy = false;
        lane.current = undefined;
        this.pump(record);
      });
  }

  private async execute(
    record: SourceRecord,
    jobId: string,
    options: RunSourceOptions,
  ): Promise<SourceRunResult> {
    const ids = { jobId, userId: record.userId, sourceId: record.name };
    const kind = options.keys ? "changes" : "full";
    this.events.emit("run-started", { ...ids, kind });
    try {
      // Work accepted before `stop` still runs (until the deadline aborts it); `stop` rejects what is new.
      this.abort.signal.throwIfAborted();
      // The record may have changed since the request (config edited, source removed).
      const current = this.ctx.journal.getSource(record.userId, record.name);
      if (!current)
        throw new SyncError("SYNC_E_NOT_FOUND", `user "${record.userId}" has no source "${record.name}"`);
      await this.ctx.checkEmbedder();
      const signal = options.signal
        ? AbortSignal.any([options.signal, this.abort.signal])
        : this.abort.signal;
      const result = await runSource(this.ctx, current, this.ctx.sourceOf(current), {
        ...options,
        gate: this.gate,
        signal,
        leaseWaitMs: this.ctx.config.lockWaitSeconds * 1000,
        onProgress: (p) => {
          const lane = this.lanes.get(laneKey(record));
          if (lane?.current?.job_id === jobId) {
            lane.current.done = p.done;
            lane.current.total = p.total;
          }
          this.events.emit("run-progress", { ...ids, ...p });
        },
      });
      this.events.emit("run-finished", { ...ids, result });
      if (result.added + result.updated + result.moved + result.deleted + result.repaired > 0) {
        this.writesSinceRecycle++;
      }
      if (current.type === "upload" && result.deleted + result.updated > 0) await this.collectBlobs();
      return result;
    } catch (err) {
      const error =
        err instanceof SyncError ? err : new SyncError("SYNC_E_INTERNAL", describeError(err), { cause: err });
      this.events.emit("run-failed", { ...ids, error });
      throw err;
    }
  }

  /** Removes blobs no upload refers to (older than the grace period, so in-flight ingests keep theirs). */
  private async collectBlobs(): Promise<void> {
    try {
      await this.ctx.blobs.gc(this.ctx.journal.referencedBlobs());
    } catch (err) {
      this.ctx.logger.warn({ err: describeError(err) }, "blob clean-up failed; it is retried later");
    }
  }
}

function laneKey(record: SourceRecord): string {
  return `${record.userId}\0${record.name}`;
}

let jobCounter = 0;

/** A job id unique in this process and across restarts (time-ordered, then a counter). */
function newJobId(): string {
  jobCounter = (jobCounter + 1) % 1_000_000;
  return `job_${Date.now().toString(36)}_${process.pid.toString(36)}_${jobCounter.toString(36)}`;
}

function waiting<T>(options: T): Waiting<T> {
  let resolve!: (r: SourceRunResult) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<SourceRunResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { jobId: newJobId(), queuedAt: new Date().toISOString(), options, promise, resolve, reject };
}
