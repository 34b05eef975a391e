import { readFileSync, statSync } from "node:fs";
import { parse as parseDotenv } from "dotenv";
import { DEPRECATED_ENV_VARS, ENV_VARS } from "./schema.js";

/** Variables other tools read that may sit in the same `.env` (the AWS SDK, LanceDB, Node). */
const OTHERS = /^(AWS_|LANCE_|LANCEDB_LOG$|NODE_|MALLOC_|UV_THREADPOOL_SIZE$|HTTPS?_PROXY$|NO_PROXY$)/i;
/** Prefixes of lancedb-sync's own settings: an unknown key with one is almost surely a typo. */
const OURS =
  /^(LANCEDB_|EMBEDDING_|EMBEDING_|S3_|API_|LOG_|WATCH_|MAX_|TEXT_|WRITE_|LOCK_|RETRY_|SYNC_|TLS_)/i;

/**
 * Warnings about the configuration that do not stop a command: a key in the `.env` file that is no setting
 * (`EMBEDING_PROVIDER`, `LANCEDB_URL`: named with the closest known key, and ignored), and an old name still
 * accepted (`CHUNK_SIZE_MB`, in the file or the environment). Keys of other tools (`AWS_*`, `NODE_*`, …) and
 * keys far from every setting are not warned about. Never throws (loading the config reports bad files).
 */
export function configWarnings(envFile = ".env", env: NodeJS.ProcessEnv = process.env): string[] {
  const fromFile = readQuietly(envFile);
  const known = Object.keys(ENV_VARS);
  const warnings: string[] = [];
  for (const [old, current] of Object.entries(DEPRECATED_ENV_VARS)) {
    const where = env[old] !== undefined ? "the environment" : old in fromFile ? envFile : undefined;
    if (where) warnings.push(`${old} (in ${where}) is deprecated: it is now called ${current}; rename it`);
  }
  for (const key of Object.keys(fromFile)) {
    if (key in ENV_VARS || key in DEPRECATED_ENV_VARS || OTHERS.test(key)) continue;
    const [closest, distance] = nearest(key.toUpperCase(), known);
    const close = closest !== undefined && distance <= Math.max(2, Math.floor(key.length / 4));
    if (!close && !OURS.test(key)) continue;
    warnings.push(
      `${envFile}: unknown setting ${key} is ignored${close ? ` — did you mean ${closest}?` : ""} ` +
        "(README lists every setting)",
    );
  }
  return warnings;
}

function readQuietly(file: string): Record<string, string> {
  try {
    if (!statSync(file, { throwIfNoEntry: false })?.isFile()) return {};
    return parseDotenv(readFileSync(file));
  } catch {
    return {};
  }
}

/** The key of `candidates` nearest to `word` by edit distance, with that distance. */
function nearest(word: string, candidates: readonly string[]): [string | undefined, number] {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return [best, bestDistance];
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = cur;
  }
  return prev[b.length] as number;
}
