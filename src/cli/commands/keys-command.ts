import type { Command } from "commander";
import { ApiKeyStore } from "../../api/api-keys.js";
import { loadConfig } from "../../config/load-config.js";
import { SyncError } from "../../errors/sync-error.js";
import { EXIT, printJson, runPlain } from "../run-command.js";

/** `lancedb-sync keys create|list|revoke`: API keys of the service (only their hashes are stored). */
export function registerKeysCommand(program: Command): void {
  const keys = program
    .command("keys")
    .description("create, list and revoke API keys of the service (stored hashed in API_KEYS_FILE)");

  keys
    .command("create")
    .description("make a key for one user (--user) or an administrator (--admin); it is printed once")
    .option("-u, --user <id>", "the user whose data the key may see and change")
    .option("--admin", "a key that sees every user (and /metrics, compact)", false)
    .option("--label <text>", "a note kept with the key (who or what uses it)")
    .option("--json", 'print { "key", "id", "role", "user_id", ... }', false)
    .action(async (opts) => {
      await runPlain(opts.json, async () => {
        if (Boolean(opts.user) === Boolean(opts.admin)) {
          throw new SyncError(
            "SYNC_E_INVALID_ARGUMENT",
            "keys create: give exactly one of --user <id> or --admin",
          );
        }
        const store = new ApiKeyStore(loadConfig().api.keysFile);
        const created = await store.create(opts.admin ? { admin: true } : { userId: opts.user }, opts.label);
        if (opts.json) printJson(created);
        else {
          process.stdout.write(
            `${created.key}\n(${created.role === "admin" ? "admin key" : `key of user "${created.user_id}"`}, ` +
              `id ${created.id}; shown once: only its hash is stored in ${store.file})\n`,
          );
        }
        return EXIT.OK;
      });
    });

  keys
    .command("list")
    .description("list keys: id, user or admin, created, label (never the keys)")
    .option("--json", 'print { "keys": [...] }', false)
    .action(async (opts) => {
      await runPlain(opts.json, async () => {
        const list = await new ApiKeyStore(loadConfig().api.keysFile).list();
        if (opts.json) printJson({ keys: list });
        else if (list.length === 0) process.stdout.write("no API keys\n");
        else {
          for (const k of list) {
            const who = k.role === "admin" ? "admin" : `user ${k.user_id}`;
            process.stdout.write(`${k.id}  ${who}  ${k.created_at ?? "-"}${k.label ? `  ${k.label}` : ""}\n`);
          }
        }
        return EXIT.OK;
      });
    });

  keys
    .command("revoke")
    .description(
      "remove a key by its id (as `keys list` shows it); a running service stops accepting it at once",
    )
    .argument("<id>", "the key's id")
    .option("--json", "print the revoked key's entry", false)
    .action(async (id: string, opts) => {
      await runPlain(opts.json, async () => {
        const revoked = await new ApiKeyStore(loadConfig().api.keysFile).revoke(id);
        if (opts.json) printJson(revoked);
        else
          process.stdout.write(
            `revoked ${revoked.id} (${revoked.role === "admin" ? "admin" : `user ${revoked.user_id}`})\n`,
          );
        return EXIT.OK;
      });
    });
}
