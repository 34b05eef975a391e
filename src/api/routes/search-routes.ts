import type { FastifyPluginAsync } from "fastify";
import type { ChunkFilters } from "../../core/document-store.js";
import type { SearchMode } from "../../search/search-chunks.js";
import { targetUser } from "../auth.js";
import { closed, ID, responses, SEARCH_HIT, USER_ID } from "../schemas.js";
import type { RouteDeps } from "./route-deps.js";

interface SearchBody {
  query: string;
  mode?: SearchMode;
  limit?: number;
  filters?: {
    source_ids?: string[];
    doc_ids?: string[];
    metadata?: Record<string, string | number | boolean>;
  };
  user_id?: string;
}

const ID_LIST = { type: "array", items: ID, maxItems: 1000 } as const;

/** `POST /api/v1/search`: one user's documents, by vector, full text or both. */
export const searchRoutes: FastifyPluginAsync<RouteDeps> = async (app, { system }) => {
  app.post<{ Body: SearchBody }>(
    "/api/v1/search",
    {
      schema: {
        summary: "Search documents",
        description:
          "Searches the user's chunks (always only theirs): `hybrid` (default) fuses vector and full-text ranks; " +
          "without a full-text index yet, `fts` and `hybrid` answer by vector search. Hits carry the fields of " +
          "the CLI's `search --json`.",
        tags: ["search"],
        body: {
          type: "object",
          additionalProperties: false,
          required: ["query"],
          properties: {
            query: { type: "string", minLength: 1, maxLength: 10_000 },
            mode: { type: "string", enum: ["vector", "fts", "hybrid"] },
            limit: { type: "integer", minimum: 1, maximum: 1000 },
            filters: {
              type: "object",
              additionalProperties: false,
              properties: {
                source_ids: ID_LIST,
                doc_ids: ID_LIST,
                metadata: {
                  type: "object",
                  description: "Top-level metadata keys and the exact values they must have.",
                  additionalProperties: {
                    anyOf: [{ type: "string" }, { type: "number" }, { type: "boolean" }],
                  },
                },
              },
            },
            user_id: USER_ID,
          },
        },
        response: responses({ 200: closed({ hits: { type: "array", items: SEARCH_HIT } }) }),
      },
    },
    async (request) => {
      const b = request.body;
      const userId = targetUser(request, b.user_id);
      const f = b.filters;
      const filters: ChunkFilters | undefined = f
        ? {
            ...(f.source_ids ? { sourceIds: f.source_ids } : {}),
            ...(f.doc_ids ? { docIds: f.doc_ids } : {}),
            ...(f.metadata ? { metadata: f.metadata } : {}),
          }
        : undefined;
      const hits = await system.search({
        query: b.query,
        userId,
        mode: b.mode,
        limit: b.limit,
        filters,
        onFallback: (reason) => request.log.debug({ reason }, "search fell back to vector search"),
      });
      return { hits };
    },
  );
};
