import type { FastifyPluginAsync } from "fastify";
import { requireAdmin } from "../auth.js";
import { closed, responses } from "../schemas.js";
import type { RouteDeps } from "./route-deps.js";

/**
 * `POST /api/v1/webhooks/notion` (no API key: Notion signs its deliveries) and, for admins,
 * `GET /api/v1/webhooks/notion/verification-token`. The body is read raw (a buffer): the signature covers the
 * exact bytes.
 */
export const notionWebhookRoutes: FastifyPluginAsync<RouteDeps> = async (app, { system }) => {
  // Scoped to this plugin: other routes keep Fastify's JSON parser.
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => {
    done(null, body);
  });

  app.post<{ Body: Buffer }>(
    "/api/v1/webhooks/notion",
    {
      config: { public: true },
      schema: {
        summary: "Notion webhook",
        description:
          "Receives Notion webhook deliveries. The verification handshake stores the verification token (unless " +
          "NOTION_WEBHOOK_SECRET is set or one is stored); every other delivery must carry `X-Notion-Signature` " +
          "(HMAC-SHA256 of the raw body keyed by that token) or gets 401 and does nothing. A page event queues a " +
          "partial run of that page on the notion sources that know it. Needs no API key.",
        tags: ["sources"],
        security: [],
        response: responses({
          200: {
            type: "object",
            additionalProperties: false,
            required: ["kind"],
            properties: {
              kind: { type: "string", enum: ["verification", "event", "ignored"] },
              stored: { type: "boolean" },
              event: { type: "string" },
              runs: { type: "integer" },
              reason: { type: "string" },
            },
          },
        }),
      },
    },
    async (request) => {
      const header = request.headers["x-notion-signature"];
      return system.notionWebhook.deliver({
        body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
        signature: Array.isArray(header) ? header[0] : header,
      });
    },
  );

  app.get(
    "/api/v1/webhooks/notion/verification-token",
    {
      schema: {
        summary: "The Notion verification token (admin)",
        description:
          "The verification token Notion sent in its handshake, to paste into the integration's webhook " +
          "settings (null when none arrived). Admin keys only.",
        tags: ["sources"],
        response: responses({ 200: closed({ verification_token: { type: ["string", "null"] } }) }),
      },
    },
    async (request) => {
      requireAdmin(request);
      return { verification_token: await system.notionWebhook.verificationToken() };
    },
  );
};
