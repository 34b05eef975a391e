import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { extname } from "node:path";
// `schema.hide` (keep these routes out of the OpenAPI document) is typed by @fastify/swagger.
import type {} from "@fastify/swagger";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { SyncError } from "../errors/sync-error.js";

/** Where the page's files live (the same relative path from `src/api/` and from `dist/api/`). */
const STATIC_DIR = new URL("../../static/status-page/", import.meta.url);

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/**
 * Same-origin resources only, no inline script or style, no plugins, no framing, no `<base>`: data the page
 * shows can never run as code, even if some of it were ever put in the DOM as markup.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

interface PageFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** The page's files by name, read once (a handful of small files; the set is fixed at registration). */
function loadFiles(dir: URL): Map<string, PageFile> {
  const files = new Map<string, PageFile>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || type === undefined) continue;
    const body = readFileSync(new URL(entry.name, dir));
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    files.set(entry.name, { body, type, etag });
  }
  return files;
}

function send(request: FastifyRequest, reply: FastifyReply, file: PageFile): FastifyReply {
  reply
    .header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    .header("Cache-Control", "no-cache")
    .header("X-Content-Type-Options", "nosniff")
    .header("Referrer-Policy", "no-referrer")
    .header("ETag", file.etag);
  if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
  return reply.type(file.type).send(file.body);
}

/**
 * The status page: `GET /` serves `index.html`, `GET /status-page/<file>` its script and style sheet, from
 * `static/status-page/` (read once, at registration). No key is needed for these files — the page asks for one
 * and sends it only in the `Authorization` header of its `/api/v1/*` calls. Responses carry a strict
 * Content-Security-Policy (same origin, no inline script), `Cache-Control: no-cache` with an ETag, and
 * `Referrer-Policy: no-referrer`. Unknown files throw `SYNC_E_NOT_FOUND` (404 through the app's error handler).
 */
export const statusPagePlugin: FastifyPluginAsync = async (app) => {
  const files = loadFiles(STATIC_DIR);
  const index = files.get("index.html");
  if (!index) throw new SyncError("SYNC_E_INTERNAL", `status page: no index.html in ${STATIC_DIR.pathname}`);

  app.get("/", { schema: { hide: true } }, (request, reply) => send(request, reply, index));
  app.get<{ Params: { file: string } }>(
    "/status-page/:file",
    { schema: { hide: true } },
    (request, reply) => {
      const file = files.get(request.params.file);
      if (!file) throw new SyncError("SYNC_E_NOT_FOUND", "the status page has no such file");
      return send(request, reply, file);
    },
  );
};
