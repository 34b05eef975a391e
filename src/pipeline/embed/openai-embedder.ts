import type { Embedder } from "../../core/embedder.js";
import { describeError, SyncError } from "../../errors/sync-error.js";

/** Options of {@link OpenAIEmbedder}. */
export interface OpenAIEmbedderOptions {
  /** API root such as `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`; requests go to `${baseUrl}/embeddings`. */
  baseUrl: string;
  /** Model name sent with every request. */
  model: string;
  /** Sent as `Authorization: Bearer <apiKey>`; never logged and redacted from error messages. */
  apiKey?: string;
  /** When set, sent as `dimensions` and enforced on responses; when unset, learned from the first response. */
  dimensions?: number;
  /** Maximum inputs per request (default 64). */
  batchSize?: number;
  /** Retries after the first attempt on network errors, timeouts, 408, 409, 429 and 5xx (default 4). */
  maxRetries?: number;
  /** First backoff delay in ms when the server sends no Retry-After; doubles per retry, with jitter (default 500). */
  retryBaseMs?: number;
  /** Per-request timeout in ms, covering the response body (default 60000). */
  timeoutMs?: number;
  /**
   * Total time in ms one `embed` call may take, every request, retry and backoff wait included (default
   * 180000). When it passes, the call fails with a retryable `SYNC_E_EMBEDDING_FAILED` naming both limits:
   * a server that accepts connections and never answers cannot hold a run for `timeoutMs × (maxRetries + 1)`
   * plus the backoff.
   */
  deadlineMs?: number;
  /** Requests in flight at once within one `embed` call (default 2). */
  concurrency?: number;
  /**
   * Send `apiKey` to a plain `http://` URL whose host is not loopback. Default false: such a configuration is
   * refused with `SYNC_E_CONFIG_INVALID`, since the key would cross the network in clear.
   */
  allowInsecureHttp?: boolean;
  /** Replacement for the global `fetch` (tests only). */
  fetch?: typeof fetch;
}

const PROVIDER = "openai-compatible";

/** The id of the OpenAI-compatible embedder for `model` at `dimensions` (recorded with the tables). */
export function openAIEmbedderId(model: string, dimensions: number | string): string {
  return `${PROVIDER}:${model}:${dimensions}`;
}
const MAX_RETRY_DELAY_MS = 30_000;
const MAX_DETAIL_CHARS = 300;
const PROBE_INPUT = "dimension probe";
/** Statuses by which a server refuses the input itself: retrying the same texts cannot succeed. */
const REJECTED_STATUSES: ReadonlySet<number> = new Set([400, 413, 422]);

type Attempt =
  | { kind: "ok"; json: unknown }
  | { kind: "retry"; reason: string; cause?: unknown; delayMs?: number };

/**
 * {@link Embedder} for any server speaking OpenAI's `POST /embeddings` (OpenAI, Ollama, vLLM, TEI, LiteLLM...).
 * Splits input into batches of `batchSize`, runs up to `concurrency` requests at once and retries transient
 * failures. How answers map to errors:
 * - 400, 413, 422 (the server refuses the input itself, e.g. a text over the model's token limit): not
 *   retried; `SYNC_E_EMBEDDING_REJECTED` (retryable false).
 * - 401, 403 (bad key), 404 (wrong URL or model), any other 4xx, a malformed 2xx: not retried;
 *   `SYNC_E_EMBEDDING_FAILED` with retryable false (a run-level problem, not an item's).
 * - 408, 409, 429, 5xx, network errors, timeouts: retried up to `maxRetries` times (honouring Retry-After),
 *   then `SYNC_E_EMBEDDING_FAILED` with retryable true.
 *
 * A 400 is taken as a refusal of the input, though a server may also answer 400 to a bad setting (an
 * unsupported `dimensions`); then every input is refused. Messages carry the HTTP status and the server's
 * detail, truncated and with the key redacted. When the caller's signal aborts, `embed` rejects promptly with
 * the signal's reason, as `fetch` does.
 *
 * The constructor refuses (`SYNC_E_CONFIG_INVALID`) to send a key over plain `http://` to a host that is not
 * loopback (`127.0.0.0/8`, `::1`, `localhost`) unless `allowInsecureHttp` is set.
 *
 * Without configured `dimensions`, `id` and `dimensions` throw `SYNC_E_INTERNAL` until a first response has
 * been received; use {@link createOpenAIEmbedder} to get an instance where they are known.
 */
export class OpenAIEmbedder implements Embedder {
  readonly normalized = false;
  readonly #model: string;
  readonly #apiKey: string | undefined;
  readonly #configuredDimensions: number | undefined;
  readonly #batchSize: number;
  readonly #maxRetries: number;
  readonly #retryBaseMs: number;
  readonly #timeoutMs: number;
  readonly #deadlineMs: number;
  readonly #concurrency: number;
  readonly #fetch: typeof fetch;
  readonly #url: string;
  /** The URL without credentials or query, safe for messages. */
  readonly #displayUrl: string;
  #dimensions: number | undefined;

  /** Validates `options`; throws `SyncError("SYNC_E_CONFIG_INVALID")` on a bad value. Sends nothing. */
  constructor(options: OpenAIEmbedderOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch (err) {
      throw configError("baseUrl", "is not a valid URL", err);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw configError("baseUrl", "must be http or https");
    url.pathname = url.pathname.replace(/\/+$/, "");
    const baseDisplay = `${url.origin}${url.pathname}`;
    url.pathname = `${url.pathname}/embeddings`;
    this.#url = url.href;
    this.#displayUrl = `${url.origin}${url.pathname}`;
    if (typeof options.model !== "string" || options.model.trim() === "")
      throw configError("model", "is empty");
    this.#model = options.model;
    this.#apiKey = options.apiKey === "" ? undefined : options.apiKey;
    const insecure = url.protocol === "http:" && !isLoopback(url.hostname);
    if (this.#apiKey !== undefined && insecure && options.allowInsecureHttp !== true) {
      throw new SyncError(
        "SYNC_E_CONFIG_INVALID",
        `${PROVIDER}: EMBEDDING_BASE_URL ${baseDisplay} is plain http to a host that is not loopback: ` +
          "the API key would cross the network in clear; use https, or set EMBEDDING_ALLOW_INSECURE_HTTP=true " +
          "if the network is trusted",
      );
    }
    this.#configuredDimensions = checkInt("dimensions", options.dimensions, 1);
    this.#dimensions = this.#configuredDimensions;
    this.#batchSize = checkInt("batchSize", options.batchSize, 1) ?? 64;
    this.#maxRetries = checkInt("maxRetries", options.maxRetries, 0) ?? 4;
    this.#retryBaseMs = checkInt("retryBaseMs", options.retryBaseMs, 0) ?? 500;
    this.#timeoutMs = checkInt("timeoutMs", options.timeoutMs, 1) ?? 60_000;
    this.#deadlineMs = checkInt("deadlineMs", options.deadlineMs, 1) ?? 180_000;
    this.#concurrency = checkInt("concurrency", options.concurrency, 1) ?? 2;
    this.#fetch = options.fetch ?? fetch;
  }

  /** `openai-compatible:<model>:<dimensions>`; independent of URL and key. */
  get id(): string {
    return openAIEmbedderId(this.#model, this.dimensions);
  }

  /** Configured width, or the width learned from the first response. */
  get dimensions(): number {
    if (this.#dimensions === undefined) {
      throw new SyncError(
        "SYNC_E_INTERNAL",
        `${PROVIDER}: dimensions of ${this.#model}: not known before the first response; use createOpenAIEmbedder()`,
      );
    }
    return this.#dimensions;
  }

  /** See {@link Embedder.embed}. Empty strings are sent as " " because OpenAI rejects empty inputs. */
  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    signal?.throwIfAborted();
    if (texts.length === 0) return [];
    const out = new Array<Float32Array>(texts.length);
    const batchCount = Math.ceil(texts.length / this.#batchSize);
    // Aborted on the first failure so sibling requests stop instead of running to completion.
    const stop = new AbortController();
    // The total deadline of this call: aborts requests in flight and backoff waits alike.
    const deadline = AbortSignal.timeout(this.#deadlineMs);
    const combined = AbortSignal.any(signal ? [signal, stop.signal, deadline] : [stop.signal, deadline]);
    const state: { next: number; failure?: { error: unknown } } = { next: 0 };
    const worker = async (): Promise<void> => {
      while (state.failure === undefined && state.next < batchCount) {
        const start = state.next++ * this.#batchSize;
        try {
          const vectors = await this.#embedBatch(texts.slice(start, start + this.#batchSize), combined);
          for (const [i, vector] of vectors.entries()) out[start + i] = vector;
        } catch (error) {
          if (state.failure === undefined) {
            state.failure = { error };
            stop.abort();
          }
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, batchCount) }, worker));
    if (state.failure !== undefined) {
      const { error } = state.failure;
      if (deadline.aborted && error === deadline.reason && !signal?.aborted) {
        throw this.#fail(
          `no result within the ${this.#deadlineMs} ms deadline of one embedding call (EMBEDDING_DEADLINE_MS; ` +
            `each request times out after ${this.#timeoutMs} ms, EMBEDDING_TIMEOUT_MS, and is retried up to ` +
            `${this.#maxRetries} times)`,
          true,
        );
      }
      throw error;
    }
    return out;
  }

  async #embedBatch(texts: readonly string[], signal: AbortSignal): Promise<Float32Array[]> {
    const body = JSON.stringify({
      model: this.#model,
      input: texts.map((t) => (t === "" ? " " : t)),
      encoding_format: "float",
      ...(this.#configuredDimensions === undefined ? {} : { dimensions: this.#configuredDimensions }),
    });
    for (let retry = 0; ; retry++) {
      signal.throwIfAborted();
      const attempt = await this.#attempt(body, texts.length, signal);
      if (attempt.kind === "ok") return this.#parse(attempt.json, texts.length);
      if (retry >= this.#maxRetries) {
        throw this.#fail(`gave up after ${retry + 1} attempt(s): ${attempt.reason}`, true, attempt.cause);
      }
      const delay = attempt.delayMs ?? backoff(this.#retryBaseMs, retry);
      await sleep(Math.min(delay, MAX_RETRY_DELAY_MS), signal);
    }
  }

  /** One HTTP round trip. Returns a retry verdict for transient failures; throws for permanent ones. */
  async #attempt(body: string, inputs: number, signal: AbortSignal): Promise<Attempt> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    const doFetch = this.#fetch;
    let response: Response;
    let text: string;
    try {
      response = await doFetch(this.#url, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.any([signal, timeout]),
      });
      text = await response.text();
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (timeout.aborted)
        return { kind: "retry", reason: `no response within ${this.#timeoutMs} ms`, cause: err };
      return { kind: "retry", reason: `network error: ${this.#redact(describeError(err))}`, cause: err };
    }
    if (response.ok) {
      try {
        return { kind: "ok", json: JSON.parse(text) };
      } catch (err) {
        throw this.#fail(`response is not JSON: ${this.#detail(text)}`, false, err);
      }
    }
    const detail = this.#detail(text);
    const reason = `HTTP ${response.status}${detail === "" ? "" : `: ${detail}`}`;
    const status = response.status;
    if (status === 408 || status === 409 || status === 429 || status >= 500) {
      const delayMs = parseRetryAfter(response.headers.get("retry-after"));
      return delayMs === undefined ? { kind: "retry", reason } : { kind: "retry", reason, delayMs };
    }
    if (REJECTED_STATUSES.has(status)) {
      throw new SyncError(
        "SYNC_E_EMBEDDING_REJECTED",
        `${PROVIDER}: POST ${this.#displayUrl}: the server refused a batch of ${inputs} input(s): ${reason}`,
      );
    }
    throw this.#fail(reason, false);
  }

  #parse(json: unknown, expected: number): Float32Array[] {
    const data = isRecord(json) ? json.data : undefined;
    if (!Array.isArray(data)) throw this.#fail("invalid response: no `data` array", false);
    if (data.length !== expected) {
      throw this.#fail(`invalid response: expected ${expected} embeddings, got ${data.length}`, false);
    }
    const out = new Array<Float32Array | undefined>(expected);
    let width = this.#dimensions;
    for (const [position, item] of data.entries()) {
      const index = isRecord(item) && item.index !== undefined ? item.index : position;
      const embedding = isRecord(item) ? item.embedding : undefined;
      if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= expected) {
        throw this.#fail(
          `invalid response: bad index ${JSON.stringify(index)} at position ${position}`,
          false,
        );
      }
      if (out[index] !== undefined) throw this.#fail(`invalid response: duplicate index ${index}`, false);
      if (!Array.isArray(embedding) || !embedding.every((x) => typeof x === "number" && Number.isFinite(x))) {
        throw this.#fail(`invalid response: embedding ${index} is not an array of finite numbers`, false);
      }
      width ??= embedding.length;
      if (embedding.length === 0 || embedding.length !== width) {
        throw this.#fail(
          `invalid response: embedding ${index} has ${embedding.length} dimensions, expected ${width}`,
          false,
        );
      }
      out[index] = Float32Array.from(embedding);
    }
    this.#dimensions = width;
    return out as Float32Array[];
  }

  /** The server's error message (`error.message`, `error`, `message` or `detail` of a JSON body, else the text). */
  #detail(text: string): string {
    let detail = text;
    try {
      const body: unknown = JSON.parse(text);
      if (isRecord(body)) {
        const error = body.error;
        const candidates = [isRecord(error) ? error.message : error, body.message, body.detail];
        const found = candidates.find((c) => typeof c === "string");
        if (typeof found === "string") detail = found;
      }
    } catch {
      // Not JSON: use the raw text.
    }
    detail = this.#redact(detail.replace(/\s+/g, " ").trim());
    return detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS)}…` : detail;
  }

  #redact(message: string): string {
    return this.#apiKey === undefined ? message : message.split(this.#apiKey).join("[redacted]");
  }

  #fail(why: string, retryable: boolean, cause?: unknown): SyncError {
    return new SyncError("SYNC_E_EMBEDDING_FAILED", `${PROVIDER}: POST ${this.#displayUrl}: ${why}`, {
      cause,
      retryable,
    });
  }
}

/**
 * Creates an {@link OpenAIEmbedder}; when `options.dimensions` is unset, first embeds one tiny input to learn
 * the width, so `id` and `dimensions` are usable on the result. Throws like `embed` when the probe fails.
 */
export async function createOpenAIEmbedder(
  options: OpenAIEmbedderOptions,
  signal?: AbortSignal,
): Promise<OpenAIEmbedder> {
  const embedder = new OpenAIEmbedder(options);
  if (options.dimensions === undefined) await embedder.embed([PROBE_INPUT], signal);
  return embedder;
}

function configError(option: string, why: string, cause?: unknown): SyncError {
  return new SyncError("SYNC_E_CONFIG_INVALID", `${PROVIDER}: option ${option}: ${why}`, { cause });
}

function checkInt(option: string, value: number | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < min) throw configError(option, `must be an integer >= ${min}`);
  return value;
}

/** True for `localhost` and loopback addresses (`127.0.0.0/8`, `::1`, `::ffff:127.x.y.z`) as WHATWG URL spells them. */
function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host === "[::1]") return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true;
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Retry-After as ms: delta-seconds or an HTTP date; `undefined` when absent or unparseable. */
function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Exponential backoff with "equal jitter": half fixed, half random. */
function backoff(baseMs: number, retry: number): number {
  const ceiling = Math.min(baseMs * 2 ** retry, MAX_RETRY_DELAY_MS);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
