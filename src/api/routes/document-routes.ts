import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { SyncError } from "../../errors/sync-error.js";
import { targetUser } from "../auth.js";
import { closed, DOCUMENT_VIEW, ID, QUERY_INT, responses, USER_ID } from "../schemas.js";
import type { RouteDeps } from "./route-deps.js";

/** Text fields an upload may carry besides `file`. */
const UPLOAD_FIELDS = new Set(["key", "metadata", "source_id", "user_id"]);

/** Largest text field of an upload (metadata is at most 64 KB as JSON; the rest is short). */
const MAX_FIELD_BYTES = 128 * 1024;

const USER_QUERY = {
  type: "object",
  additionalProperties: false,
  properties: { user_id: USER_ID },
} as const;
const DOC_PARAMS = {
  type: "object",
  additionalProperties: false,
  required: ["doc_id"],
  properties: { doc_id: ID },
} as const;
const INGEST_RESULT = closed({
  doc_id: { type: "string" },
  source_id: { type: "string" },
  key: { type: "string" },
  status: { type: "string", enum: ["added", "updated", "unchanged"] },
  chunks: { type: "integer" },
});

interface Upload {
  bytes: Buffer;
  filename: string;
  fields: Record<string, string>;
}

/**
 * Reads a multipart upload: one `file` part, read up to `maxFileBytes` (a larger one is refused as it streams,
 * with `SYNC_E_FILE_TOO_LARGE`, never buffered whole), and the known text fields. The file name reaches the
 * upload checks as the client sent it (`preservePath`), so a path such as `../x.md` is refused, not trimmed.
 */
async function readUpload(request: FastifyRequest, maxFileBytes: number): Promise<Upload> {
  if (!request.isMultipart()) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", "expected a multipart/form-data body with a file part");
  }
  let file: { bytes: Buffer; filename: string } | undefined;
  const fields: Record<string, string> = {};
  const parts = request.parts({
    preservePath: true,
    limits: { fileSize: maxFileBytes, files: 1, fields: UPLOAD_FIELDS.size, fieldSize: MAX_FIELD_BYTES },
  });
  try {
    for await (const part of parts) {
      if (part.type === "file") {
        if (part.fieldname !== "file") {
          part.file.resume();
          throw new SyncError(
            "SYNC_E_INVALID_ARGUMENT",
            `body.${part.fieldname}: unknown file field (use "file")`,
          );
        }
        file = { bytes: await part.toBuffer(), filename: part.filename };
      } else {
        if (!UPLOAD_FIELDS.has(part.fieldname)) {
          throw new SyncError(
            "SYNC_E_INVALID_ARGUMENT",
            `body: unknown field ${JSON.stringify(part.fieldname)}`,
          );
        }
        if (part.valueTruncated) {
          throw new SyncError(
            "SYNC_E_INVALID_ARGUMENT",
            `body.${part.fieldname}: longer than ${MAX_FIELD_BYTES} bytes`,
          );
        }
        fields[part.fieldname] = String(part.value);
      }
    }
  } catch (err) {
    throw uploadLimitError(err, maxFileBytes);
  }
  if (!file) throw new SyncError("SYNC_E_INVALID_ARGUMENT", "body.file: is required");
  return { ...file, fields };
}

/** The multipart plugin's limit errors (all 413 there) as what they mean for this route. */
function uploadLimitError(err: unknown, maxFileBytes: number): unknown {
  switch ((err as { code?: unknown }).code) {
    case "FST_FILES_LIMIT":
      return new SyncError("SYNC_E_INVALID_ARGUMENT", 'body: an upload carries one file (part "file")', {
        cause: err,
      });
    case "FST_FIELDS_LIMIT":
    case "FST_PARTS_LIMIT":
      return new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `body: too many fields (known: file, ${[...UPLOAD_FIELDS].join(", ")})`,
        { cause: err },
      );
    case "FST_REQ_FILE_TOO_LARGE":
      return new SyncError(
        "SYNC_E_FILE_TOO_LARGE",
        `body.file: larger than MAX_FILE_SIZE_MB (${+(maxFileBytes / 1_048_576).toFixed(3)} MB)`,
        { cause: err },
      );
    default:
      return err;
  }
}

function parseMetadataField(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", "body.metadata: expected a JSON object");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new SyncError("SYNC_E_INVALID_ARGUMENT", "body.metadata: expected a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Documents: upload, list, get, delete. */
export const documentRoutes: FastifyPluginAsync<RouteDeps> = async (app, { system }) => {
  const maxFileBytes = system.config.maxFileBytes;

  app.post(
    "/api/v1/documents",
    {
      // The multipart body (and the query, which takes no fields) is checked by the handler as it streams in;
      // the schema documents it.
      validatorCompiler: () => () => true,
      schema: {
        summary: "Upload a document",
        description:
          "Pushes one document (multipart/form-data) through the pipeline: 201 when it was added or updated, " +
          "200 when the same bytes and metadata were already indexed under that key. The file may be at most " +
          "MAX_FILE_SIZE_MB (413 SYNC_E_FILE_TOO_LARGE); its name must be a bare file name with a supported " +
          "extension (400 SYNC_E_FILENAME_INVALID, 415 SYNC_E_UNSUPPORTED_TYPE).",
        tags: ["documents"],
        consumes: ["multipart/form-data"],
        body: {
          type: "object",
          additionalProperties: false,
          required: ["file"],
          properties: {
            file: { type: "string", format: "binary", description: "The document." },
            key: { type: "string", description: "Its key in the source (default: the file name)." },
            metadata: { type: "string", description: "A JSON object, returned with its search hits." },
            source_id: { ...ID, description: "Upload source to push to (default `uploads`)." },
            user_id: USER_ID,
          },
        },
        response: responses({ 200: INGEST_RESULT, 201: INGEST_RESULT }),
      },
    },
    async (request, reply) => {
      const unknown = Object.keys(request.query as object);
      if (unknown.length > 0) {
        throw new SyncError(
          "SYNC_E_INVALID_ARGUMENT",
          `querystring: unknown field ${JSON.stringify(unknown[0])}`,
        );
      }
      const upload = await readUpload(request, maxFileBytes);
      const f = upload.fields;
      const userId = targetUser(request, f.user_id);
      const result = await system.ingestDocument({
        userId,
        bytes: upload.bytes,
        filename: upload.filename,
        metadata: parseMetadataField(f.metadata),
        key: f.key,
        sourceId: f.source_id,
      });
      return reply.code(result.status === "unchanged" ? 200 : 201).send(result);
    },
  );

  app.get<{ Querystring: { user_id?: string; source_id?: string; limit?: string; offset?: string } }>(
    "/api/v1/documents",
    {
      schema: {
        summary: "List documents",
        description: "One user's documents, ordered by source, then key; `limit` 1..1000 (default 100).",
        tags: ["documents"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { user_id: USER_ID, source_id: ID, limit: QUERY_INT, offset: QUERY_INT },
        },
        response: responses({
          200: closed({
            documents: { type: "array", items: DOCUMENT_VIEW },
            limit: { type: "integer" },
            offset: { type: "integer" },
          }),
        }),
      },
    },
    async (request) => {
      const q = request.query;
      const userId = targetUser(request, q.user_id);
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      const offset = q.offset === undefined ? 0 : Number(q.offset);
      if (limit < 1 || limit > 1000) {
        throw new SyncError("SYNC_E_INVALID_ARGUMENT", `querystring.limit: ${limit} is not in 1..1000`);
      }
      const documents = await system.listDocuments({ userId, sourceId: q.source_id, limit, offset });
      return { documents, limit, offset };
    },
  );

  app.get<{ Params: { doc_id: string }; Querystring: { user_id?: string } }>(
    "/api/v1/documents/:doc_id",
    {
      schema: {
        summary: "Get a document",
        tags: ["documents"],
        params: DOC_PARAMS,
        querystring: USER_QUERY,
        response: responses({ 200: closed({ document: DOCUMENT_VIEW }) }),
      },
    },
    async (request) => {
      const userId = targetUser(request, request.query.user_id);
      return { document: await system.getDocument({ userId, docId: request.params.doc_id }) };
    },
  );

  app.delete<{ Params: { doc_id: string }; Querystring: { user_id?: string } }>(
    "/api/v1/documents/:doc_id",
    {
      schema: {
        summary: "Delete a document",
        description:
          "Removes an uploaded document, or one whose file is gone; a file that still exists is refused (the " +
          "next sync would bring it back: delete it at its origin or add an ignore pattern).",
        tags: ["documents"],
        params: DOC_PARAMS,
        querystring: USER_QUERY,
        response: responses({
          200: closed({
            doc_id: { type: "string" },
            source_id: { type: "string" },
            key: { type: "string" },
            deleted: { type: "boolean", enum: [true] },
          }),
        }),
      },
    },
    async (request) => {
      const userId = targetUser(request, request.query.user_id);
      return system.deleteDocument({ userId, docId: request.params.doc_id });
    },
  );
};
