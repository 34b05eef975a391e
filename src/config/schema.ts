import { z } from "zod";

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ["true", "false", "1", "0", "yes", "no", "on", "off"].includes(v), "expected true or false")
  .transform((v) => ["true", "1", "yes", "on"].includes(v));
const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, "expected an integer")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const num = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/, "expected a number")
    .transform(Number)
    .pipe(z.number().min(min).max(max));
const str = z.string().trim().min(1, "must not be empty");

/**
 * Every environment variable lancedb-sync reads: its default (as the env string) and its documentation.
 * This is the single source for validation, the `.env` template and the README table.
 */
export const ENV_VARS = {
  LANCEDB_URI: {
    schema: str,
    default: "data/lancedb",
    doc: "LanceDB directory (local path) of the primary store.",
  },
  LANCEDB_TABLE_NAME: { schema: str, default: "processed_documents", doc: "Table of one row per document." },
  LANCEDB_CHUNKS_TABLE_NAME: {
    schema: str,
    default: "document_chunks",
    doc: "Table of chunks with vectors.",
  },
  LANCEDB_INDEX_CACHE_MB: {
    schema: int(1, 1_000_000),
    default: "256",
    doc: "LanceDB cache for index pages (full-text, vector, BTree, bitmap), in MB. sync, ingest and migrate, which never search, use 64 unless it is set.",
  },
  LANCEDB_METADATA_CACHE_MB: {
    schema: int(1, 1_000_000),
    default: "64",
    doc: "LanceDB cache for file and manifest metadata, in MB (LanceDB's own default, 1 GB, grows with commits).",
  },
  STATE_DB_PATH: {
    schema: str,
    default: "data/state.db",
    doc: "SQLite journal: fingerprints, runs, failures.",
  },
  MAX_CONCURRENT_PROCESSING: { schema: int(1, 256), default: "5", doc: "Items read and parsed at once." },
  MAX_CONCURRENT_SEARCHES: {
    schema: int(1, 256),
    default: "4",
    doc: "Searches run at once by a long-lived process (service, library); more wait their turn. Each brute-force vector scan holds the vectors it reads, so this bounds search memory.",
  },
  READ_CHUNK_MB: {
    schema: num(0.0625, 256),
    default: "4",
    doc: "Files are read from disk in pieces of this size (MB), yielding between pieces — an I/O setting, not the text chunk size (that is TEXT_CHUNK_SIZE); the whole file is still held in memory while it is hashed and parsed (at most MAX_FILE_SIZE_MB). Formerly CHUNK_SIZE_MB, still accepted with a warning.",
  },
  MAX_FILE_SIZE_MB: {
    schema: num(0.001, 4096),
    default: "50",
    doc: "Larger files fail with SYNC_E_FILE_TOO_LARGE.",
  },
  MAX_EXTRACTED_MB: {
    schema: num(1, 65_536),
    default: "256",
    doc: "Largest total uncompressed size (MB) of the parts a DOCX (a zip) may expand to; checked in the zip directory before anything is inflated, so a decompression bomb fails with SYNC_E_FILE_TOO_LARGE.",
  },
  PARSE_TIMEOUT_SECONDS: {
    schema: int(1, 86_400),
    default: "120",
    doc: "Time limit for extracting the text of one item (parsing runs in a worker thread, which is stopped when it passes the limit).",
  },
  PARSE_MEMORY_MB: {
    schema: int(64, 65_536),
    default: "1024",
    doc: "Heap limit (MB) of a parser worker thread: an item whose parsing needs more fails alone instead of taking the process down.",
  },
  TEXT_CHUNK_SIZE: { schema: int(100, 100_000), default: "1000", doc: "Target chunk length in characters." },
  TEXT_CHUNK_OVERLAP: {
    schema: int(0, 50_000),
    default: "150",
    doc: "Characters shared by neighbouring chunks.",
  },
  WRITE_BATCH_DOCS: {
    schema: int(1, 100_000),
    default: "1000",
    doc: "Documents per write batch (at most). A batch is a handful of LanceDB commits (chunk rows are added in commits of at most WRITE_BATCH_CHUNKS rows).",
  },
  WRITE_BATCH_CHUNKS: {
    schema: int(64, 1_000_000),
    default: "1024",
    doc: "A write batch closes before it would pass this many chunks, and no commit adds more chunk rows than this (a larger document is written alone, in several commits). Bounds the memory of one LanceDB write.",
  },
  MASS_DELETE_THRESHOLD: {
    schema: num(0, 1),
    default: "0.5",
    doc: "Hold deletions when a run would delete more than this share of a source's documents.",
  },
  MAX_RETRY_ATTEMPTS: {
    schema: int(1, 1000),
    default: "5",
    doc: "Failed items are retried on each run until this many attempts (or until they change).",
  },
  VECTOR_INDEX_THRESHOLD: {
    schema: int(0, 1_000_000_000),
    default: "100000",
    doc: "Chunk rows from which `compact` (and the service's compaction, which then runs for it) builds a vector index (VECTOR_INDEX_TYPE, cosine) on `vector`; rows added later are searched at once (scanned) and folded into it by the next compaction. Syncs never build it (minutes of CPU and hundreds of MB at this size). 0: never (brute-force search).",
  },
  SEARCH_NPROBES: {
    schema: int(1, 100_000),
    default: "20",
    doc: "With a vector index: IVF partitions a vector (or hybrid) search probes at least; more when a narrow filter (a small user) leaves fewer hits than asked. Higher: better recall, slower.",
  },
  SEARCH_REFINE_FACTOR: {
    schema: int(0, 1_000),
    default: "100",
    doc: "With a vector index: a vector search re-ranks `limit` × this many candidates by their exact distance (0: no re-ranking, approximate scores). At a million hashing-embedder chunks recall@10 was 0.19 / 0.67 / 0.92 / 0.97 at 0 / 10 / 50 / 100; 50 halves the latency of 100.",
  },
  VECTOR_INDEX_TYPE: {
    schema: z.enum(["ivf_pq", "ivf_hnsw_sq", "ivf_flat"]),
    default: "ivf_pq",
    doc: "The vector index `compact` builds: ivf_pq (product-quantised, smallest; needs SEARCH_REFINE_FACTOR for recall), ivf_hnsw_sq (an HNSW graph over 8-bit scalar-quantised vectors) or ivf_flat (full vectors: exact distances within the probed partitions, largest). Changing it makes the next compact rebuild the index.",
  },
  SEARCH_EF: {
    schema: int(0, 100_000),
    default: "0",
    doc: "With an ivf_hnsw_sq index: candidates the graph search keeps (higher: better recall, slower; 0: LanceDB's default).",
  },
  FTS_REINDEX_EVERY_ROWS: {
    schema: int(0, 1_000_000_000),
    default: "50000",
    doc: "During a long sync, after every this many chunk rows written, the full-text index is checked (under the writer lock) and rebuilt as after a run, so searches during the sync stay fast. 0: only after the run.",
  },
  VERSION_RETENTION_HOURS: {
    schema: num(0, 100_000),
    default: "24",
    doc: "`compact` removes table versions older than this.",
  },
  EMBEDDING_PROVIDER: {
    schema: z.enum(["hashing", "openai"]),
    default: "hashing",
    doc: "`hashing` (offline, lexical) or `openai` (any OpenAI-compatible /v1/embeddings server).",
  },
  EMBEDDING_DIMENSIONS: {
    schema: int(8, 8192),
    default: "",
    doc: "Vector width. Hashing: default 384. OpenAI: optional, learned from the server when unset.",
  },
  EMBEDDING_MODEL: {
    schema: str,
    default: "text-embedding-3-small",
    doc: "Model name for the openai provider.",
  },
  EMBEDDING_BASE_URL: {
    schema: z.string().trim().url(),
    default: "https://api.openai.com/v1",
    doc: "Base URL of the OpenAI-compatible server (Ollama: http://127.0.0.1:11434/v1).",
  },
  EMBEDDING_API_KEY: {
    schema: z.string(),
    default: "",
    doc: "API key for the openai provider (never logged).",
  },
  EMBEDDING_ALLOW_INSECURE_HTTP: {
    schema: bool,
    default: "false",
    doc: "Allow sending EMBEDDING_API_KEY to a plain http:// URL that is not on loopback (the key would cross the network in clear).",
  },
  EMBEDDING_CACHE_SCOPE: {
    schema: z.enum(["user", "global"]),
    default: "user",
    doc: "`user`: a chunk's vector is reused only from the same user's rows (no output tells one user what another stores). `global`: shared by all users.",
  },
  EMBEDDING_BATCH_SIZE: { schema: int(1, 4096), default: "64", doc: "Texts per embedding request." },
  EMBEDDING_TIMEOUT_MS: { schema: int(100, 3_600_000), default: "60000", doc: "Per-request timeout." },
  EMBEDDING_DEADLINE_MS: {
    schema: int(100, 86_400_000),
    default: "180000",
    doc: "Total time one batch may take at the embedder, retries and waits included (a server that accepts connections and never answers fails the run after this long).",
  },
  LOCK_LEASE_SECONDS: {
    schema: int(5, 3600),
    default: "30",
    doc: "Lease of a run lock or the store's writer lock: renewed while its holder lives; a lock not renewed for this long (its process died) is taken over.",
  },
  LOCK_WAIT_SECONDS: {
    schema: int(0, 86_400),
    default: "120",
    doc: "How long a writer (a sync batch, compact, reset) waits for the store's writer lock before failing with SYNC_E_STORE_BUSY.",
  },
  LANCE_CPU_THREADS: {
    schema: int(2, 1024),
    default: "",
    doc: "LanceDB CPU worker threads; default max(2, cores). Must be at least 2: LanceDB 0.31's full-text index build deadlocks with one.",
  },
  LANCEDB_SYNC_CRASH_AT: {
    schema: z
      .string()
      .trim()
      .regex(/^[a-z-]+:\d+$/, "expected <step>:<batch>"),
    default: "",
    doc: "Test only: kill the process (SIGKILL) when a sync reaches `<step>:<batch>` (e.g. `batch-applied:0`), to prove crash recovery. Never set in production.",
  },
  UPLOAD_DIR: {
    schema: str,
    default: "./data/uploads",
    doc: "Where documents pushed through `ingest` or the API are kept (content-addressed), so that crash repair and retries can read them again.",
  },
  RUN_HISTORY_KEEP: {
    schema: int(1, 1_000_000),
    default: "200",
    doc: "Finished runs kept per source; older ones are pruned after each run.",
  },
  RETRY_BASE_SECONDS: {
    schema: int(0, 86_400),
    default: "30",
    doc: "Scheduled runs retry a failed item after this delay, doubled per attempt (±20% jitter). Explicit syncs retry at once.",
  },
  RETRY_MAX_SECONDS: {
    schema: int(1, 604_800),
    default: "3600",
    doc: "Longest retry delay of a failed item.",
  },
  LANCEDB_READ_CONSISTENCY_SECONDS: {
    schema: num(0, 3600),
    default: "1",
    doc: "How stale a long-lived process's view of the tables may get: reads check for commits by other processes at most this often (0: every read).",
  },
  SHUTDOWN_TIMEOUT: {
    schema: int(1, 3600),
    default: "30",
    doc: "Seconds `stop()` (and SIGTERM of the service) waits for runs in flight before abandoning them; their items stay pending and the next start resumes them.",
  },
  SYNC_INTERVAL: {
    schema: int(1, 604_800),
    default: "300",
    doc: "Seconds between full reconciliations of every monitored source (service); one also runs when the service starts.",
  },
  DEFAULT_POLL_INTERVAL: {
    schema: int(1, 86_400),
    default: "60",
    doc: "Seconds between polls (full runs) of a source without its own poll_interval (service); watched folders are polled too, catching what a watcher missed.",
  },
  ENABLE_SOURCE_MONITORING: {
    schema: bool,
    default: "true",
    doc: "false: the service schedules and watches nothing (no polls, reconciliations or watchers); explicit scans through the API still run.",
  },
  WATCH_SOURCES: {
    schema: bool,
    default: "true",
    doc: "Watch `local_filesystem` sources live (inotify); false: they are only polled (network file systems, very large trees).",
  },
  WATCH_DEBOUNCE_MS: {
    schema: int(10, 60_000),
    default: "300",
    doc: "Quiet time after a file event before the watched changes are synced as one partial run (service); under a steady stream of events, at least every 5x this.",
  },
  COMPACT_AFTER_VERSIONS: {
    schema: int(2, 1_000_000),
    default: "200",
    doc: "The service compacts the tables (behind the writer lock, never while a run is in progress or queued) once a table has this many versions more than the last compaction left\u2026",
  },
  COMPACT_AFTER_FRAGMENTS: {
    schema: int(2, 1_000_000),
    default: "64",
    doc: "…or this many small fragments.",
  },
  SYNC_COMPACT_AFTER_FRAGMENTS: {
    schema: int(0, 1_000_000),
    default: "512",
    doc: "A sync that leaves the chunks table with this many small fragments (one per commit) compacts it before it ends, keeping old versions (about 20 s at 1.4 million chunks; the lookups and deletes of later syncs pay per fragment: at 100,000 documents a 5% change took 65 s on 1,452 fragments, 17-23 s on 170, 21-30 s on 415); the documents table from 64, its rows being small. 0: never (left to compact and the service).",
  },
  BACKUP_INTERVAL: {
    schema: int(0, 31_536_000),
    default: "3600",
    doc: "Seconds between scheduled backups in the service (0: only after sync activity and on request).",
  },
  BACKUP_DEBOUNCE_SECONDS: {
    schema: int(0, 86_400),
    default: "60",
    doc: "The service backs up once syncs that wrote have been quiet for this long (0: no backup after activity).",
  },
  BACKUP_CONCURRENCY: {
    schema: int(1, 64),
    default: "4",
    doc: "Files uploaded or downloaded at once by a backup, restore or verify.",
  },
  API_HOST: {
    schema: str,
    default: "127.0.0.1",
    doc: "Address `serve` listens on; a non-loopback one needs API keys.",
  },
  API_PORT: { schema: int(0, 65_535), default: "8000", doc: "Port `serve` listens on (0: any free port)." },
  API_KEYS_FILE: {
    schema: z.string().trim(),
    default: "",
    doc: 'JSON list of `{ key_hash, user_id | role: "admin" }` (only hashes); empty: `api-keys.json` beside `STATE_DB_PATH`.',
  },
  ALLOWED_ROOTS: {
    schema: z
      .string()
      .trim()
      .refine(
        (v) => v === "" || v.split(",").every((p) => p.trim().startsWith("/")),
        "expected a comma-separated list of absolute paths",
      ),
    default: "",
    doc: "Comma-separated absolute folders under which `local_filesystem` sources may be added through the API (empty: none may).",
  },
  RATE_LIMIT_PER_MINUTE: {
    schema: int(1, 1_000_000),
    default: "600",
    doc: "Requests per minute per API key (per address without one); more get 429 with Retry-After.",
  },
  MAX_REQUEST_BODY_KB: {
    schema: int(1, 1_048_576),
    default: "1024",
    doc: "Largest JSON request body (KB); uploads are limited by MAX_FILE_SIZE_MB.",
  },
  TLS_CERT_FILE: {
    schema: z.string().trim(),
    default: "",
    doc: "PEM certificate: with TLS_KEY_FILE, `serve` speaks HTTPS.",
  },
  TLS_KEY_FILE: { schema: z.string().trim(), default: "", doc: "PEM private key of TLS_CERT_FILE." },
  LANCEDB_SYNC_URL: {
    schema: z.union([z.literal(""), z.string().trim().url()]),
    default: "",
    doc: "URL of a running service: `status` and `sources scan` then ask it instead of the local data (same as `--url`).",
  },
  LANCEDB_SYNC_API_KEY: {
    schema: z.string().trim(),
    default: "",
    doc: "API key the CLI sends to LANCEDB_SYNC_URL.",
  },
  S3_BUCKET: { schema: z.string().trim(), default: "", doc: "Backup bucket; empty disables S3 backup." },
  S3_PREFIX: { schema: z.string().trim(), default: "lancedb-sync/", doc: "Key prefix for backup objects." },
  S3_ENDPOINT: {
    schema: z.union([z.literal(""), z.string().trim().url()]),
    default: "",
    doc: "Endpoint of an S3-compatible store (empty: AWS).",
  },
  AWS_REGION: {
    schema: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "expected a region name such as us-east-1 or auto"),
    default: "us-east-1",
    doc: "Region of the backup bucket: any name the store accepts (S3-compatible stores use names such as `auto`).",
  },
  S3_FORCE_PATH_STYLE: {
    schema: bool,
    default: "",
    doc: "Path-style S3 URLs (`endpoint/bucket/key`). Empty: true when S3_ENDPOINT is set (most S3-compatible stores), false for AWS.",
  },
  S3_SSE: {
    schema: z.enum(["AES256", "aws:kms"]),
    default: "",
    doc: "Server-side encryption asked on every backup upload: `AES256` or `aws:kms` (empty: the bucket's default).",
  },
  S3_SSE_KMS_KEY_ID: {
    schema: str,
    default: "",
    doc: "KMS key (id, alias or ARN) for S3_SSE=aws:kms; empty: the account's default key for S3.",
  },
  AWS_ACCESS_KEY_ID: {
    schema: str,
    default: "",
    doc: "Access key for the backup bucket(s), with AWS_SECRET_ACCESS_KEY. Empty: the AWS SDK's default chain (profile, SSO, IAM role).",
  },
  AWS_SECRET_ACCESS_KEY: {
    schema: str,
    default: "",
    doc: "Secret of AWS_ACCESS_KEY_ID (a secret: never logged, never stored in the journal or a backup).",
  },
  AWS_SESSION_TOKEN: {
    schema: str,
    default: "",
    doc: "Session token of temporary credentials (a secret, like AWS_SECRET_ACCESS_KEY).",
  },
  S3_REPLICA_BUCKET: {
    schema: z.string().trim(),
    default: "",
    doc: "Optional second bucket that receives the same snapshots (cross-region copy), with the same credentials; empty: none.",
  },
  S3_REPLICA_PREFIX: {
    schema: z.string().trim(),
    default: "",
    doc: "Key prefix in the replica bucket; empty: S3_PREFIX.",
  },
  S3_REPLICA_ENDPOINT: {
    schema: z.string().trim().url(),
    default: "",
    doc: "Endpoint of the replica's store; empty: S3_ENDPOINT.",
  },
  S3_REPLICA_REGION: {
    schema: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "expected a region name such as eu-west-1 or auto"),
    default: "",
    doc: "Region of the replica bucket; empty: AWS_REGION.",
  },
  BACKUP_DIR: {
    schema: str,
    default: "",
    doc: "Back up to this local directory (a mounted disk or share) when S3_BUCKET is empty; S3_BUCKET wins when both are set.",
  },
  NOTION_API_BASE_URL: {
    schema: z.string().trim().url(),
    default: "https://api.notion.com",
    doc: "Where `notion` sources send Notion API requests (a proxy, or a local server in tests).",
  },
  NOTION_TOKEN: {
    schema: z.string().trim(),
    default: "",
    doc: "The default variable holding a `notion` source's integration token (a secret: a source stores only the variable's name, `token_env`, or a `token_file`; never logged).",
  },
  NOTION_REQUESTS_PER_SECOND: {
    schema: num(0.1, 1000),
    default: "3",
    doc: "Notion requests per second per integration token, shared by every source and run of this process (Notion allows about 3).",
  },
  NOTION_WEBHOOK_SECRET: {
    schema: z.string().trim(),
    default: "",
    doc: "Notion webhook verification token: `X-Notion-Signature` of `POST /api/v1/webhooks/notion` is checked with it (empty: the token Notion sent in its verification request, kept in `notion-webhook-token` beside STATE_DB_PATH, never in the journal or a backup). Never logged.",
  },
  LOG_LEVEL: {
    schema: z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])),
    default: "info",
    doc: "pino log level of LOG_FILE and of `serve`'s stderr (case-insensitive). One-shot commands print only warnings and errors on stderr (on a terminal: once, after the progress bar), everything at `debug` or `trace`.",
  },
  LOG_FILE: { schema: z.string().trim(), default: "", doc: "Also append logs here, e.g. `sync_system.log`." },
} as const;

/** Name of a documented environment variable. */
export type EnvVarName = keyof typeof ENV_VARS;

/** Old names still accepted for a setting, with a warning: old name → current name. */
export const DEPRECATED_ENV_VARS: Readonly<Record<string, EnvVarName>> = { CHUNK_SIZE_MB: "READ_CHUNK_MB" };
