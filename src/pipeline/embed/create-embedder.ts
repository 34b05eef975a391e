import type { Config } from "../../config/load-config.js";
import type { Embedder } from "../../core/embedder.js";
import { HashingEmbedder } from "./hashing-embedder.js";

/** Embedder settings as configured (see `EMBEDDING_*`). */
export type EmbedderSettings = Config["embedding"];

/**
 * Builds the configured embedder. The OpenAI-compatible provider is loaded lazily and, when no dimensions
 * are configured, asks the server once for them.
 */
export async function createEmbedder(settings: EmbedderSettings, signal?: AbortSignal): Promise<Embedder> {
  if (settings.provider === "hashing") return new HashingEmbedder({ dimensions: settings.dimensions });
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
