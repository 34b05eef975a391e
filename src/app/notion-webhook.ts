import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { SourceRecord } from "../core/journal.js";
import { describeError, SyncError } from "../errors/sync-error.js";
import { normalizeId } from "../sources/notion/notion-render.js";
import { DATA_SOURCE_KEY } from "../sources/notion/notion-source.js";
import type { AppContext } from "./app-context.js";

/**
 * Where the verification token Notion sent in its handshake is kept: a file (mode 0600) beside the journal,
 * not the journal itself, so that it never reaches a backup. Never logged.
 */
export function notionWebhookTokenFile(stateDbPath: string): string {
  return join(dirname(stateDbPath), "notion-webhook-token");
}

function readStoredToken(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function storeToken(file: string, token: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** One delivery to `POST /api/v1/webhooks/notion`: the body exactly as received, and its signature header. */
export interface NotionWebhookInput {
  body: Uint8Array;
  /** `X-Notion-Signature` (`sha256=<hex>`), absent on the verification handshake. */
  signature: string | undefined;
}

/** What a delivery did. */
export type NotionWebhookResult =
  | { kind: "verification"; stored: boolean }
  | { kind: "event"; event: string; runs: number }
  | { kind: "ignored"; event: string; reason: string };

/**
 * Handles a Notion webhook delivery.
 * - The verification handshake (`{ "verification_token": … }`, unsigned) stores the token (see
 *   {@link notionWebhookTokenFile}) when
 *   none is configured (`NOTION_WEBHOOK_SECRET`) or stored yet; a later handshake never replaces it (set
 *   `NOTION_WEBHOOK_SECRET` to change it), so a stranger cannot swap the key events are checked with.
 * - Any other delivery must carry `X-Notion-Signature`, HMAC-SHA256 of the raw body keyed by that token,
 *   compared in constant time: otherwise `SYNC_E_UNAUTHORIZED` and nothing happens.
 * - A page (or data source) event requests a partial run of that one item (`requestChanges`, not awaited) on
 *   the `notion` sources whose journal knows it, or on every `notion` source when none does (each reads it
 *   with its own token: a source whose integration cannot see the page finds it gone and does nothing).
 *   Polling remains the safety net; nothing is deleted that Notion does not confirm gone.
 */
export function handleNotionWebhook(
  ctx: AppContext,
  input: NotionWebhookInput,
  requestChanges: (record: SourceRecord, keys: string[]) => void,
): NotionWebhookResult {
  let payload: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(input.body).toString("utf8"));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error("not an object");
    payload = parsed as Record<string, unknown>;
  } catch (err) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `notion webhook: the body is not a JSON object (${describeError(err)})`,
    );
  }
  const { journal, config, logger } = ctx;
  const configured = config.notion.webhookSecret;
  const file = notionWebhookTokenFile(config.stateDbPath);
  const stored = readStoredToken(file);

  if (typeof payload.verification_token === "string" && payload.type === undefined) {
    if (configured || stored) {
      logger.info({}, "notion webhook: verification request ignored: a verification token is already set");
      return { kind: "verification", stored: false };
    }
    storeToken(file, payload.verification_token);
    logger.warn(
      {},
      "notion webhook: verification token received and stored; read it with GET /api/v1/webhooks/notion/verification-token (admin) and paste it into Notion",
    );
    return { kind: "verification", stored: true };
  }

  const secret = configured || stored;
  if (!secret || !validSignature(input.body, input.signature, secret)) {
    throw new SyncError(
      "SYNC_E_UNAUTHORIZED",
      secret
        ? "notion webhook: X-Notion-Signature does not match the body"
        : "notion webhook: no verification token is configured or stored yet",
    );
  }

  const event = typeof payload.type === "string" ? payload.type : "";
  const entity = (payload.entity ?? {}) as Record<string, unknown>;
  const id = typeof entity.id === "string" ? normalizeId(entity.id) : "";
  let key: string;
  if (entity.type === "page" && event.startsWith("page.")) key = id;
  else if (entity.type === "data_source" && event.startsWith("data_source.")) key = `${DATA_SOURCE_KEY}${id}`;
  else return { kind: "ignored", event, reason: "not a page or data source event" };
  if (!id) return { kind: "ignored", event, reason: "no entity id" };

  const sources = journal.listSources().filter((s) => s.type === "notion");
  const knowing = sources.filter((s) => journal.getItem(s.userId, s.name, key) !== undefined);
  const targets = knowing.length > 0 ? knowing : sources;
  for (const record of targets) requestChanges(record, [key]);
  logger.debug({ event, runs: targets.length }, "notion webhook: partial runs requested");
  return { kind: "event", event, runs: targets.length };
}

/** The verification token to paste into Notion (the stored one; the configured one is never returned). */
export function storedNotionWebhookToken(ctx: AppContext): string | null {
  return readStoredToken(notionWebhookTokenFile(ctx.config.stateDbPath)) || null;
}

/** `sha256=<hex>` of HMAC-SHA256(body, secret) equals `signature`, compared in constant time. */
export function validSignature(body: Uint8Array, signature: string | undefined, secret: string): boolean {
  if (typeof signature !== "string") return false;
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(signature.trim());
  if (!match?.[1]) return false;
  const expected = createHmac("sha256", secret).update(body).digest();
  const given = Buffer.from(match[1], "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
