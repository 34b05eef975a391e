import { availableParallelism } from "node:os";
import type { Config } from "../../config/load-config.js";
import type { Embedder } from "../../core/embedder.js";
import { HashingEmbedder } from "./hashing-embedder.js";

/** Worker threads of the hashing embedder: one per core, at least 1, at most 4. */
function hashingThreads(): number {
  return Math.min(4, Math.max(1, availableParallelism()));
}

/** Embedder settings as configured (see `EMBEDDING_*`). */
export type EmbedderSettings = Config["embedding"];

/**
 * Builds the configured embedder. The OpenAI-compatible provider is loaded lazily and, when no dimensions
 * are configured, asks the server once for them.
 */
export async function createEmbedder(settings: EmbedderSettings, signal?: AbortSignal): Promise<Embedder> {
  if (settings.provider === "hashing") {
    // Worker threads: a sync's embedding batches never hold the event loop of a host process.
    return new HashingEmbedder({ dimensions: settings.dimensions, threads: hashingThreads() });
  }
  const { createOpenAIEmbedder } = await import("./openai-embedder.js");
  return createOpenAIEmbedder(
    {
      baseUrl: settings.baseUrl,
      model: settings.model,
      apiKey: settings.apiKey || undefined,
      dimensions: settings.dimensions,
      batchSize: settings.batchSize,
      timeoutMs: settings.timeoutMs,
      deadlineMs: settings.deadlineMs,
      allowInsecureHttp: settings.allowInsecureHttp,
    },
    signal,
  );
}
