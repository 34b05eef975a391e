import type { FastifyInstance } from "fastify";
import { SyncError } from "lancedb-sync";

const userParams = {
  type: "object",
  required: ["userId"],
  properties: { userId: { type: "string", minLength: 1 } },
} as const;

/** Largest `metadata` field accepted (the library refuses more than 64 KB of JSON anyway). */
const MAX_METADATA_CHARS = 64 * 1024;

/**
 * The host app's own routes over `app.system`: upload, search and delete a user's documents. Authentication is
 * the host's business and left out; `userId` comes from the path here.
 */
export async function documentRoutes(app: FastifyInstance): Promise<void> {
  const { system } = app;

  app.post<{ Params: { userId: string } }>(
    "/users/:userId/documents",
    { schema: { params: userParams } },
    async (request) => {
      if (!request.isMultipart()) {
        throw new SyncError("SYNC_E_INVALID_ARGUMENT", "expected a multipart/form-data body with one file");
      }
      let file: { filename: string; bytes: Buffer } | undefined;
      let metadataText: string | undefined;
      // Iterating every part takes `metadata` before or after the file.
      for await (const part of request.parts({ limits: { fieldSize: MAX_METADATA_CHARS } })) {
        if (part.type === "file") {
          const bytes = await part.toBuffer();
          file = { filename: part.filename, bytes };
        } else if (part.fieldname === "metadata") {
          if (part.valueTruncated) {
            throw new SyncError(
              "SYNC_E_INVALID_ARGUMENT",
              `metadata: longer than ${MAX_METADATA_CHARS} bytes`,
            );
          }
          metadataText = String(part.value);
        }
      }
      if (!file) throw new SyncError("SYNC_E_INVALID_ARGUMENT", "expected one file in the multipart body");
      return system.ingestDocument({
        userId: request.params.userId,
        bytes: file.bytes,
        filename: file.filename,
        metadata: metadataText === undefined ? undefined : parseMetadata(metadataText),
      });
    },
  );

  app.get<{
    Params: { userId: string };
    Querystring: { q: string; mode?: "vector" | "fts" | "hybrid"; limit?: number };
  }>(
    "/users/:userId/search",
    {
      schema: {
        params: userParams,
        querystring: {
          type: "object",
          required: ["q"],
          properties: {
            q: { type: "string", minLength: 1 },
            mode: { type: "string", enum: ["vector", "fts", "hybrid"] },
            limit: { type: "integer", minimum: 1, maximum: 100 },
          },
        },
      },
    },
    async (request) => {
      const { q, mode, limit } = request.query;
      const hits = await system.search({ userId: request.params.userId, query: q, mode, limit });
      return { hits };
    },
  );

  app.delete<{ Params: { userId: string; docId: string } }>(
    "/users/:userId/documents/:docId",
    {
      schema: {
        params: {
          type: "object",
          required: ["userId", "docId"],
          properties: { userId: { type: "string", minLength: 1 }, docId: { type: "string", minLength: 1 } },
        },
      },
    },
    async (request) => system.deleteDocument({ userId: request.params.userId, docId: request.params.docId }),
  );
}

function parseMetadata(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", `metadata: not JSON (${(err as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", "metadata: expected a JSON object");
  }
  return value as Record<string, unknown>;
}
