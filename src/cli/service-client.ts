import { loadConfig } from "../config/load-config.js";
import { ERROR_CODES, type ErrorCode } from "../errors/codes.js";
import { describeError, SyncError } from "../errors/sync-error.js";
import { runPlain } from "./run-command.js";

/** A running lancedb-sync service as the CLI talks to it (`--url`, `LANCEDB_SYNC_URL`). */
export interface ServiceClient {
  readonly url: string;
  /** `GET path` (relative to the service URL); the answer's JSON, or the service's error as a `SyncError`. */
  get<T>(path: string): Promise<T>;
  /** `POST path` with a JSON body. */
  post<T>(path: string, body?: unknown): Promise<T>;
}

/** How long one request may take before the service counts as unreachable. */
const REQUEST_TIMEOUT_MS = 120_000;

/**
 * A client of the service at `url` sending `apiKey` as a bearer token. Errors the service answers with keep
 * their `SYNC_E_*` code; a service that cannot be reached is `SYNC_E_SERVICE_UNREACHABLE`; a missing key is
 * `SYNC_E_UNAUTHORIZED` before anything is sent. The key never appears in an error message.
 */
export function serviceClient(url: string, apiKey: string): ServiceClient {
  let base: URL;
  try {
    base = new URL(url.endsWith("/") ? url : `${url}/`);
  } catch (err) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", `--url ${JSON.stringify(url)}: not a URL`, { cause: err });
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `--url ${JSON.stringify(url)}: expected http:// or https://`,
    );
  }
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    if (!apiKey) {
      throw new SyncError(
        "SYNC_E_UNAUTHORIZED",
        `${base.origin} needs an API key: set LANCEDB_SYNC_API_KEY (lancedb-sync keys create --user <id>)`,
      );
    }
    const target = new URL(path.replace(/^\//, ""), base);
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers: {
          authorization: `Bearer ${apiKey}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new SyncError("SYNC_E_SERVICE_UNREACHABLE", `${target.origin}: ${describeError(err)}`, {
        cause: err,
      });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      const code: ErrorCode = e?.code && e.code in ERROR_CODES ? (e.code as ErrorCode) : "SYNC_E_INTERNAL";
      throw new SyncError(code, `${method} ${target.pathname}: ${e?.message ?? `HTTP ${res.status}`}`);
    }
    if (parsed === undefined) {
      throw new SyncError(
        "SYNC_E_SERVICE_UNREACHABLE",
        `${target.origin} answered ${method} ${target.pathname} with no JSON`,
      );
    }
    return parsed as T;
  };
  return {
    url: base.href,
    get: (path) => call("GET", path),
    post: (path, body) => call("POST", path, body),
  };
}

/** `LANCEDB_SYNC_URL` when set (a bad configuration is reported by the command that reads it). */
function configuredUrl(): string | undefined {
  try {
    return loadConfig().client.url || undefined;
  } catch {
    return undefined;
  }
}

/**
 * For commands that can ask a running service: when `--url` is given, or `LANCEDB_SYNC_URL` is set and
 * `--local` is not, runs `fn` with a client of that service (the key from `LANCEDB_SYNC_API_KEY`), sets the
 * exit code like every command, and returns true; otherwise returns false and the command works locally.
 */
export async function runRemote(
  opts: { url?: string; local?: boolean; json?: boolean },
  fn: (client: ServiceClient) => Promise<number>,
): Promise<boolean> {
  const url = opts.url ?? (opts.local ? undefined : configuredUrl());
  if (!url) return false;
  await runPlain(opts.json === true, () => fn(serviceClient(url, loadConfig().client.apiKey)));
  return true;
}
