import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the server received, recorded before any behaviour runs. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/embeddings`. */
  path: string;
  /** Node's lower-cased header map, e.g. `headers.authorization`. */
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON, or the raw text when it is not JSON (or `undefined` when empty). */
  body: unknown;
}

/**
 * What to answer to one request:
 * - `"default"`: the normal behaviour (validation, auth, deterministic embeddings);
 * - `"hang"`: never answer; the connection stays open until the client gives up or the server closes;
 * - `"destroy"`: drop the connection without answering (a network error on the client side);
 * - an object: the given status, headers and body (JSON-encoded unless it is a string), after `delayMs`.
 *   When `body` is omitted the default response is sent with the given status, headers and delay.
 */
export type EmbeddingsReply =
  | "default"
  | "hang"
  | "destroy"
  | { status?: number; headers?: Record<string, string>; body?: unknown; delayMs?: number };

/** Helpers handed to a behaviour. */
export interface BehaviourContext {
  /** 0-based number of this request among all the server has received since start or `reset()`. */
  index: number;
  /** The body the default behaviour would answer with (a 200 body, or an OpenAI-style error body). */
  defaultResponse(): { status: number; body: unknown };
}

/** Decides the reply to each request; may be async (e.g. to delay or to count parallel requests). */
export type Behaviour = (
  request: RecordedRequest,
  context: BehaviourContext,
) => EmbeddingsReply | Promise<EmbeddingsReply>;

/** Options of {@link startEmbeddingsServer}. */
export interface EmbeddingsServerOptions {
  /** Vector width when the request does not ask for `dimensions` (default 16). */
  dimensions?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`, else 401 (whose message echoes the key sent). */
  apiKey?: string;
  /** Return `data` in a deterministic non-index order (reversed), as servers are allowed to. */
  shuffle?: boolean;
  /**
   * When set, the default behaviour refuses a request with any input longer than this many characters with a
   * 400 like OpenAI's "maximum context length" error (a stand-in for a model's token limit).
   */
  maxInputChars?: number;
  /** Initial behaviour; `undefined` means always `"default"`. */
  behaviour?: Behaviour;
}

/** A running fake embeddings server. */
export interface EmbeddingsServer {
  /** Base URL to configure a client with: `http://127.0.0.1:PORT/v1`. */
  url: string;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  /** Replaces the behaviour; `undefined` restores the default. */
  setBehaviour(fn: Behaviour | undefined): void;
  /** Clears `requests`, restores the initial behaviour and restarts `index` at 0. */
  reset(): void;
  /** Stops listening and drops every open connection, including hanging ones. */
  close(): Promise<void>;
}

/**
 * The deterministic vector the server returns for `text` at `dimensions` width: floats in [-1, 1) derived from
 * SHA-256 of the text (not normalised). Tests compare client results against it.
 */
export function embeddingFor(text: string, dimensions = 16): number[] {
  const out: number[] = [];
  for (let block = 0; out.length < dimensions; block++) {
    const digest = createHash("sha256").update(`${block}\0${text}`).digest();
    for (let i = 0; i + 4 <= digest.length && out.length < dimensions; i += 4) {
      // Float32-representable values, so a Float32Array round-trip is exact.
      out.push(Math.fround(digest.readUInt32BE(i) / 2 ** 31 - 1));
    }
  }
  return out;
}

/**
 * A behaviour answering with `replies` in order (one per request), then `"default"` for every later request.
 * Example: `sequence([{ status: 429, headers: { "retry-after": "0" }, body: { error: { message: "slow down" } } }])`.
 */
export function sequence(replies: readonly EmbeddingsReply[]): Behaviour {
  let next = 0;
  return () => replies[next++] ?? "default";
}

/**
 * Starts an OpenAI-compatible `POST /v1/embeddings` server on 127.0.0.1 (random port). By default it validates
 * the request like OpenAI does (JSON body, `model`, non-empty string or string-array `input`, `encoding_format`
 * float if given, optional positive-integer `dimensions`) and answers `{ object, data: [{ object, index,
 * embedding }], model, usage }` with {@link embeddingFor} vectors of the requested or configured width.
 * Failures can be scripted with {@link EmbeddingsServer.setBehaviour} / {@link sequence}.
 */
export async function startEmbeddingsServer(
  options: EmbeddingsServerOptions = {},
): Promise<EmbeddingsServer> {
  const width = options.dimensions ?? 16;
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let behaviour = options.behaviour;
  let count = 0;

  const defaultResponse = (req: RecordedRequest): { status: number; body: unknown } => {
    const error = (status: number, message: string, type = "invalid_request_error") => ({
      status,
      body: { error: { message, type, param: null, code: null } },
    });
    if (req.path !== "/v1/embeddings") return error(404, `no route ${req.method} ${req.path}`, "not_found");
    if (req.method !== "POST") return error(405, `method ${req.method} not allowed`);
    if (options.apiKey !== undefined) {
      const auth = req.headers.authorization;
      if (auth !== `Bearer ${options.apiKey}`) {
        const sent = auth?.replace(/^Bearer /, "") ?? "";
        return error(401, `Incorrect API key provided: ${sent}.`);
      }
    }
    const body = req.body;
    if (typeof body !== "object" || body === null) return error(400, "body must be a JSON object");
    const { model, input, encoding_format: format, dimensions } = body as Record<string, unknown>;
    if (typeof model !== "string" || model === "") return error(400, "'model' is required");
    const inputs = typeof input === "string" ? [input] : input;
    if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((s) => typeof s === "string")) {
      return error(400, "'input' must be a string or a non-empty array of strings");
    }
    if (inputs.some((s) => s === ""))
      return error(400, "'$.input' is invalid: empty strings are not allowed");
    const max = options.maxInputChars;
    const tooLong = max === undefined ? undefined : inputs.find((s: string) => s.length > max);
    if (tooLong !== undefined) {
      return error(
        400,
        `This model's maximum context length is ${max} characters, however you requested ` +
          `${tooLong.length} characters. Please reduce the length of the input.`,
      );
    }
    if (format !== undefined && format !== "float")
      return error(400, "only encoding_format float is supported");
    if (dimensions !== undefined && !(Number.isInteger(dimensions) && (dimensions as number) > 0)) {
      return error(400, "'dimensions' must be a positive integer");
    }
    const dims = (dimensions as number | undefined) ?? width;
    const data = inputs.map((text: string, index) => ({
      object: "embedding",
      index,
      embedding: embeddingFor(text, dims),
    }));
    if (options.shuffle) data.reverse();
    const tokens = inputs.reduce((n: number, s: string) => n + s.split(/\s+/).length, 0);
    return {
      status: 200,
      body: { object: "list", data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } },
    };
  };

  const send = (res: ServerResponse, status: number, headers: Record<string, string>, body: unknown) => {
    if (res.destroyed) return;
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(text);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = raw === "" ? undefined : JSON.parse(raw);
      } catch {
        body = raw;
      }
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        path: url.pathname,
        headers: req.headers,
        body,
      };
      requests.push(recorded);
      const context: BehaviourContext = { index: count++, defaultResponse: () => defaultResponse(recorded) };
      Promise.resolve(behaviour ? behaviour(recorded, context) : "default")
        .then((reply) => {
          if (reply === "hang") return;
          if (reply === "destroy") {
            req.socket.destroy();
            return;
          }
          const spec = reply === "default" ? {} : reply;
          const respond = () => {
            const fallback = spec.body === undefined ? context.defaultResponse() : undefined;
            send(
              res,
              spec.status ?? fallback?.status ?? 200,
              spec.headers ?? {},
              spec.body ?? fallback?.body,
            );
          };
          if (spec.delayMs === undefined) {
            respond();
            return;
          }
          const timer = setTimeout(() => {
            timers.delete(timer);
            respond();
          }, spec.delayMs);
          timers.add(timer);
        })
        .catch((err: unknown) =>
          send(res, 500, {}, { error: { message: `behaviour threw: ${String(err)}` } }),
        );
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    setBehaviour(fn) {
      behaviour = fn;
    },
    reset() {
      requests.length = 0;
      behaviour = options.behaviour;
      count = 0;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
