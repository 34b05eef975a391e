import { accessSync, constants, readFileSync, type Stats, statfsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { SyncError } from "../errors/sync-error.js";
import { DEPRECATED_ENV_VARS, ENV_VARS, type EnvVarName } from "./schema.js";

/** Validated, frozen configuration. Only the CLI and the server build it; the library takes typed options. */
export interface Config {
  lancedbUri: string;
  documentsTable: string;
  chunksTable: string;
  indexCacheMb: number;
  metadataCacheMb: number;
  stateDbPath: string;
  maxConcurrentProcessing: number;
  maxConcurrentSearches: number;
  readChunkBytes: number;
  maxFileBytes: number;
  /** Largest total uncompressed size of a zip-based document's parts (bytes). */
  maxExtractedBytes: number;
  /** Per-item parse time limit (ms). */
  parseTimeoutMs: number;
  /** Heap limit of a parser worker (MB). */
  parseMemoryMb: number;
  textChunkSize: number;
  textChunkOverlap: number;
  writeBatchDocs: number;
  writeBatchChunks: number;
  massDeleteThreshold: number;
  maxRetryAttempts: number;
  versionRetentionHours: number;
  /** Chunk rows from which a vector index is kept (0: never). */
  vectorIndexThreshold: number;
  /** Least IVF partitions a vector search probes. */
  searchNprobes: number;
  /** Re-ranking multiplier of an indexed vector search (0: none). */
  searchRefineFactor: number;
  /** The kind of vector index `compact` builds. */
  vectorIndexType: "ivf_pq" | "ivf_hnsw_sq" | "ivf_flat";
  /** HNSW search candidates (0: LanceDB's default). */
  searchEf: number;
  /** Chunk rows written between index checks inside a run (0: only after it). */
  ftsReindexEveryRows: number;
  embedding: {
    provider: "hashing" | "openai";
    dimensions: number | undefined;
    model: string;
    baseUrl: string;
    apiKey: string;
    batchSize: number;
    timeoutMs: number;
    /** Total time of one `embed` call, retries included (ms). */
    deadlineMs: number;
    /** Send the API key to a non-loopback `http://` URL anyway. */
    allowInsecureHttp: boolean;
  };
  /** Whether cached vectors are reused only within one user's rows (`user`) or across users. */
  embeddingCacheScope: "user" | "global";
  lockLeaseSeconds: number;
  lockWaitSeconds: number;
  /** `LANCE_CPU_THREADS` as set by the user (validated ≥ 2), or undefined for the default. */
  lanceCpuThreads: number | undefined;
  /** Test only: `<step>:<batch>` at which a sync kills its own process. Empty in production. */
  crashAt: string;
  uploadDir: string;
  runHistoryKeep: number;
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  readConsistencySeconds: number;
  shutdownTimeoutSeconds: number;
  syncIntervalSeconds: number;
  defaultPollIntervalSeconds: number;
  enableSourceMonitoring: boolean;
  /** Watch `local_filesystem` sources live (else only poll them). */
  watchSources: boolean;
  /** Quiet time after a watched file event before its partial run (ms). */
  watchDebounceMs: number;
  /** Scheduled compaction thresholds (service). */
  compactAfterVersions: number;
  compactAfterFragments: number;
  /** Small fragments from which a sync compacts the chunks table (0: never). */
  syncCompactAfterFragments: number;
  /** Seconds between scheduled backups (service); 0: none on a timer. */
  backupIntervalSeconds: number;
  /** Quiet seconds after syncs that wrote before the service backs up; 0: none after activity. */
  backupDebounceSeconds: number;
  /** Files moved at once by a backup, restore or verify. */
  backupConcurrency: number;
  /** The HTTP service. */
  api: {
    host: string;
    port: number;
    /** Where API key hashes are read and stored (resolved: never empty). */
    keysFile: string;
    /** Absolute folders API-added `local_filesystem` sources must lie under (empty: none may be added). */
    allowedRoots: string[];
    rateLimitPerMinute: number;
    maxBodyBytes: number;
    tlsCertFile: string;
    tlsKeyFile: string;
  };
  /** A running service the CLI talks to (empty url: the local data). */
  client: { url: string; apiKey: string };
  s3: {
    bucket: string;
    prefix: string;
    endpoint: string;
    region: string;
    /** `S3_FORCE_PATH_STYLE`; undefined: path style exactly when an endpoint is set. */
    forcePathStyle: boolean | undefined;
    /** Server-side encryption asked on every upload; empty: the bucket's default. */
    sse: "" | "AES256" | "aws:kms";
    sseKmsKeyId: string;
    /** Explicit credentials (secrets); undefined: the AWS SDK's default chain (profile, SSO, IAM role). */
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
    /** The optional second bucket (`S3_REPLICA_*`), defaults filled in from the primary; bucket "" = none. */
    replica: { bucket: string; prefix: string; endpoint: string; region: string };
  };
  /** `BACKUP_DIR`: local backup directory, used when `s3.bucket` is empty ("" = none). */
  backupDir: string;
  /** `notion` sources: API address, the default token variable's value, request rate, webhook secret. */
  notion: { apiBaseUrl: string; token: string; requestsPerSecond: number; webhookSecret: string };
  logLevel: string;
  logFile: string;
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Variables to read; defaults to `process.env`. They win over the `.env` file. */
  env?: NodeJS.ProcessEnv;
  /** Path of the `.env` file; defaults to `.env` in the working directory. Missing is fine. */
  envFile?: string;
  /** Values for variables set neither in `env` nor in the file, in place of the documented defaults. */
  defaults?: Partial<Record<EnvVarName, string>>;
}

const MB = 1024 * 1024;

/**
 * Reads every variable of {@link ENV_VARS} from the environment and `.env`, validates each once and returns a
 * frozen {@link Config}. Throws `SYNC_E_CONFIG_INVALID` naming each bad variable and its value (secrets masked).
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.envFile ?? ".env";
  const fromFile = readEnvFile(file);
  const oldName = (name: EnvVarName) =>
    Object.keys(DEPRECATED_ENV_VARS).find((k) => DEPRECATED_ENV_VARS[k] === name);
  return buildConfig(
    (name) => {
      const old = oldName(name);
      return (
        env[name] ??
        fromFile[name] ??
        (old === undefined ? undefined : (env[old] ?? fromFile[old])) ??
        options.defaults?.[name]
      );
    },
    (name) => name,
  );
}

/** A setting's name in camelCase: `MAX_FILE_SIZE_MB` → `maxFileSizeMb`. */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<CamelCase<Tail>>}`
  : Lowercase<S>;

/**
 * Settings of the library: every configuration variable under its name in camelCase (`lancedbUri`,
 * `stateDbPath`, `maxConcurrentProcessing`, `maxFileSizeMb`, `embeddingProvider`, …), typed as its value.
 * Absent ones take the documented defaults (README's configuration table).
 */
export type ConfigOptions = {
  -readonly [K in EnvVarName as CamelCase<K>]?: ValueOf<K>;
};
type ValueOf<K extends EnvVarName> = (typeof ENV_VARS)[K]["schema"] extends { _zod: { output: infer O } }
  ? Exclude<O, ""> | (O extends "" ? "" : never)
  : string;

/** `MAX_FILE_SIZE_MB` → `maxFileSizeMb`. */
export function camelName(name: EnvVarName): string {
  return name.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The configuration of a library user: `options` over the documented defaults, validated like the
 * environment (errors name the option in camelCase and its value). Reads nothing from the environment or
 * `.env`. Throws `SYNC_E_CONFIG_INVALID`; an option that is not a setting is an error too (a typo would
 * otherwise be ignored).
 */
export function resolveConfig(options: ConfigOptions = {}): Config {
  const byCamel = new Map((Object.keys(ENV_VARS) as EnvVarName[]).map((n) => [camelName(n), n]));
  const unknown = Object.keys(options).filter((k) => !byCamel.has(k));
  if (unknown.length > 0) {
    throw new SyncError(
      "SYNC_E_CONFIG_INVALID",
      `invalid configuration: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`,
    );
  }
  const given = options as Record<string, unknown>;
  return buildConfig(
    (name) => {
      const value = given[camelName(name)];
      return value === undefined ? undefined : String(value);
    },
    (name) => camelName(name),
  );
}

/** Validates every variable (as read by `read`, else its default) and builds the frozen {@link Config}. */
function buildConfig(
  read: (name: EnvVarName) => string | undefined,
  label: (name: EnvVarName) => string,
): Config {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(ENV_VARS) as [EnvVarName, (typeof ENV_VARS)[EnvVarName]][]) {
    const raw = read(name) ?? spec.default;
    if (raw === "" && spec.default === "") {
      values[name] = "";
      continue;
    }
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) values[name] = parsed.data;
    else {
      const shown = /KEY|SECRET|TOKEN|PASSWORD/.test(name) ? "***" : JSON.stringify(raw);
      problems.push(`${label(name)}=${shown}: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
    }
  }
  const v = values as Record<EnvVarName, never>;
  if (problems.length === 0 && (v.TEXT_CHUNK_OVERLAP as number) >= (v.TEXT_CHUNK_SIZE as number)) {
    problems.push(
      `${label("TEXT_CHUNK_OVERLAP")}=${v.TEXT_CHUNK_OVERLAP}: must be smaller than ${label("TEXT_CHUNK_SIZE")} (${v.TEXT_CHUNK_SIZE})`,
    );
  }
  if (problems.length === 0 && v.LANCEDB_TABLE_NAME === v.LANCEDB_CHUNKS_TABLE_NAME) {
    problems.push(
      `${label("LANCEDB_TABLE_NAME")}=${JSON.stringify(v.LANCEDB_TABLE_NAME)}: must differ from ${label("LANCEDB_CHUNKS_TABLE_NAME")}`,
    );
  }
  if (problems.length === 0) {
    for (const name of ["LANCEDB_TABLE_NAME", "LANCEDB_CHUNKS_TABLE_NAME"] as const) {
      const value = v[name] as string;
      if (!TABLE_NAME.test(value)) {
        problems.push(
          `${label(name)}=${JSON.stringify(value)}: LanceDB table names may only contain letters, digits, ` +
            "underscores, hyphens and periods",
        );
      }
    }
  }
  if (problems.length === 0 && /^[a-z][a-z0-9+.-]*:\/\//i.test(v.LANCEDB_URI as string)) {
    problems.push(
      `${label("LANCEDB_URI")}=${JSON.stringify(v.LANCEDB_URI)}: only a local directory is supported, not a remote ` +
        "store (s3://, gs://, az://, db://); keep the store on a local disk (S3 is for backups: S3_BUCKET)",
    );
  }
  if (problems.length === 0 && Boolean(v.TLS_CERT_FILE) !== Boolean(v.TLS_KEY_FILE)) {
    const [set, unset] = v.TLS_CERT_FILE
      ? ["TLS_CERT_FILE", "TLS_KEY_FILE"]
      : ["TLS_KEY_FILE", "TLS_CERT_FILE"];
    problems.push(`${label(unset as EnvVarName)}="": must be set together with ${label(set as EnvVarName)}`);
  }
  if (problems.length === 0) problems.push(...backupProblems(v, label));
  if (problems.length > 0) {
    throw new SyncError("SYNC_E_CONFIG_INVALID", `invalid configuration: ${problems.join(", ")}`);
  }
  const config: Config = {
    lancedbUri: v.LANCEDB_URI,
    documentsTable: v.LANCEDB_TABLE_NAME,
    chunksTable: v.LANCEDB_CHUNKS_TABLE_NAME,
    indexCacheMb: v.LANCEDB_INDEX_CACHE_MB,
    metadataCacheMb: v.LANCEDB_METADATA_CACHE_MB,
    stateDbPath: v.STATE_DB_PATH,
    maxConcurrentProcessing: v.MAX_CONCURRENT_PROCESSING,
    maxConcurrentSearches: v.MAX_CONCURRENT_SEARCHES,
    readChunkBytes: Math.round((v.READ_CHUNK_MB as number) * MB),
    maxFileBytes: Math.round((v.MAX_FILE_SIZE_MB as number) * MB),
    maxExtractedBytes: Math.round((v.MAX_EXTRACTED_MB as number) * MB),
    parseTimeoutMs: (v.PARSE_TIMEOUT_SECONDS as number) * 1000,
    parseMemoryMb: v.PARSE_MEMORY_MB,
    textChunkSize: v.TEXT_CHUNK_SIZE,
    textChunkOverlap: v.TEXT_CHUNK_OVERLAP,
    writeBatchDocs: v.WRITE_BATCH_DOCS,
    writeBatchChunks: v.WRITE_BATCH_CHUNKS,
    massDeleteThreshold: v.MASS_DELETE_THRESHOLD,
    maxRetryAttempts: v.MAX_RETRY_ATTEMPTS,
    versionRetentionHours: v.VERSION_RETENTION_HOURS,
    vectorIndexThreshold: v.VECTOR_INDEX_THRESHOLD,
    searchNprobes: v.SEARCH_NPROBES,
    searchRefineFactor: v.SEARCH_REFINE_FACTOR,
    vectorIndexType: v.VECTOR_INDEX_TYPE,
    searchEf: v.SEARCH_EF,
    ftsReindexEveryRows: v.FTS_REINDEX_EVERY_ROWS,
    embedding: {
      provider: v.EMBEDDING_PROVIDER,
      dimensions: (v.EMBEDDING_DIMENSIONS as number | "") || undefined,
      model: v.EMBEDDING_MODEL,
      baseUrl: v.EMBEDDING_BASE_URL,
      apiKey: v.EMBEDDING_API_KEY,
      batchSize: v.EMBEDDING_BATCH_SIZE,
      timeoutMs: v.EMBEDDING_TIMEOUT_MS,
      deadlineMs: v.EMBEDDING_DEADLINE_MS,
      allowInsecureHttp: v.EMBEDDING_ALLOW_INSECURE_HTTP,
    },
    embeddingCacheScope: v.EMBEDDING_CACHE_SCOPE,
    lockLeaseSeconds: v.LOCK_LEASE_SECONDS,
    lockWaitSeconds: v.LOCK_WAIT_SECONDS,
    lanceCpuThreads: (v.LANCE_CPU_THREADS as number | "") || undefined,
    crashAt: v.LANCEDB_SYNC_CRASH_AT,
    uploadDir: v.UPLOAD_DIR,
    runHistoryKeep: v.RUN_HISTORY_KEEP,
    retryBaseSeconds: v.RETRY_BASE_SECONDS,
    retryMaxSeconds: v.RETRY_MAX_SECONDS,
    readConsistencySeconds: v.LANCEDB_READ_CONSISTENCY_SECONDS,
    shutdownTimeoutSeconds: v.SHUTDOWN_TIMEOUT,
    syncIntervalSeconds: v.SYNC_INTERVAL,
    defaultPollIntervalSeconds: v.DEFAULT_POLL_INTERVAL,
    enableSourceMonitoring: v.ENABLE_SOURCE_MONITORING,
    watchSources: v.WATCH_SOURCES,
    watchDebounceMs: v.WATCH_DEBOUNCE_MS,
    compactAfterVersions: v.COMPACT_AFTER_VERSIONS,
    compactAfterFragments: v.COMPACT_AFTER_FRAGMENTS,
    syncCompactAfterFragments: v.SYNC_COMPACT_AFTER_FRAGMENTS,
    backupIntervalSeconds: v.BACKUP_INTERVAL,
    backupDebounceSeconds: v.BACKUP_DEBOUNCE_SECONDS,
    backupConcurrency: v.BACKUP_CONCURRENCY,
    api: {
      host: v.API_HOST,
      port: v.API_PORT,
      keysFile: (v.API_KEYS_FILE as string) || resolve(dirname(v.STATE_DB_PATH as string), "api-keys.json"),
      allowedRoots: (v.ALLOWED_ROOTS as string)
        .split(",")
        .map((r) => r.trim())
        .filter((r) => r !== "")
        .map((r) => resolve(r)),
      rateLimitPerMinute: v.RATE_LIMIT_PER_MINUTE,
      maxBodyBytes: (v.MAX_REQUEST_BODY_KB as number) * 1024,
      tlsCertFile: v.TLS_CERT_FILE,
      tlsKeyFile: v.TLS_KEY_FILE,
    },
    client: { url: v.LANCEDB_SYNC_URL, apiKey: v.LANCEDB_SYNC_API_KEY },
    s3: {
      bucket: v.S3_BUCKET,
      prefix: v.S3_PREFIX,
      endpoint: v.S3_ENDPOINT,
      region: v.AWS_REGION,
      forcePathStyle: v.S3_FORCE_PATH_STYLE === "" ? undefined : (v.S3_FORCE_PATH_STYLE as boolean),
      sse: v.S3_SSE,
      sseKmsKeyId: v.S3_SSE_KMS_KEY_ID,
      credentials: v.AWS_ACCESS_KEY_ID
        ? {
            accessKeyId: v.AWS_ACCESS_KEY_ID,
            secretAccessKey: v.AWS_SECRET_ACCESS_KEY,
            ...(v.AWS_SESSION_TOKEN ? { sessionToken: v.AWS_SESSION_TOKEN as string } : {}),
          }
        : undefined,
      replica: {
        bucket: v.S3_REPLICA_BUCKET,
        prefix: (v.S3_REPLICA_PREFIX as string) || v.S3_PREFIX,
        endpoint: (v.S3_REPLICA_ENDPOINT as string) || v.S3_ENDPOINT,
        region: (v.S3_REPLICA_REGION as string) || v.AWS_REGION,
      },
    },
    backupDir: v.BACKUP_DIR,
    notion: {
      apiBaseUrl: v.NOTION_API_BASE_URL,
      token: v.NOTION_TOKEN,
      requestsPerSecond: v.NOTION_REQUESTS_PER_SECOND,
      webhookSecret: v.NOTION_WEBHOOK_SECRET,
    },
    logLevel: v.LOG_LEVEL,
    logFile: v.LOG_FILE,
  };
  return deepFreeze(config);
}

/** Cross-checks of the backup settings (S3, replica, credentials); each problem names the variable and value. */
function backupProblems(v: Record<EnvVarName, never>, label: (name: EnvVarName) => string): string[] {
  const problems: string[] = [];
  const str = (name: EnvVarName): string => v[name] as string;
  const shown = (name: EnvVarName): string => `${label(name)}=${JSON.stringify(str(name))}`;
  for (const name of ["S3_BUCKET", "S3_REPLICA_BUCKET"] as const) {
    if (/[\s/\\]/.test(str(name))) problems.push(`${shown(name)}: a bucket name has no spaces or slashes`);
  }
  for (const name of ["S3_PREFIX", "S3_REPLICA_PREFIX"] as const) {
    const prefix = str(name).replace(/^\/+/, "");
    const normalized = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
    const segments = normalized.split("/").slice(0, -1);
    if (normalized.includes("\\") || segments.some((s) => s === "" || s === "." || s === "..")) {
      problems.push(
        `${shown(name)}: expected folder names separated by / (no empty, . or .. part, no backslash)`,
      );
    }
  }
  if (str("S3_SSE_KMS_KEY_ID") && str("S3_SSE") !== "aws:kms") {
    problems.push(
      `${shown("S3_SSE_KMS_KEY_ID")}: only used with ${label("S3_SSE")}=aws:kms (it is ${JSON.stringify(str("S3_SSE"))})`,
    );
  }
  if (Boolean(str("AWS_ACCESS_KEY_ID")) !== Boolean(str("AWS_SECRET_ACCESS_KEY"))) {
    const [set, unset] = str("AWS_ACCESS_KEY_ID")
      ? (["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] as const)
      : (["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"] as const);
    problems.push(`${label(unset)}="": must be set together with ${label(set)}`);
  }
  if (str("AWS_SESSION_TOKEN") && !str("AWS_ACCESS_KEY_ID")) {
    problems.push(
      `${label("AWS_SESSION_TOKEN")}=***: needs ${label("AWS_ACCESS_KEY_ID")} and ${label("AWS_SECRET_ACCESS_KEY")}`,
    );
  }
  if (!str("S3_REPLICA_BUCKET")) {
    for (const name of ["S3_REPLICA_PREFIX", "S3_REPLICA_ENDPOINT", "S3_REPLICA_REGION"] as const) {
      if (str(name)) problems.push(`${shown(name)}: set, but ${label("S3_REPLICA_BUCKET")} is empty`);
    }
  } else if (!str("S3_BUCKET")) {
    problems.push(
      `${shown("S3_REPLICA_BUCKET")}: a replica needs a primary bucket, but ${label("S3_BUCKET")} is empty`,
    );
  } else if (
    str("S3_REPLICA_BUCKET") === str("S3_BUCKET") &&
    (str("S3_REPLICA_ENDPOINT") || str("S3_ENDPOINT")) === str("S3_ENDPOINT") &&
    normalizePrefix(str("S3_REPLICA_PREFIX") || str("S3_PREFIX")) === normalizePrefix(str("S3_PREFIX"))
  ) {
    problems.push(
      `${shown("S3_REPLICA_BUCKET")}: the replica is the primary itself (same endpoint, bucket and prefix)`,
    );
  }
  return problems;
}

function normalizePrefix(prefix: string): string {
  const p = prefix.replace(/^\/+/, "");
  return p === "" || p.endsWith("/") ? p : `${p}/`;
}

/** LanceDB's rule for table names (its message: "alphanumeric characters, underscores, hyphens, and periods"). */
const TABLE_NAME = /^[A-Za-z0-9_.-]+$/;

/** The `.env` file's variables; a missing file is fine, a directory or unreadable file is a config error. */
function readEnvFile(file: string): Record<string, string> {
  let st: Stats | undefined;
  try {
    st = statSync(file, { throwIfNoEntry: false });
  } catch (err) {
    throw new SyncError(
      "SYNC_E_CONFIG_INVALID",
      `invalid configuration: .env file ${file}: ${(err as Error).message}`,
    );
  }
  if (!st) return {};
  if (st.isDirectory()) {
    throw new SyncError(
      "SYNC_E_CONFIG_INVALID",
      `invalid configuration: .env file ${JSON.stringify(file)} is a directory; remove it or make it a file of VAR=value lines`,
    );
  }
  try {
    return parseDotenv(readFileSync(file));
  } catch (err) {
    throw new SyncError(
      "SYNC_E_CONFIG_INVALID",
      `invalid configuration: .env file ${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Checks the paths of the configuration before anything is created: `LANCEDB_URI` (a local one) must be a
 * directory or creatable as one (so must `BACKUP_DIR`, when set), `STATE_DB_PATH` and `LOG_FILE` must not be directories and their folders must
 * be creatable — on a real, writable file system (under `/proc` or `/sys` Node's recursive `mkdir` never
 * returns). Throws `SYNC_E_CONFIG_INVALID` naming each bad variable and its value. Creates nothing.
 */
export function checkConfigPaths(config: Config): void {
  const problems: string[] = [];
  const check = (name: EnvVarName, value: string, kind: "file" | "dir"): void => {
    const problem = pathProblem(value, kind);
    if (problem) problems.push(`${name}=${JSON.stringify(value)}: ${problem}`);
  };
  if (!config.lancedbUri.includes("://")) check("LANCEDB_URI", config.lancedbUri, "dir");
  if (config.stateDbPath !== ":memory:") check("STATE_DB_PATH", config.stateDbPath, "file");
  if (config.logFile) check("LOG_FILE", config.logFile, "file");
  if (config.backupDir) check("BACKUP_DIR", config.backupDir, "dir");
  if (problems.length > 0) {
    throw new SyncError("SYNC_E_CONFIG_INVALID", `invalid configuration: ${problems.join(", ")}`);
  }
}

/** Linux magic numbers of virtual file systems where nothing can be created (proc, sysfs, cgroup, ...). */
const VIRTUAL_FS = new Map<number, string>([
  [0x9fa0, "proc"],
  [0x62656572, "sysfs"],
  [0x27e0eb, "cgroup"],
  [0x63677270, "cgroup2"],
  [0x64626720, "debugfs"],
  [0x73636673, "securityfs"],
  [0x1cd1, "devpts"],
]);

function virtualFs(path: string): string | undefined {
  try {
    return VIRTUAL_FS.get(Number(statfsSync(path).type));
  } catch {
    return undefined;
  }
}

function pathProblem(path: string, kind: "file" | "dir"): string | undefined {
  const abs = resolve(path);
  const st = statOrUndefined(abs);
  if (st) {
    if (kind === "dir" && !st.isDirectory()) return "exists and is not a directory";
    if (kind === "file" && st.isDirectory()) return "is a directory; give the path of a file";
    const fs = virtualFs(abs);
    return fs ? `lies on the virtual ${fs} file system` : undefined;
  }
  // The nearest existing ancestor must be a writable directory on a real file system.
  let cur = dirname(abs);
  let found = statOrUndefined(cur);
  while (!found && dirname(cur) !== cur) {
    cur = dirname(cur);
    found = statOrUndefined(cur);
  }
  if (!found) return `no part of ${abs} exists`;
  if (!found.isDirectory()) return `${cur} is not a directory, so ${abs} cannot be created`;
  const fs = virtualFs(cur);
  if (fs) return `${cur} is on the virtual ${fs} file system, where ${abs} cannot be created`;
  try {
    accessSync(cur, constants.W_OK);
  } catch {
    return `${cur} is not writable, so ${abs} cannot be created`;
  }
  return undefined;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function deepFreeze<T extends object>(obj: T): T {
  for (const value of Object.values(obj)) if (value && typeof value === "object") deepFreeze(value);
  return Object.freeze(obj);
}
