/**
 * lancedb-sync as a library: `createSyncSystem(options)` gives a host application the whole system — sources
 * as records, incremental syncs, pushed documents, search and status — configured by typed options in
 * camelCase (nothing is read from the environment).
 *
 * The original design's integration service maps onto it: `get_integration_service()` is
 * `createSyncSystem(options)` plus `start()`; `process_document(user_id, file_data, filename)` is
 * `ingestDocument({ userId, bytes, filename })`; `cleanup_failed_syncs()` is `cleanupFailed()`.
 */

export { ApiKeyStore, type ApiKeyView, type CreatedApiKey, type Principal } from "./api/api-keys.js";
export { type ApiAppOptions, createApiApp } from "./api/create-api-app.js";
export type { BackupStatus } from "./app/backup-status.js";
export type { BackupResult, SnapshotSummary } from "./app/backups.js";
export type { StatusReport } from "./app/collect-status.js";
export type { CompactResult } from "./app/compact-tables.js";
export type { DeleteResult, IngestInput, IngestResult } from "./app/documents.js";
export type { MigrateOptions, MigrateReport, MigrateUserPlan } from "./app/migrate.js";
export { type RestoreOptions, type RestoreResult, restoreBackup } from "./app/restore-backup.js";
export type { DrillResult } from "./app/restore-drill.js";
export type { SourceRunResult } from "./app/run-source.js";
export type { AddSourceInput, RemoveSourceResult, SourceView, UpdateSourceInput } from "./app/sources.js";
export {
  createSyncSystem,
  type RunActivity,
  type RunTicket,
  type SearchInput,
  type SyncSourceOptions,
  type SyncSystem,
  type SyncSystemEvents,
  type SyncSystemOptions,
} from "./app/sync-system.js";
export type { BackupTarget } from "./backup/backup-target.js";
export { type Config, type ConfigOptions, resolveConfig } from "./config/load-config.js";
export type { DocumentRow } from "./core/document-store.js";
export type { Logger } from "./core/logger.js";
export type { FetchedItem, Source, SourceItemRef, SourceListing } from "./core/source.js";
export { ERROR_CODES, type ErrorCode } from "./errors/codes.js";
export { isSyncError, SyncError } from "./errors/sync-error.js";
export type { SearchHit } from "./search/search-chunks.js";
export { createInProcessQueue } from "./service/in-process-queue.js";
export type {
  JobRecord,
  JobTicket,
  RunReason,
  RunRequest,
  SourceMonitorState,
  SyncServiceView,
  WorkQueue,
} from "./service/service-types.js";
export { createSyncService, type SyncService, type SyncServiceOptions } from "./service/sync-service.js";
export { defaultRegistry } from "./sources/default-registry.js";
export { createNotionType, type NotionTypeOptions, notionType } from "./sources/notion/notion-type.js";
export { SourceRegistry, type SourceType, type SourceTypeContext } from "./sources/registry.js";
