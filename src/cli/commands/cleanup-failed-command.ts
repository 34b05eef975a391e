import type { Command } from "commander";
import { SyncError } from "../../errors/sync-error.js";
import { validateId } from "../../storage/filter.js";
import { EXIT, printJson, runCommand } from "../run-command.js";

/** `lancedb-sync cleanup-failed`: forget failure records so the items are retried afresh. */
export function registerCleanupFailedCommand(program: Command): void {
  program
    .command("cleanup-failed")
    .description("clear failed-item records (the items are retried from scratch on the next sync)")
    .option("-u, --user <id>", "only this user's failures")
    .option("-s, --source <name>", "only this source's failures (needs --user)")
    .option("--json", "print one JSON object", false)
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        if (opts.user !== undefined) validateId("user id", opts.user);
        if (opts.source !== undefined) validateId("source name", opts.source);
        if (opts.source !== undefined && opts.user === undefined) {
          // Without this, the source would be ignored and every failure of every user cleared.
          throw new SyncError("SYNC_E_INVALID_ARGUMENT", "--source needs --user");
        }
        const cleared = ctx.journal.cleanupFailures(opts.user, opts.source);
        if (opts.json) printJson({ cleared });
        else process.stdout.write(`cleared ${cleared} failed item record(s)\n`);
        return EXIT.OK;
      });
    });
}
