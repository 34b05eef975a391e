/**
 * Numbered, append-only schema migrations of the SQLite journal. Migration N moves `user_version` from N-1
 * to N inside one transaction; never edit a released migration, add a new one.
 */
export const JOURNAL_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sources (
    user_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    config_json TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    last_run_at TEXT,
    healthy     INTEGER NOT NULL DEFAULT 1,
    last_error  TEXT,
    PRIMARY KEY (user_id, name)
  ) WITHOUT ROWID;

  CREATE TABLE items (
    user_id      TEXT NOT NULL,
    source_name  TEXT NOT NULL,
    item_key     TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('synced', 'pending')),
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, source_name, item_key)
  ) WITHOUT ROWID;

  CREATE TABLE failures (
    user_id         TEXT NOT NULL,
    source_name     TEXT NOT NULL,
    item_key        TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    code            TEXT NOT NULL,
    error           TEXT NOT NULL,
    first_failed_at TEXT NOT NULL,
    last_failed_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, source_name, item_key)
  ) WITHOUT ROWID;

  CREATE TABLE runs (
    run_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL,
    source_name TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    stats_json  TEXT,
    error       TEXT
  );
  CREATE INDEX runs_by_user ON runs (user_id, run_id);
  `,
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  CREATE TABLE run_locks (
    user_id     TEXT NOT NULL,
    source_name TEXT NOT NULL,
    owner       TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    PRIMARY KEY (user_id, source_name)
  ) WITHOUT ROWID;
  `,
  `
  DROP TABLE run_locks;
  CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
  ) WITHOUT ROWID;
  ALTER TABLE sources ADD COLUMN store_epoch INTEGER NOT NULL DEFAULT -1;
  `,
  `
  UPDATE sources SET type = 'local_filesystem' WHERE type = 'fs';
  ALTER TABLE sources ADD COLUMN poll_interval INTEGER;
  ALTER TABLE sources ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE sources ADD COLUMN state_json TEXT NOT NULL DEFAULT '{}';
  CREATE TABLE uploads (
    user_id       TEXT NOT NULL,
    source_name   TEXT NOT NULL,
    item_key      TEXT NOT NULL,
    blob_hash     TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    metadata_json TEXT NOT NULL DEFAULT '{}',
    uploaded_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, source_name, item_key)
  ) WITHOUT ROWID;
  CREATE INDEX uploads_by_blob ON uploads (blob_hash);
  CREATE INDEX runs_by_source ON runs (user_id, source_name, run_id);
  ALTER TABLE failures ADD COLUMN retryable INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'full';
  `,
];
