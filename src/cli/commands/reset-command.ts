import type { Command } from "commander";
import { resetStore } from "../../app/reset-store.js";
import { SyncError } from "../../errors/sync-error.js";
import { EXIT, printJson, runCommand } from "../run-command.js";

/** `lancedb-sync reset --yes`: drop both tables and forget every item (sources stay registered). */
export function registerResetCommand(program: Command): void {
  program
    .command("reset")
    .description("drop the LanceDB tables and forget synced items, e.g. to re-index with another embedder")
    .option("--yes", "really do it", false)
    .option("--json", "print one JSON object", false)
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        if (!opts.yes)
          throw new SyncError("SYNC_E_INVALID_ARGUMENT", "reset drops all indexed data: pass --yes");
        const { dropped } = await resetStore(ctx);
        if (opts.json) printJson({ dropped });
        else process.stdout.write(`dropped ${dropped.join(", ") || "nothing"}; journal items cleared\n`);
        return EXIT.OK;
      });
    });
}
