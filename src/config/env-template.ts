import { ENV_VARS, type EnvVarName } from "./schema.js";

/** Sections of the template, in order; a variable in none of them lands in the last one, "Other". */
const SECTIONS: ReadonlyArray<{ title: string; note?: string[]; names: readonly string[] }> = [
  {
    title: "Where the data lives (relative paths are from the working directory)",
    names: ["LANCEDB_URI", "STATE_DB_PATH", "UPLOAD_DIR", "LANCEDB_TABLE_NAME", "LANCEDB_CHUNKS_TABLE_NAME"],
  },
  {
    title: "Embedder",
    note: [
      "Changing the embedder (provider, model or dimensions) needs a re-index: run",
      "  npx lancedb-sync reset --yes",
      "then sync every source again (npx lancedb-sync sync --user <id> --source <name>, per source).",
      "",
      "Ollama (after `ollama pull nomic-embed-text`):",
      "  EMBEDDING_PROVIDER=openai",
      "  EMBEDDING_BASE_URL=http://127.0.0.1:11434/v1",
      "  EMBEDDING_MODEL=nomic-embed-text",
      "OpenAI:",
      "  EMBEDDING_PROVIDER=openai",
      "  EMBEDDING_MODEL=text-embedding-3-small",
      "  EMBEDDING_API_KEY=sk-...",
    ],
    names: [
      "EMBEDDING_PROVIDER",
      "EMBEDDING_MODEL",
      "EMBEDDING_BASE_URL",
      "EMBEDDING_API_KEY",
      "EMBEDDING_DIMENSIONS",
      "EMBEDDING_ALLOW_INSECURE_HTTP",
      "EMBEDDING_CACHE_SCOPE",
      "EMBEDDING_BATCH_SIZE",
      "EMBEDDING_TIMEOUT_MS",
      "EMBEDDING_DEADLINE_MS",
    ],
  },
  {
    title: "Reading, parsing and chunking files",
    names: [
      "TEXT_CHUNK_SIZE",
      "TEXT_CHUNK_OVERLAP",
      "MAX_FILE_SIZE_MB",
      "MAX_EXTRACTED_MB",
      "READ_CHUNK_MB",
      "PARSE_TIMEOUT_SECONDS",
      "PARSE_MEMORY_MB",
      "MAX_CONCURRENT_PROCESSING",
    ],
  },
  {
    title: "Syncs: safety, retries, writes",
    names: [
      "MASS_DELETE_THRESHOLD",
      "MAX_RETRY_ATTEMPTS",
      "RETRY_BASE_SECONDS",
      "RETRY_MAX_SECONDS",
      "WRITE_BATCH_DOCS",
      "WRITE_BATCH_CHUNKS",
      "RUN_HISTORY_KEEP",
      "LOCK_LEASE_SECONDS",
      "LOCK_WAIT_SECONDS",
    ],
  },
  {
    title: "LanceDB maintenance and tuning",
    names: [
      "VERSION_RETENTION_HOURS",
      "COMPACT_AFTER_VERSIONS",
      "COMPACT_AFTER_FRAGMENTS",
      "SYNC_COMPACT_AFTER_FRAGMENTS",
      "LANCEDB_INDEX_CACHE_MB",
      "LANCEDB_METADATA_CACHE_MB",
      "LANCEDB_READ_CONSISTENCY_SECONDS",
      "LANCE_CPU_THREADS",
      "MAX_CONCURRENT_SEARCHES",
    ],
  },
  {
    title: "The service (lancedb-sync serve)",
    names: [
      "API_HOST",
      "API_PORT",
      "API_KEYS_FILE",
      "ALLOWED_ROOTS",
      "RATE_LIMIT_PER_MINUTE",
      "MAX_REQUEST_BODY_KB",
      "TLS_CERT_FILE",
      "TLS_KEY_FILE",
      "SHUTDOWN_TIMEOUT",
      "SYNC_INTERVAL",
      "DEFAULT_POLL_INTERVAL",
      "ENABLE_SOURCE_MONITORING",
      "WATCH_SOURCES",
      "WATCH_DEBOUNCE_MS",
    ],
  },
  { title: "The CLI talking to a running service", names: ["LANCEDB_SYNC_URL", "LANCEDB_SYNC_API_KEY"] },
  {
    title: "Backup and restore (S3, any S3-compatible store, or a local directory; see README)",
    names: [
      "S3_BUCKET",
      "S3_PREFIX",
      "S3_ENDPOINT",
      "AWS_REGION",
      "S3_FORCE_PATH_STYLE",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN",
      "S3_SSE",
      "S3_SSE_KMS_KEY_ID",
      "S3_REPLICA_BUCKET",
      "S3_REPLICA_PREFIX",
      "S3_REPLICA_ENDPOINT",
      "S3_REPLICA_REGION",
      "BACKUP_DIR",
      "BACKUP_INTERVAL",
      "BACKUP_DEBOUNCE_SECONDS",
      "BACKUP_CONCURRENCY",
    ],
  },
  {
    title: "Notion sources",
    names: ["NOTION_TOKEN", "NOTION_API_BASE_URL", "NOTION_REQUESTS_PER_SECOND", "NOTION_WEBHOOK_SECRET"],
  },
  { title: "Logging", names: ["LOG_LEVEL", "LOG_FILE"] },
  { title: "Testing only: never set in production", names: ["LANCEDB_SYNC_CRASH_AT"] },
];

/**
 * The `.env` template `setup --generate-config` writes: every variable, grouped in sections, each with its
 * documentation and its default **commented out**, so that the file states only what the user uncomments and
 * changes. The embedder section carries an Ollama and an OpenAI example and the re-index note.
 */
export function renderEnvTemplate(): string {
  const lines = [
    "# lancedb-sync configuration, read from the working directory (environment variables win over it).",
    "# Every setting is optional and shown commented out with its default: uncomment what you change.",
    "",
  ];
  const placed = new Set<string>();
  const sections = [...SECTIONS, { title: "Other", names: Object.keys(ENV_VARS) }];
  for (const section of sections) {
    const names = section.names.filter((n) => n in ENV_VARS && !placed.has(n)) as EnvVarName[];
    if (names.length === 0) continue;
    lines.push(`# ===== ${section.title} =====`);
    for (const n of section.note ?? []) lines.push(n === "" ? "#" : `# ${n}`);
    if (section.note) lines.push("");
    for (const name of names) {
      placed.add(name);
      const spec = ENV_VARS[name];
      lines.push(`# ${spec.doc}`, `# ${name}=${spec.default}`, "");
    }
  }
  return lines.join("\n");
}
