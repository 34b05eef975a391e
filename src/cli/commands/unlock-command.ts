import type { Command } from "commander";
import { SyncError } from "../../errors/sync-error.js";
import { validateId } from "../../storage/filter.js";
import { runLockName, WRITER_LOCK } from "../../storage/lease-lock.js";
import { EXIT, printJson, runCommand } from "../run-command.js";

/**
 * `lancedb-sync unlock --user U --source S` or `unlock --writer`: removes a run lock or the store's writer
 * lock whoever holds it. Locks of dead processes lapse by themselves after `LOCK_LEASE_SECONDS`; this is for
 * when waiting is not an option and the holder is known to be gone.
 */
export function registerUnlockCommand(program: Command): void {
  program
    .command("unlock")
    .description("remove a source's run lock (--user, --source) or the store's writer lock (--writer)")
    .option("-u, --user <id>", "user of the source")
    .option("-s, --source <name>", "source whose run lock to remove")
    .option("--writer", "remove the store's writer lock", false)
    .option("--json", "print one JSON object", false)
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        let name: string;
        if (opts.writer) name = WRITER_LOCK;
        else if (opts.user !== undefined && opts.source !== undefined)
          name = runLockName(validateId("user id", opts.user), validateId("source name", opts.source));
        else throw new SyncError("SYNC_E_INVALID_ARGUMENT", "give --user and --source, or --writer");
        const removed = ctx.journal.clearLease(name);
        ctx.journal.abandonRuns();
        const what = opts.writer ? "the writer lock" : `the run lock of ${opts.user}/${opts.source}`;
        if (opts.json) printJson({ lock: name.replace("\0", "/"), removed: removed ?? null });
        else
          process.stdout.write(
            removed
              ? `removed ${what} (held by ${removed.purpose}, process ${removed.pid} on ${removed.host.split("/")[0]})\n`
              : `${what} was not held\n`,
          );
        return EXIT.OK;
      });
    });
}
