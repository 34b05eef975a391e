import type { FastifyRequest } from "fastify";
import { SyncError } from "../errors/sync-error.js";
import { principalOf } from "./auth.js";

/**
 * Refuses a user key that adds a `notion` source or changes one's config (`SYNC_E_FORBIDDEN`): its config names
 * a token variable or file of the server, and a user must not borrow a token (nor another user's) that way.
 * Admin keys and the CLI (the operator) may. Other types and other changes pass.
 */
export function checkNotionAccess(request: FastifyRequest, type: string, config: unknown): void {
  if (type !== "notion" || config === undefined) return;
  if (principalOf(request).kind === "admin") return;
  throw new SyncError(
    "SYNC_E_FORBIDDEN",
    "a notion source reads an integration token held by the server (token_env, token_file): only an admin " +
      "key may add one or change its config (user_id names the user it indexes for)",
  );
}
