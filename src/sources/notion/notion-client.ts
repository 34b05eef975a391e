import { Client, LogLevel } from "@notionhq/client";
import type { Logger } from "../../core/logger.js";
import { sharedBucket, tokenId } from "./notion-rate-limit.js";

/** Options of {@link createNotionClient}. */
export interface NotionClientOptions {
  /** The integration token (a secret: never logged, never stored). */
  token: string;
  /** Notion's address (`NOTION_API_BASE_URL`). */
  baseUrl: string;
  /** Requests per second shared by every client of the same token (`NOTION_REQUESTS_PER_SECOND`). */
  requestsPerSecond: number;
  logger: Logger;
  /** Per-request timeout (ms); default 60 000. */
  timeoutMs?: number;
  /** Retries of 429 / 529 (every method) and 500 / 503 (GET); default 8. */
  maxRetries?: number;
  /** First back-off when a retryable answer has no `Retry-After` (ms); default 1000. */
  initialRetryDelayMs?: number;
  /** Longest wait before a retry, `Retry-After` included (ms); default 60 000. */
  maxRetryDelayMs?: number;
}

/**
 * A Notion client (`@notionhq/client`, its default `Notion-Version`, 2025-09-03) whose every HTTP request —
 * retries included — first takes a token from the token's shared bucket, that retries 429 with `Retry-After`
 * up to `maxRetries` times, and that logs each such wait at warn (with a hash of the token, never the token).
 */
export function createNotionClient(options: NotionClientOptions): Client {
  const bucket = sharedBucket(options.token, options.requestsPerSecond);
  const integration = tokenId(options.token);
  const { logger } = options;
  const limited: typeof fetch = async (input, init) => {
    await bucket.take();
    return fetch(input, init);
  };
  return new Client({
    auth: options.token,
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    timeoutMs: options.timeoutMs ?? 60_000,
    fetch: limited,
    retry: {
      maxRetries: options.maxRetries ?? 8,
      initialRetryDelayMs: options.initialRetryDelayMs ?? 1000,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 60_000,
    },
    logLevel: LogLevel.INFO,
    logger: (level, message, extra) => {
      // The client logs every request at info; only its waits and failures matter here.
      if (message === "retrying request") {
        logger.warn(
          { integration, path: extra.path, attempt: extra.attempt, wait_ms: extra.delayMs },
          "notion: rate limited or unavailable; waiting before retrying",
        );
      } else if (level === LogLevel.WARN || level === LogLevel.ERROR) {
        logger.debug({ integration, path: extra.path, code: extra.code }, `notion: ${message}`);
      }
    },
  });
}

/** The SDK's error checks, for code that loads this module only with a client. */
export { APIResponseError, isNotionClientError } from "@notionhq/client";
