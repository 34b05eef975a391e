import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ERROR_CODES, type ErrorCode } from "../errors/codes.js";
import { describeError, isSyncError, SyncError } from "../errors/sync-error.js";

/** The body of every error response. */
export interface ApiErrorBody {
  error: { code: ErrorCode; message: string };
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Fastify and plugin error codes with their meaning here. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "SYNC_E_BODY_TOO_LARGE",
  FST_REQ_FILE_TOO_LARGE: "SYNC_E_FILE_TOO_LARGE",
  FST_ERR_NOT_FOUND: "SYNC_E_NOT_FOUND",
};

/**
 * The `{ error: { code, message } }` answer to any thrown value, with the code's HTTP status: a SyncError
 * keeps its code; a failed schema validation is `SYNC_E_INVALID_ARGUMENT` naming the field; a body over the
 * limit is `SYNC_E_BODY_TOO_LARGE` (an upload over it `SYNC_E_FILE_TOO_LARGE`); other client errors raised by
 * Fastify or a plugin are `SYNC_E_INVALID_ARGUMENT`; anything else is `SYNC_E_INTERNAL`, without internals.
 */
export function toApiError(err: unknown): { status: number; body: ApiErrorBody } {
  const make = (code: ErrorCode, message: string) => ({
    status: ERROR_CODES[code].status,
    body: { error: { code, message } },
  });
  if (isSyncError(err) && err.code !== "SYNC_E_INTERNAL") return make(err.code, err.message);
  const e = err as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string };
  if (Array.isArray(e.validation)) {
    return make("SYNC_E_INVALID_ARGUMENT", validationMessage(e.validation, e.validationContext));
  }
  const mapped = typeof e.code === "string" ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return make(mapped, e.message ?? ERROR_CODES[mapped].message);
  const status = typeof e.statusCode === "number" ? e.statusCode : 500;
  if (status === 413) return make("SYNC_E_BODY_TOO_LARGE", e.message ?? "request body too large");
  if (status >= 400 && status < 500) {
    return make("SYNC_E_INVALID_ARGUMENT", e.message ?? ERROR_CODES.SYNC_E_INVALID_ARGUMENT.message);
  }
  return make("SYNC_E_INTERNAL", "internal error: the server log has the details");
}

/** `body.config: must be object`, `body: unknown field "colour"`, `querystring.limit: is required`. */
function validationMessage(errors: AjvError[], context = "request"): string {
  const [first] = errors;
  if (!first) return `${context}: invalid`;
  const path = (first.instancePath ?? "")
    .split("/")
    .filter((s) => s !== "")
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
  const field = [context, ...path].join(".");
  const p = first.params ?? {};
  switch (first.keyword) {
    case "additionalProperties":
      return `${field}: unknown field ${JSON.stringify(p.additionalProperty)}`;
    case "required":
      return `${field}.${String(p.missingProperty)}: is required`;
    case "enum":
      return `${field}: must be one of ${JSON.stringify(p.allowedValues)}`;
    case "pattern":
      return `${field}: must match the pattern ${String(p.pattern)}`;
    default:
      return `${field}: ${first.message ?? "is invalid"}`;
  }
}

/** Longest path parameter the router accepts (ids are at most 128 characters, or three times that escaped). */
export const MAX_PARAM_LENGTH = 512;

/**
 * Fastify's `frameworkErrors` option: errors the router raises before any route or hook runs (a path
 * parameter over {@link MAX_PARAM_LENGTH}, a malformed escape such as `%zz`) answer in the API's error shape,
 * 400 `SYNC_E_INVALID_ARGUMENT`, without echoing the URL.
 */
export function frameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const message =
    err.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`
      : err.code === "FST_ERR_BAD_URL"
        ? "the URL is not valid (a malformed %-escape?)"
        : "the request is not valid";
  const { status, body } = toApiError(new SyncError("SYNC_E_INVALID_ARGUMENT", message));
  request.log.debug({ code: err.code }, "request refused by the router");
  void reply.code(status).send(body);
}

/**
 * Installs the error handler and the not-found handler. Server errors are logged with their cause (never a
 * request's headers); client errors at debug level.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const { status, body } = toApiError(err);
    if (status >= 500) {
      request.log.error({ err: describeError(err), code: body.error.code }, "request failed");
    } else {
      request.log.debug({ code: body.error.code, message: body.error.message }, "request refused");
    }
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    const { status, body } = toApiError({
      code: "FST_ERR_NOT_FOUND",
      message: `no route ${request.method} ${path}`,
    });
    request.log.debug({ method: request.method }, "no such route");
    return reply.code(status).send(body);
  });
}
