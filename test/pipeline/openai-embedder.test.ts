import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { describeError, SyncError } from "../../src/errors/sync-error.js";
import { createEmbedder, type EmbedderSettings } from "../../src/pipeline/embed/create-embedder.js";
import {
  createOpenAIEmbedder,
  OpenAIEmbedder,
  type OpenAIEmbedderOptions,
} from "../../src/pipeline/embed/openai-embedder.js";
import { rejection } from "../helpers/caught.js";
import {
  type EmbeddingsServer,
  embeddingFor,
  sequence,
  startEmbeddingsServer,
} from "../helpers/embeddings-server.js";

const API_KEY = "sk-test-0123456789abcdef";

let server: EmbeddingsServer;
let authServer: EmbeddingsServer;

beforeAll(async () => {
  server = await startEmbeddingsServer({ shuffle: true });
  authServer = await startEmbeddingsServer({ apiKey: API_KEY });
});

afterAll(async () => {
  await server.close();
  await authServer.close();
});

beforeEach(() => {
  server.reset();
  authServer.reset();
});

function embedder(options: Partial<OpenAIEmbedderOptions> = {}): OpenAIEmbedder {
  return new OpenAIEmbedder({ baseUrl: server.url, model: "test-model", retryBaseMs: 1, ...options });
}

function inputsOf(index: number): unknown {
  const body = server.requests[index]?.body as { input?: unknown } | undefined;
  return body?.input;
}

const texts = (n: number) => Array.from({ length: n }, (_, i) => `text number ${i}`);
const error500 = { status: 500, body: { error: { message: "boom" } } };

describe("OpenAIEmbedder", () => {
  it("batches N inputs into ceil(N/batchSize) requests and preserves order despite shuffled data", async () => {
    const inputs = texts(10);
    const vectors = await embedder({ batchSize: 3, dimensions: 16 }).embed(inputs);
    expect(server.requests).toHaveLength(4);
    const sizes = server.requests.map((_, i) => (inputsOf(i) as string[]).length).sort((a, b) => a - b);
    expect(sizes).toEqual([1, 3, 3, 3]);
    expect(vectors).toHaveLength(10);
    vectors.forEach((v, i) => {
      expect(v).toBeInstanceOf(Float32Array);
      expect(Array.from(v)).toEqual(embeddingFor(inputs[i] ?? "", 16));
    });
  });

  it("sends model, encoding_format float, JSON content type and no Authorization without a key", async () => {
    await embedder().embed(["a"]);
    const request = server.requests[0];
    expect(request?.path).toBe("/v1/embeddings");
    expect(request?.body).toEqual({ model: "test-model", input: ["a"], encoding_format: "float" });
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers.authorization).toBeUndefined();
  });

  it("replaces empty strings by a space, which the server would reject", async () => {
    const vectors = await embedder().embed(["", "x"]);
    expect(inputsOf(0)).toEqual([" ", "x"]);
    expect(Array.from(vectors[0] ?? [])).toEqual(embeddingFor(" ", 16));
  });

  it("returns [] for no texts without a request", async () => {
    expect(await embedder().embed([])).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it("runs at most `concurrency` requests at once", async () => {
    let inFlight = 0;
    let peak = 0;
    server.setBehaviour(async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      return "default" as const;
    });
    await embedder({ batchSize: 1, concurrency: 3 }).embed(texts(9));
    expect(server.requests).toHaveLength(9);
    expect(peak).toBe(3);
  });

  it("createOpenAIEmbedder probes the width once when dimensions are unset", async () => {
    const e = await createOpenAIEmbedder({ baseUrl: server.url, model: "test-model" });
    expect(server.requests).toHaveLength(1);
    expect(e.dimensions).toBe(16);
    expect(e.id).toBe("openai-compatible:test-model:16");
    expect(e.normalized).toBe(false);
  });

  it("createOpenAIEmbedder does not probe when dimensions are set, and sends them", async () => {
    const e = await createOpenAIEmbedder({ baseUrl: `${server.url}/`, model: "test-model", dimensions: 8 });
    expect(server.requests).toHaveLength(0);
    expect(e.id).toBe("openai-compatible:test-model:8");
    const [v] = await e.embed(["hello"]);
    expect(server.requests[0]?.body).toMatchObject({ dimensions: 8 });
    expect(Array.from(v ?? [])).toEqual(embeddingFor("hello", 8));
  });

  it("id and dimensions throw before the width is known", () => {
    const e = embedder();
    expect(() => e.dimensions).toThrow(SyncError);
    expect(() => e.id).toThrow(/not known/);
  });

  it("retries a 429 honouring Retry-After: 0, then succeeds", async () => {
    server.setBehaviour(
      sequence([{ status: 429, headers: { "retry-after": "0" }, body: { error: { message: "slow down" } } }]),
    );
    const started = Date.now();
    // retryBaseMs is large: finishing quickly proves Retry-After was used instead of the backoff.
    const vectors = await embedder({ retryBaseMs: 10_000 }).embed(["a"]);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(vectors).toHaveLength(1);
    expect(server.requests).toHaveLength(2);
  });

  it("honours Retry-After in seconds", async () => {
    server.setBehaviour(sequence([{ status: 503, headers: { "retry-after": "1" }, body: "unavailable" }]));
    const started = Date.now();
    await embedder().embed(["a"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(server.requests).toHaveLength(2);
  });

  it("retries 500 and dropped connections, then succeeds", async () => {
    server.setBehaviour(sequence([error500, "destroy", { status: 408, body: "" }]));
    const vectors = await embedder().embed(["a", "b"]);
    expect(vectors.map((v) => Array.from(v))).toEqual([embeddingFor("a"), embeddingFor("b")]);
    expect(server.requests).toHaveLength(4);
  });

  it("gives up after maxRetries with a retryable SYNC_E_EMBEDDING_FAILED", async () => {
    server.setBehaviour(() => error500);
    const err = await rejection(embedder({ maxRetries: 2 }).embed(["a"]));
    expect(err).toBeInstanceOf(SyncError);
    expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: true });
    expect((err as Error).message).toMatch(/^openai-compatible: .*3 attempt.*HTTP 500: boom/);
    expect(server.requests).toHaveLength(3);
  });

  it.each([400, 413, 422])(
    "HTTP %i is the server refusing the input: SYNC_E_EMBEDDING_REJECTED at once, not retried",
    async (status) => {
      server.setBehaviour(() => ({ status, body: { error: { message: "input too long" } } }));
      const err = await rejection(embedder().embed(["a", "b"]));
      expect(err).toBeInstanceOf(SyncError);
      expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_REJECTED", retryable: false, status: 422 });
      expect((err as Error).message).toContain(`HTTP ${status}: input too long`);
      expect((err as Error).message).toContain("batch of 2 input(s)");
      expect(server.requests).toHaveLength(1);
    },
  );

  it.each([401, 403, 404, 405])(
    "HTTP %i is a run-level problem: SYNC_E_EMBEDDING_FAILED, retryable false, not retried",
    async (status) => {
      server.setBehaviour(() => ({ status, body: { error: { message: "nope" } } }));
      const err = await rejection(embedder().embed(["a"]));
      expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: false });
      expect((err as Error).message).toContain(`HTTP ${status}: nope`);
      expect(server.requests).toHaveLength(1);
    },
  );

  it("a wrong path (the server's own 404) is SYNC_E_EMBEDDING_FAILED, not a rejection", async () => {
    const err = await rejection(embedder({ baseUrl: `${server.url}/wrong` }).embed(["a"]));
    expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: false });
    expect((err as Error).message).toContain("HTTP 404");
  });

  it.each([408, 409, 429, 500, 502, 503, 504])(
    "HTTP %i is retried, then SYNC_E_EMBEDDING_FAILED with retryable true",
    async (status) => {
      server.setBehaviour(() => ({ status, body: { error: { message: "later" } } }));
      const err = await rejection(embedder({ maxRetries: 1 }).embed(["a"]));
      expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: true });
      expect(server.requests).toHaveLength(2);
    },
  );

  it("a dropped connection is retried, then SYNC_E_EMBEDDING_FAILED with retryable true", async () => {
    server.setBehaviour(() => "destroy");
    const err = await rejection(embedder({ maxRetries: 1 }).embed(["a"]));
    expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: true });
    expect(server.requests).toHaveLength(2);
  });

  it("a text over the model's limit is rejected while the others embed", async () => {
    const limited = await startEmbeddingsServer({ maxInputChars: 20 });
    try {
      const e = new OpenAIEmbedder({ baseUrl: limited.url, model: "m", dimensions: 4, batchSize: 2 });
      const err = await rejection(e.embed(["short", "x".repeat(21)]));
      expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_REJECTED", retryable: false });
      expect((err as Error).message).toMatch(/HTTP 400: This model's maximum context length is 20/);
      expect(await e.embed(["short", "y".repeat(20)])).toHaveLength(2);
    } finally {
      await limited.close();
    }
  });

  it("a rejection's detail is truncated and never carries the key", async () => {
    server.setBehaviour(() => ({
      status: 400,
      body: { error: { message: `bad input for key ${API_KEY}: ${"z".repeat(2000)}` } },
    }));
    const err = await rejection(embedder({ apiKey: API_KEY }).embed(["a"]));
    expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_REJECTED" });
    const message = (err as Error).message;
    expect(message).toContain("bad input for key [redacted]");
    expect(message).not.toContain(API_KEY);
    expect(message.length).toBeLessThan(600);
    expect(message).toMatch(/…$/);
  });

  it("a rejection in one batch aborts its siblings and rejects the whole call", async () => {
    server.setBehaviour((request) =>
      (request.body as { input: string[] }).input[0] === "text number 0"
        ? { status: 413, body: "too large", delayMs: 50 }
        : "hang",
    );
    const started = Date.now();
    const err = await rejection(embedder({ batchSize: 1, concurrency: 2 }).embed(texts(6)));
    expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_REJECTED" });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(server.requests).toHaveLength(2);
  });

  it("sends the key as a Bearer token", async () => {
    const e = new OpenAIEmbedder({ baseUrl: authServer.url, model: "m", apiKey: API_KEY });
    await e.embed(["a"]);
    expect(authServer.requests[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it("fails at once on 401 without retry and never puts the key in the error", async () => {
    const wrongKey = "sk-wrong-key-9876543210";
    const e = new OpenAIEmbedder({ baseUrl: authServer.url, model: "m", apiKey: wrongKey, retryBaseMs: 1 });
    const err = await rejection(e.embed(["a"]));
    expect(authServer.requests).toHaveLength(1);
    expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: false });
    const message = (err as Error).message;
    expect(message).toContain("HTTP 401");
    expect(message).toContain("Incorrect API key provided");
    // The fake server echoes the key it received; the client must redact it.
    expect(describeError(err)).not.toContain(wrongKey);
    expect(JSON.stringify(err)).not.toContain(wrongKey);
  });

  it("times out a hanging server within about timeoutMs", async () => {
    server.setBehaviour(() => "hang");
    const started = Date.now();
    const err = await rejection(embedder({ timeoutMs: 300, maxRetries: 0 }).embed(["a"]));
    const elapsed = Date.now() - started;
    expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: true });
    expect((err as Error).message).toContain("no response within 300 ms");
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
  });

  describe("the total deadline of one embed call", () => {
    it("fails a call against a hanging server within about deadlineMs, naming both limits", async () => {
      server.setBehaviour(() => "hang");
      const started = Date.now();
      // Without a deadline: 11 attempts of 300 ms each, plus the backoff.
      const err = await rejection(
        embedder({ timeoutMs: 300, maxRetries: 10, deadlineMs: 800 }).embed(["a", "b"]),
      );
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(SyncError);
      expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: true });
      const message = (err as Error).message;
      expect(message).toContain("800 ms deadline");
      expect(message).toContain("EMBEDDING_DEADLINE_MS");
      expect(message).toContain("300 ms");
      expect(message).toContain("EMBEDDING_TIMEOUT_MS");
      expect(elapsed).toBeGreaterThanOrEqual(750);
      expect(elapsed).toBeLessThan(1600);
    });

    it("also cuts the backoff waits between retries short", async () => {
      server.setBehaviour(() => ({
        status: 503,
        headers: { "retry-after": "20" },
        body: { error: { message: "busy" } },
      }));
      const started = Date.now();
      const err = await rejection(embedder({ deadlineMs: 400 }).embed(["a"]));
      expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: true });
      expect((err as Error).message).toContain("400 ms deadline");
      expect(Date.now() - started).toBeLessThan(1500);
      expect(server.requests).toHaveLength(1);
    });

    it("is per call: a later call gets its own deadline, and the caller's abort still wins", async () => {
      const e = embedder({ timeoutMs: 200, deadlineMs: 500 });
      server.setBehaviour(() => "hang");
      await expect(e.embed(["a"])).rejects.toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED" });
      server.setBehaviour(undefined);
      await new Promise((r) => setTimeout(r, 100));
      expect(await e.embed(["a"])).toHaveLength(1);
      server.setBehaviour(() => "hang");
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      expect(await rejection(e.embed(["a"], controller.signal))).toBe(controller.signal.reason);
    });

    it("createEmbedder wires EMBEDDING_DEADLINE_MS through", async () => {
      server.setBehaviour(() => "hang");
      const embedderFromConfig = await createEmbedder({
        provider: "openai",
        dimensions: 16,
        model: "m",
        baseUrl: server.url,
        apiKey: "",
        batchSize: 4,
        timeoutMs: 300,
        deadlineMs: 700,
        allowInsecureHttp: false,
      });
      const started = Date.now();
      const err = await rejection(embedderFromConfig.embed(["a"]));
      expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: true });
      expect((err as Error).message).toContain("700 ms deadline");
      expect(Date.now() - started).toBeLessThan(1500);
    });

    it("validates deadlineMs", () => {
      expect(() => embedder({ deadlineMs: 0 })).toThrow(/deadlineMs/);
    });
  });

  it("retries after a timeout", async () => {
    server.setBehaviour(sequence(["hang"]));
    const vectors = await embedder({ timeoutMs: 200 }).embed(["a"]);
    expect(vectors).toHaveLength(1);
    expect(server.requests).toHaveLength(2);
  });

  it("aborts an in-flight request with the signal's reason", async () => {
    server.setBehaviour(() => "hang");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const err = await rejection(embedder().embed(["a"], controller.signal));
    expect(err).toBe(controller.signal.reason);
    expect((err as Error).name).toBe("AbortError");
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("abort stops the backoff between retries promptly", async () => {
    server.setBehaviour(() => error500);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop now")), 100);
    const started = Date.now();
    const err = await rejection(embedder({ retryBaseMs: 20_000 }).embed(["a"], controller.signal));
    expect((err as Error).message).toBe("stop now");
    expect(Date.now() - started).toBeLessThan(1000);
    expect(server.requests).toHaveLength(1);
  });

  it("does not send anything when the signal is already aborted", async () => {
    const err = await rejection(embedder().embed(["a"], AbortSignal.abort()));
    expect((err as Error).name).toBe("AbortError");
    expect(server.requests).toHaveLength(0);
  });

  it("rejects a response of the wrong width", async () => {
    server.setBehaviour(() => ({ body: { data: [{ index: 0, embedding: embeddingFor("a", 8) }] } }));
    const err = await rejection(embedder({ dimensions: 16 }).embed(["a"]));
    expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: false });
    expect((err as Error).message).toContain("has 8 dimensions, expected 16");
  });

  it("rejects a width change after the width was learned", async () => {
    const e = await createOpenAIEmbedder({ baseUrl: server.url, model: "test-model" });
    server.setBehaviour(() => ({ body: { data: [{ index: 0, embedding: embeddingFor("a", 12) }] } }));
    const err = await rejection(e.embed(["a"]));
    expect((err as Error).message).toContain("has 12 dimensions, expected 16");
    expect(e.dimensions).toBe(16);
  });

  it("rejects a response with the wrong number of embeddings", async () => {
    server.setBehaviour(() => ({ body: { data: [{ index: 0, embedding: embeddingFor("a") }] } }));
    const err = await rejection(embedder().embed(["a", "b"]));
    expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: false });
    expect((err as Error).message).toContain("expected 2 embeddings, got 1");
  });

  it("rejects a non-JSON 200 and base64 embeddings", async () => {
    server.setBehaviour(() => ({ body: "<html>proxy</html>" }));
    expect(((await rejection(embedder().embed(["a"]))) as Error).message).toContain("not JSON");
    server.setBehaviour(() => ({ body: { data: [{ index: 0, embedding: "AAAA" }] } }));
    expect(((await rejection(embedder().embed(["a"]))) as Error).message).toContain("not an array");
  });

  it("aborts in-flight sibling batches and starts no more once one fails for good", async () => {
    server.setBehaviour((request) =>
      (request.body as { input: string[] }).input[0] === "text number 0"
        ? { status: 401, body: "no", delayMs: 50 }
        : "hang",
    );
    const started = Date.now();
    const err = await rejection(embedder({ batchSize: 1, concurrency: 2 }).embed(texts(6)));
    expect(err).toMatchObject({ code: "SYNC_E_EMBEDDING_FAILED", retryable: false });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(server.requests).toHaveLength(2);
  });

  describe("an API key over plain http", () => {
    const remote = "http://embeddings.internal:8080/v1";
    const construct = (options: Partial<OpenAIEmbedderOptions>) =>
      new OpenAIEmbedder({ baseUrl: remote, model: "m", apiKey: API_KEY, ...options });

    it("is refused for a host that is not loopback, naming the URL and both settings but not the key", () => {
      for (const baseUrl of [
        remote,
        "http://10.0.0.5/v1",
        "http://0.0.0.0:11434/v1",
        "http://[fe80::1]/v1",
        "http://127.example.com/v1",
        "http://localhost.example.com/v1",
      ]) {
        let err: unknown;
        try {
          construct({ baseUrl });
        } catch (e) {
          err = e;
        }
        expect(err, baseUrl).toBeInstanceOf(SyncError);
        expect(err).toMatchObject({ code: "SYNC_E_CONFIG_INVALID", retryable: false });
        const message = (err as Error).message;
        expect(message).toContain("EMBEDDING_BASE_URL");
        expect(message).toContain(baseUrl.replace(/\/v1$/, ""));
        expect(message).toContain("EMBEDDING_ALLOW_INSECURE_HTTP");
        expect(message).not.toContain(API_KEY);
      }
    });

    it("shows the URL without credentials or query", () => {
      let err: unknown;
      try {
        construct({ baseUrl: "http://user:hunter2@10.0.0.5/v1?api-key=secret-q" });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: "SYNC_E_CONFIG_INVALID" });
      const message = (err as Error).message;
      expect(message).toContain("http://10.0.0.5/v1");
      expect(message).not.toMatch(/hunter2|secret-q|user/);
    });

    it("is allowed to loopback hosts, over https, without a key, or with allowInsecureHttp", () => {
      for (const baseUrl of [
        "http://127.0.0.1:11434/v1",
        "http://127.8.9.10/v1",
        "http://localhost:8080/v1",
        "http://LOCALHOST/v1",
        "http://[::1]:8080/v1",
        "http://[::ffff:127.0.0.1]/v1",
        "https://embeddings.internal/v1",
      ]) {
        expect(() => construct({ baseUrl }), baseUrl).not.toThrow();
      }
      expect(() => construct({ apiKey: undefined })).not.toThrow();
      expect(() => construct({ apiKey: "" })).not.toThrow();
      expect(() => construct({ allowInsecureHttp: true })).not.toThrow();
    });

    it("createEmbedder passes EMBEDDING_ALLOW_INSECURE_HTTP through", async () => {
      const settings: EmbedderSettings = {
        provider: "openai",
        dimensions: 8,
        model: "m",
        baseUrl: remote,
        apiKey: API_KEY,
        batchSize: 4,
        timeoutMs: 1000,
        deadlineMs: 180_000,
        allowInsecureHttp: false,
      };
      await expect(createEmbedder(settings)).rejects.toMatchObject({ code: "SYNC_E_CONFIG_INVALID" });
      const e = await createEmbedder({ ...settings, allowInsecureHttp: true });
      expect(e.id).toBe("openai-compatible:m:8");
    });
  });

  it("validates options", () => {
    expect(() => embedder({ batchSize: 0 })).toThrow(/batchSize/);
    expect(() => embedder({ baseUrl: "not a url" })).toThrow(/baseUrl/);
    expect(() => embedder({ model: "" })).toThrow(/model/);
    expect(() => embedder({ dimensions: 1.5 })).toThrow(/dimensions/);
  });
});
