import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import type { SourceRecord } from "../../core/journal.js";
import type { Logger } from "../../core/logger.js";
import { silentLogger } from "../../core/logger.js";
import { SyncError } from "../../errors/sync-error.js";
import type { SourceType } from "../registry.js";
import { normalizeId } from "./notion-render.js";
import { NotionSource } from "./notion-source.js";

/** Stored config of a `notion` source: references to the token, never the token. */
export interface NotionConfig {
  /** Environment variable holding the integration token (default `NOTION_TOKEN`). */
  token_env: string;
  /** Absolute path of a file holding the token (wins over `token_env` when set). */
  token_file?: string;
  /** Page, database and data source ids (dashed, lower case); empty: everything shared with the integration. */
  roots: string[];
}

/** Options of {@link createNotionType}: where tokens are read and client tuning (tests shorten the waits). */
export interface NotionTypeOptions {
  /** Variables `token_env` names are read from; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  timeoutMs?: number;
  maxRetries?: number;
  initialRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Pages edited less than this before the previous run are read again (default 5 minutes). */
  racyWindowMs?: number;
}

const CONFIG_KEYS = new Set(["token_env", "token_file", "roots"]);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Notion integration tokens (`secret_…`, `ntn_…`): refused where a variable name belongs. */
const TOKEN_LIKE = /^(secret|ntn)_[A-Za-z0-9]{20,}$/;
const NOTION_ID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

/** Checks a user's `notion` config and returns what is stored (see {@link NotionConfig}). */
export function normalizeNotionConfig(input: Record<string, unknown>): NotionConfig {
  const unknown = Object.keys(input).filter((k) => !CONFIG_KEYS.has(k));
  if (unknown.length > 0) {
    const secret = unknown.some(
      (k) => /token|secret|key/i.test(k) && k !== "token_env" && k !== "token_file",
    );
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `config: unknown setting${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} of a notion source ` +
        `(known: token_env, token_file, roots)${secret ? "; a token is never stored: name the variable (token_env) or file (token_file) that holds it" : ""}`,
    );
  }
  const tokenEnv = input.token_env ?? "NOTION_TOKEN";
  if (typeof tokenEnv === "string" && TOKEN_LIKE.test(tokenEnv)) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      "token_env: the value looks like a token; give the name of the environment variable that holds it (the token itself is never stored)",
    );
  }
  if (typeof tokenEnv !== "string" || !ENV_NAME.test(tokenEnv)) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `token_env: expected the name of an environment variable (letters, digits, _), got ${JSON.stringify(tokenEnv)}`,
    );
  }
  const config: NotionConfig = { token_env: tokenEnv, roots: [] };
  if (input.token_file !== undefined && input.token_file !== null) {
    if (typeof input.token_file !== "string" || !isAbsolute(input.token_file)) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `token_file: expected an absolute path, got ${JSON.stringify(input.token_file)}`,
      );
    }
    config.token_file = input.token_file;
  }
  const roots = input.roots ?? [];
  if (!Array.isArray(roots) || !roots.every((r) => typeof r === "string" && NOTION_ID.test(r.trim()))) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `roots: expected a list of Notion page, database or data source ids (32 hex digits), got ${JSON.stringify(roots)}`,
    );
  }
  config.roots = [...new Set((roots as string[]).map((r) => normalizeId(r.trim())))];
  return config;
}

/** The config of a stored `notion` record. */
export function notionConfig(record: Pick<SourceRecord, "config">): NotionConfig {
  const c = record.config;
  return {
    token_env: typeof c.token_env === "string" ? c.token_env : "NOTION_TOKEN",
    token_file: typeof c.token_file === "string" ? c.token_file : undefined,
    roots: Array.isArray(c.roots) ? c.roots.filter((r): r is string => typeof r === "string") : [],
  };
}

/**
 * The token a config refers to, or why there is none (a message naming the variable or file, never a
 * value). `NOTION_TOKEN` may also come from the configuration (`.env`).
 */
export function resolveNotionToken(
  config: NotionConfig,
  env: NodeJS.ProcessEnv,
  configured: string,
): { token: string } | { problem: string } {
  if (config.token_file) {
    try {
      const token = readFileSync(config.token_file, "utf8").trim();
      if (token) return { token };
      return { problem: `notion token file ${config.token_file} is empty` };
    } catch (err) {
      return {
        problem: `notion token file ${config.token_file} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`,
      };
    }
  }
  const token = env[config.token_env]?.trim() || (config.token_env === "NOTION_TOKEN" ? configured : "");
  if (token) return { token };
  return { problem: `the notion token variable ${config.token_env} is not set` };
}

/** The `notion` source type, reading tokens from `options.env` (see {@link NotionTypeOptions}). */
export function createNotionType(options: NotionTypeOptions = {}): SourceType {
  return {
    type: "notion",
    scheduled: true,
    normalizeConfig(input) {
      return { ...normalizeNotionConfig(input) };
    },
    create(record, ctx) {
      const config = notionConfig(record);
      const logger = options.logger ?? ctx.logger ?? silentLogger;
      const found = resolveNotionToken(config, options.env ?? process.env, ctx.config.notion.token);
      const client =
        "token" in found
          ? {
              token: found.token,
              baseUrl: ctx.config.notion.apiBaseUrl,
              requestsPerSecond: ctx.config.notion.requestsPerSecond,
              logger,
              timeoutMs: options.timeoutMs,
              maxRetries: options.maxRetries,
              initialRetryDelayMs: options.initialRetryDelayMs,
              maxRetryDelayMs: options.maxRetryDelayMs,
            }
          : found.problem;
      return new NotionSource({
        name: record.name,
        userId: record.userId,
        client,
        roots: config.roots,
        state: record.state,
        journal: ctx.journal,
        logger,
        racyWindowMs: options.racyWindowMs,
      });
    },
  };
}

/** `notion`: pages and databases shared with an integration (tokens from `process.env`). */
export const notionType: SourceType = createNotionType();
