import type { FastifyPluginAsync } from "fastify";
import type { SourceRunResult } from "../../app/run-source.js";
import type { SourceView } from "../../app/sources.js";
import type { SyncSystem } from "../../app/sync-system.js";
import { SyncError } from "../../errors/sync-error.js";
import type { JobTicket, SyncServiceView } from "../../service/service-types.js";
import { checkAllowedRoots } from "../allowed-roots.js";
import { scopeUser, targetUser } from "../auth.js";
import { checkNotionAccess } from "../notion-access.js";
import {
  closed,
  ID,
  JOB_TICKET,
  QUERY_FLAG,
  RUN_RESULT,
  responses,
  SOURCE_VIEW,
  USER_ID,
} from "../schemas.js";
import type { RouteDeps } from "./route-deps.js";

/** The original design's "scan every folder" path: `POST /api/v1/sources/local_filesystem/documents/scan`. */
const LEGACY_SCAN = { type: "local_filesystem", id: "documents" };

const CONFIG = {
  type: "object",
  additionalProperties: true,
  description:
    "Type-specific settings. `local_filesystem`: `watch_paths` (absolute folders or files under ALLOWED_ROOTS), " +
    "`file_patterns`, `ignore_patterns` (globs); `follow_symlinks` cannot be set through the API.",
} as const;
const POLL = {
  type: "integer",
  minimum: 1,
  maximum: 86_400,
  description: "Seconds between scheduled runs.",
} as const;
const PATH_PARAMS = {
  type: "object",
  additionalProperties: false,
  required: ["source_type", "source_id"],
  properties: { source_type: { type: "string", minLength: 1, maxLength: 64 }, source_id: ID },
} as const;
const USER_QUERY = {
  type: "object",
  additionalProperties: false,
  properties: { user_id: USER_ID },
} as const;
const NULLABLE_TICKET = {
  anyOf: [{ type: "null" }, JOB_TICKET],
  description: "The run started for it (null for a disabled source, or when nothing needs a run).",
};

interface PathParams {
  source_type: string;
  source_id: string;
}

interface AddBody {
  source_type: string;
  source_id: string;
  config?: Record<string, unknown>;
  poll_interval?: number;
  enabled?: boolean;
  user_id?: string;
}

interface PatchBody {
  config?: Record<string, unknown>;
  poll_interval?: number | null;
  enabled?: boolean;
}

/** The user's source at this path; another type at that id, or another user's source, is `SYNC_E_NOT_FOUND`. */
async function sourceAt(system: SyncSystem, userId: string, params: PathParams): Promise<SourceView> {
  const view = await system.sources.get({ userId, sourceId: params.source_id });
  if (view.type !== params.source_type) {
    throw new SyncError(
      "SYNC_E_NOT_FOUND",
      `user "${userId}" has no ${params.source_type} source "${params.source_id}"`,
    );
  }
  return view;
}

function startRun(service: SyncServiceView, userId: string, sourceId: string): Promise<JobTicket> {
  return service.queue.enqueue({ kind: "full", userId, sourceId, reason: "api" });
}

/** Sources: list, add, get, change, remove, scan. */
export const sourceRoutes: FastifyPluginAsync<RouteDeps> = async (app, { system, service }) => {
  const roots = system.config.api.allowedRoots;

  app.get<{ Querystring: { user_id?: string } }>(
    "/api/v1/sources",
    {
      schema: {
        summary: "List sources",
        description:
          "A user key lists its own sources; an admin key every user's, or one user's with `user_id`.",
        tags: ["sources"],
        querystring: USER_QUERY,
        response: responses({ 200: closed({ sources: { type: "array", items: SOURCE_VIEW } }) }),
      },
    },
    async (request) => {
      const userId = scopeUser(request, request.query.user_id);
      return { sources: await system.sources.list({ userId }) };
    },
  );

  app.post<{ Body: AddBody }>(
    "/api/v1/sources",
    {
      schema: {
        summary: "Add a source",
        description:
          "Registers a source and starts its first full run (`job`). `local_filesystem` folders must lie under " +
          "ALLOWED_ROOTS (403 SYNC_E_ROOT_NOT_ALLOWED otherwise, and always when none are configured).",
        tags: ["sources"],
        body: {
          type: "object",
          additionalProperties: false,
          required: ["source_type", "source_id"],
          properties: {
            source_type: {
              type: "string",
              minLength: 1,
              maxLength: 64,
              description: "`local_filesystem` (alias `fs`) or `upload`.",
            },
            source_id: ID,
            config: CONFIG,
            poll_interval: POLL,
            enabled: { type: "boolean" },
            user_id: USER_ID,
          },
        },
        response: responses({ 201: closed({ source: SOURCE_VIEW, job: NULLABLE_TICKET }) }),
      },
    },
    async (request, reply) => {
      const b = request.body;
      const userId = targetUser(request, b.user_id);
      checkNotionAccess(request, b.source_type, b.config ?? {});
      await checkAllowedRoots(b.source_type, b.config, roots);
      const source = await system.sources.add({
        userId,
        sourceId: b.source_id,
        type: b.source_type,
        config: b.config,
        pollInterval: b.poll_interval,
        enabled: b.enabled,
      });
      service.sourceChanged(userId, source.source_id);
      const job = source.enabled ? await startRun(service, userId, source.source_id) : null;
      return reply.code(201).send({ source, job });
    },
  );

  app.get<{ Params: PathParams; Querystring: { user_id?: string } }>(
    "/api/v1/sources/:source_type/:source_id",
    {
      schema: {
        summary: "Get a source",
        tags: ["sources"],
        params: PATH_PARAMS,
        querystring: USER_QUERY,
        response: responses({ 200: closed({ source: SOURCE_VIEW }) }),
      },
    },
    async (request) => {
      const userId = targetUser(request, request.query.user_id);
      return { source: await sourceAt(system, userId, request.params) };
    },
  );

  app.patch<{ Params: PathParams; Querystring: { user_id?: string }; Body: PatchBody }>(
    "/api/v1/sources/:source_type/:source_id",
    {
      schema: {
        summary: "Change a source",
        description:
          "Changes its config (replaced as a whole; a full run applies a changed one: `job`), poll interval " +
          "(`null`: the default) or enabled flag. Its type never changes.",
        tags: ["sources"],
        params: PATH_PARAMS,
        querystring: USER_QUERY,
        body: {
          type: "object",
          additionalProperties: false,
          minProperties: 1,
          properties: {
            config: CONFIG,
            poll_interval: { ...POLL, type: ["integer", "null"] },
            enabled: { type: "boolean" },
          },
        },
        response: responses({ 200: closed({ source: SOURCE_VIEW, job: NULLABLE_TICKET }) }),
      },
    },
    async (request) => {
      const userId = targetUser(request, request.query.user_id);
      const current = await sourceAt(system, userId, request.params);
      const b = request.body;
      checkNotionAccess(request, current.type, b.config);
      await checkAllowedRoots(current.type, b.config, roots);
      const source = await system.sources.update({
        userId,
        sourceId: current.source_id,
        config: b.config,
        pollInterval: b.poll_interval,
        enabled: b.enabled,
      });
      service.sourceChanged(userId, source.source_id);
      const changed = JSON.stringify(source.config) !== JSON.stringify(current.config);
      const job = changed && source.enabled ? await startRun(service, userId, source.source_id) : null;
      return { source, job };
    },
  );

  app.delete<{ Params: PathParams; Querystring: { user_id?: string; keep_documents?: "true" | "false" } }>(
    "/api/v1/sources/:source_type/:source_id",
    {
      schema: {
        summary: "Remove a source",
        description:
          "Removes the source and its documents (with `keep_documents=true` they stay searchable, orphaned).",
        tags: ["sources"],
        params: PATH_PARAMS,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { user_id: USER_ID, keep_documents: QUERY_FLAG },
        },
        response: responses({
          200: closed({
            user_id: { type: "string" },
            source_id: { type: "string" },
            documents: { type: "integer" },
            chunks: { type: "integer" },
            items: { type: "integer" },
            failures: { type: "integer" },
            uploads: { type: "integer" },
            kept_documents: { type: "boolean" },
          }),
        }),
      },
    },
    async (request) => {
      const userId = targetUser(request, request.query.user_id);
      const current = await sourceAt(system, userId, request.params);
      const removed = await system.sources.remove({
        userId,
        sourceId: current.source_id,
        keepDocuments: request.query.keep_documents === "true",
      });
      service.sourceChanged(userId, current.source_id);
      return removed;
    },
  );

  app.post<{ Params: PathParams; Querystring: { user_id?: string; wait?: "true" | "false" } }>(
    "/api/v1/sources/:source_type/:source_id/scan",
    {
      schema: {
        summary: "Scan a source now",
        description:
          "Starts a full run of the source, or joins the one already queued: 202 `{ job }`. With `wait=true` " +
          "the answer comes when the run finished: 200 `{ job, result }` (a failed run answers with its error). " +
          "`POST /api/v1/sources/local_filesystem/documents/scan` works as in the original design: when the user " +
          "has no source named `documents`, it scans every `local_filesystem` source of the user and answers " +
          "`{ jobs }` (with `wait=true`, `{ jobs, results }`).",
        tags: ["sources"],
        params: PATH_PARAMS,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { user_id: USER_ID, wait: QUERY_FLAG },
        },
        response: responses({
          200: {
            type: "object",
            additionalProperties: false,
            properties: {
              job: JOB_TICKET,
              result: RUN_RESULT,
              jobs: { type: "array", items: JOB_TICKET },
              results: { type: "array", items: RUN_RESULT },
            },
          },
          202: {
            type: "object",
            additionalProperties: false,
            properties: { job: JOB_TICKET, jobs: { type: "array", items: JOB_TICKET } },
          },
        }),
      },
    },
    async (request, reply) => {
      const userId = targetUser(request, request.query.user_id);
      const wait = request.query.wait === "true";
      const { params } = request;
      const ids = await scanTargets(system, userId, params);
      const jobs: JobTicket[] = [];
      for (const id of ids) jobs.push(await startRun(service, userId, id));
      const single = ids.length === 1 && ids[0] === params.source_id;
      if (!wait) return reply.code(202).send(single ? { job: jobs[0] } : { jobs });
      const results: SourceRunResult[] = [];
      for (const job of jobs) results.push(await service.queue.wait(job.job_id));
      return reply.code(200).send(single ? { job: jobs[0], result: results[0] } : { jobs, results });
    },
  );
};

/** The source ids a scan request covers (see the route's description for the `documents` case). */
async function scanTargets(system: SyncSystem, userId: string, params: PathParams): Promise<string[]> {
  const legacy = params.source_type === LEGACY_SCAN.type && params.source_id === LEGACY_SCAN.id;
  if (!legacy) return [(await sourceAt(system, userId, params)).source_id];
  const all = await system.sources.list({ userId });
  if (all.some((s) => s.source_id === LEGACY_SCAN.id)) {
    return [(await sourceAt(system, userId, params)).source_id];
  }
  const folders = all.filter((s) => s.type === LEGACY_SCAN.type).map((s) => s.source_id);
  if (folders.length === 0) {
    throw new SyncError("SYNC_E_NOT_FOUND", `user "${userId}" has no local_filesystem source`);
  }
  return folders;
}
