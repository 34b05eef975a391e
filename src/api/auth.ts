import type { FastifyInstance, FastifyRequest } from "fastify";
import { SyncError } from "../errors/sync-error.js";
import type { ApiKeyStore, Principal } from "./api-keys.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Who the request acts as (set by the auth hook); null without a valid key. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The route needs no API key (health, docs, the status page's files). */
    public?: boolean;
  }
}

/** Routes served without a key besides those marked `config.public`: the docs and the status page's files. */
const PUBLIC_ROUTES = new Set(["/", "/docs"]);
const PUBLIC_PREFIXES = ["/docs/", "/status-page/"];

/** Whether the route (by its pattern, never the raw URL) needs no key. */
function isPublic(request: FastifyRequest): boolean {
  if (request.routeOptions.config.public === true) return true;
  const url = request.routeOptions.url;
  if (url === undefined) return request.is404;
  return PUBLIC_ROUTES.has(url) || PUBLIC_PREFIXES.some((p) => url.startsWith(p));
}

/** A key no store holds: what {@link presentedKey} returns for two different keys in one request. */
const CONFLICTING_KEYS = "\0conflicting keys";

/**
 * The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. Two different keys in
 * the two headers present no valid key (never silently the one or the other).
 */
export function presentedKey(request: FastifyRequest): string | undefined {
  let bearer: string | undefined;
  const auth = request.headers.authorization;
  if (typeof auth === "string") bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
  const header = request.headers["x-api-key"];
  const raw = Array.isArray(header) ? header[0] : header;
  const xKey = typeof raw === "string" && raw.trim() !== "" ? raw.trim() : undefined;
  if (bearer !== undefined && xKey !== undefined && bearer !== xKey) return CONFLICTING_KEYS;
  return bearer ?? xKey;
}

/**
 * Installs authentication on `app` (call before any route is registered): an `onRequest` hook resolves the
 * presented key to `request.principal` (so the rate limit, which runs next, counts by key), and a
 * `preParsing` hook refuses every non-public route without a valid key with `SYNC_E_UNAUTHORIZED` before
 * its body is read. Unknown routes answer 404 without a key.
 */
export function installAuth(app: FastifyInstance, keys: ApiKeyStore): void {
  app.decorateRequest("principal", null);
  app.addHook("onRequest", async (request) => {
    const key = presentedKey(request);
    if (key === undefined) return;
    try {
      request.principal = (await keys.verify(key)) ?? null;
    } catch (err) {
      // A broken keys file fails every keyed route closed, but not /health, /docs or the status page's files.
      if (!isPublic(request)) throw err;
    }
  });
  app.addHook("preParsing", async (request) => {
    if (request.principal === null && !isPublic(request)) {
      throw new SyncError("SYNC_E_UNAUTHORIZED", unauthorizedMessage(presentedKey(request)));
    }
  });
}

function unauthorizedMessage(key: string | undefined): string {
  if (key === undefined) return "an API key is required: Authorization: Bearer <key>, or X-API-Key: <key>";
  if (key === CONFLICTING_KEYS) return "Authorization and X-API-Key carry different keys: send one";
  return "the API key is not valid (unknown or revoked)";
}

/** The principal of an authenticated route (the auth hook guarantees one). */
export function principalOf(request: FastifyRequest): Principal {
  const p = request.principal;
  if (!p) throw new SyncError("SYNC_E_UNAUTHORIZED", "an API key is required");
  return p;
}

/**
 * The user a request acts on, when the route may also act on all users: a user key's own user (naming
 * another is `SYNC_E_FORBIDDEN`); for an admin key, the user it names, or undefined (all users).
 */
export function scopeUser(request: FastifyRequest, named: string | undefined): string | undefined {
  const p = principalOf(request);
  if (p.kind === "admin") return named;
  if (named !== undefined && named !== p.userId) {
    throw new SyncError("SYNC_E_FORBIDDEN", "a user API key may only act for its own user");
  }
  return p.userId;
}

/** Like {@link scopeUser}, for routes that act on one user: an admin key must name it (`SYNC_E_INVALID_ARGUMENT`). */
export function targetUser(request: FastifyRequest, named: string | undefined): string {
  const user = scopeUser(request, named);
  if (user === undefined) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", "user_id is required with an admin key on this route");
  }
  return user;
}

/** Refuses a user key with `SYNC_E_FORBIDDEN`. */
export function requireAdmin(request: FastifyRequest): void {
  if (principalOf(request).kind !== "admin") {
    throw new SyncError("SYNC_E_FORBIDDEN", "this route needs an admin API key");
  }
}
