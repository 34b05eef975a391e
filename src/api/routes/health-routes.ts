import type { FastifyPluginAsync } from "fastify";
import { closed, responses } from "../schemas.js";

/** `GET /health`: liveness, without a key and outside the rate limit. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    "/health",
    {
      config: { public: true, rateLimit: false },
      schema: {
        summary: "Liveness check",
        description: "Answers while the process serves requests. Needs no API key; not rate limited.",
        tags: ["service"],
        security: [],
        response: responses({ 200: closed({ status: { type: "string", enum: ["ok"] } }) }),
      },
    },
    async () => ({ status: "ok" as const }),
  );
};
