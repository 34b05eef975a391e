import type { Command } from "commander";
import { SyncError } from "../../errors/sync-error.js";
import { loadLanceDb } from "../../storage/load-lancedb.js";
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
        const lancedb = await loadLanceDb();
        const conn = await lancedb.connect(ctx.config.lancedbUri);
        const names = new Set(await conn.tableNames());
        const dropped: string[] = [];
        for (const t of [ctx.config.chunksTable, ctx.config.documentsTable]) {
          if (names.has(t)) {
            await conn.dropTable(t);
            dropped.push(t);
          }
        }
        conn.close();
        ctx.journal.forgetAll();
        if (opts.json) printJson({ dropped });
        else process.stdout.write(`dropped ${dropped.join(", ") || "nothing"}; journal items cleared\n`);
        return EXIT.OK;
      });
    });
}
