import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { StatusReport } from "../app/collect-status.js";
import type { SyncSystem, SyncSystemEvents } from "../app/sync-system.js";
import type { SyncServiceView } from "../service/service-types.js";

/** The five service gauges of the original design (`/api/v1/status` `metrics`, and on `/metrics`). */
export interface ServiceGauges {
  /** Runs running or queued. */
  pending_syncs: number;
  /** Items whose last sync failed (failure records). */
  failed_syncs: number;
  local_db_available: 0 | 1;
  /** 1 when a backup target is configured and answered the last backup (or none was tried yet). */
  s3_sync_available: 0 | 1;
  /** Sources with a live schedule or watcher. */
  sources_monitored: number;
}

/**
 * The service gauges from a status report (the whole store's, or one user's when `userId` is given: then the
 * runs and monitored sources are that user's too).
 */
export function serviceGauges(
  report: StatusReport,
  service: SyncServiceView,
  userId?: string,
): ServiceGauges {
  const activity = service.queue.activity(userId);
  const monitored = service.sourcesMonitored(userId);
  return {
    pending_syncs: activity.running.length + activity.queued.length,
    failed_syncs: report.failed,
    local_db_available: report.local_db_available ? 1 : 0,
    s3_sync_available: report.backup?.configured && report.backup.s3_sync_available !== 0 ? 1 : 0,
    sources_monitored: monitored,
  };
}

/** The Prometheus metrics of one API app (see {@link createApiMetrics}). */
export interface ApiMetrics {
  readonly registry: Registry;
  /** Refreshes the scrape-time gauges and renders every metric in the Prometheus text format. */
  render(): Promise<string>;
  /** Stops listening to the system's events. */
  close(): void;
}

const ITEM_RESULTS = ["added", "updated", "moved", "deleted", "unchanged"] as const;

/**
 * Metrics in an app-local registry (several apps may live in one process): the service gauges and table
 * health (`lancedb_sync_table_rows|versions|fragments{table}`), collected at scrape time; item, chunk and run
 * counters and the run duration histogram, fed by the system's run events; Node's default metrics (event-loop
 * lag, memory, GC). Call {@link ApiMetrics.close} when the app closes.
 */
export function createApiMetrics(system: SyncSystem, service: SyncServiceView): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const gauges = {
    pending_syncs: gauge("pending_syncs", "Sync runs running or queued."),
    failed_syncs: gauge("failed_syncs", "Items whose last sync failed (failure records)."),
    local_db_available: gauge("local_db_available", "1 when the local LanceDB could be read at scrape time."),
    s3_sync_available: gauge(
      "s3_sync_available",
      "1 when a backup target is configured and answered the last backup (0: none configured, or unreachable).",
    ),
    sources_monitored: gauge("sources_monitored", "Sources with a live schedule or watcher."),
  };
  const backupGauges = {
    pending: gauge(
      "lancedb_sync_backup_pending_versions",
      "Table versions committed since the newest complete snapshot.",
    ),
    age: gauge(
      "lancedb_sync_backup_recovery_point_age_seconds",
      "Age of the newest complete snapshot (-1: none).",
    ),
    lastOk: gauge(
      "lancedb_sync_backup_last_success",
      "1 when the last backup attempt succeeded (-1: none yet).",
    ),
    lastBytes: gauge("lancedb_sync_backup_last_bytes_uploaded", "Bytes the last successful backup uploaded."),
  };
  const tableRows = gauge("lancedb_sync_table_rows", "Rows of a LanceDB table.", ["table"]);
  const tableVersions = gauge("lancedb_sync_table_versions", "Versions a LanceDB table keeps.", ["table"]);
  const tableFragments = gauge("lancedb_sync_table_fragments", "Fragments of a LanceDB table.", ["table"]);
  const items = new Counter({
    name: "lancedb_sync_items_processed_total",
    help: "Items processed by sync runs, by result.",
    labelNames: ["source_type", "result"],
    registers: [registry],
  });
  const itemsFailed = new Counter({
    name: "lancedb_sync_items_failed_total",
    help: "Items whose processing failed in a sync run.",
    labelNames: ["source_type"],
    registers: [registry],
  });
  const chunksEmbedded = new Counter({
    name: "lancedb_sync_chunks_embedded_total",
    help: "Chunks embedded (embedding cache misses).",
    registers: [registry],
  });
  const chunksReused = new Counter({
    name: "lancedb_sync_chunks_reused_total",
    help: "Chunks whose vector was reused from the embedding cache.",
    registers: [registry],
  });
  const runs = new Counter({
    name: "lancedb_sync_runs_total",
    help: "Sync runs that finished, by kind and outcome.",
    labelNames: ["kind", "status"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "lancedb_sync_run_duration_seconds",
    help: "Duration of sync runs that finished.",
    labelNames: ["source_type", "kind"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers: [registry],
  });

  const kinds = new Map<string, string>();
  const onStarted = (e: SyncSystemEvents["run-started"][0]) => {
    kinds.set(e.jobId, e.kind);
  };
  const onFinished = (e: SyncSystemEvents["run-finished"][0]) => {
    kinds.delete(e.jobId);
    const r = e.result;
    for (const result of ITEM_RESULTS) {
      if (r[result] > 0) items.inc({ source_type: r.source_type, result }, r[result]);
    }
    if (r.failed > 0) itemsFailed.inc({ source_type: r.source_type }, r.failed);
    chunksEmbedded.inc(r.embedded_chunks);
    chunksReused.inc(r.reused_chunks);
    runs.inc({ kind: r.kind, status: "succeeded" });
    duration.observe({ source_type: r.source_type, kind: r.kind }, r.duration_ms / 1000);
  };
  const onFailed = (e: SyncSystemEvents["run-failed"][0]) => {
    runs.inc({ kind: kinds.get(e.jobId) ?? "full", status: "failed" });
    kinds.delete(e.jobId);
  };
  system.events.on("run-started", onStarted);
  system.events.on("run-finished", onFinished);
  system.events.on("run-failed", onFailed);

  return {
    registry,
    async render() {
      const report = await system.status();
      const values = serviceGauges(report, service);
      for (const [name, g] of Object.entries(gauges)) g.set(values[name as keyof ServiceGauges]);
      const b = report.backup;
      backupGauges.pending.set(b?.pending_syncs ?? 0);
      backupGauges.age.set(b?.recovery_point?.age_seconds ?? -1);
      backupGauges.lastOk.set(b?.last_backup ? (b.last_backup.ok ? 1 : 0) : -1);
      backupGauges.lastBytes.set(b?.last_backup?.ok ? b.last_backup.bytes_uploaded : 0);
      for (const g of [tableRows, tableVersions, tableFragments]) g.reset();
      for (const t of report.tables) {
        tableRows.set({ table: t.name }, t.rows);
        tableVersions.set({ table: t.name }, t.versions);
        tableFragments.set({ table: t.name }, t.fragments);
      }
      return registry.metrics();
    },
    close() {
      system.events.off("run-started", onStarted);
      system.events.off("run-finished", onFinished);
      system.events.off("run-failed", onFailed);
      registry.clear();
    },
  };
}
