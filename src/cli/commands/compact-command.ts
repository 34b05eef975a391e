import type { Command } from "commander";
import { compactTables } from "../../app/compact-tables.js";
import { SyncError } from "../../errors/sync-error.js";
import { EXIT, printJson, runCommand } from "../run-command.js";

/** `lancedb-sync compact`: LanceDB optimize (compaction, index update, old-version clean-up). */
export function registerCompactCommand(program: Command): void {
  program
    .command("compact")
    .description("compact fragments, update indices and remove old table versions")
    .option("--retention-hours <h>", "keep versions newer than this (default VERSION_RETENTION_HOURS)")
    .option("--json", "print one JSON object", false)
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        const hours =
          opts.retentionHours === undefined ? ctx.config.versionRetentionHours : Number(opts.retentionHours);
        if (!Number.isFinite(hours) || hours < 0) {
          throw new SyncError(
            "SYNC_E_INVALID_ARGUMENT",
            `--retention-hours ${opts.retentionHours}: expected >= 0`,
          );
        }
        const r = await compactTables(ctx, hours);
        if (opts.json) printJson(r);
        else {
          r.after.forEach((t, i) => {
            const b = r.before[i];
            process.stdout.write(
              `${t.name}: versions ${b?.versions} -> ${t.versions}, fragments ${b?.fragments} -> ${t.fragments}, ${t.rows} rows\n`,
            );
          });
        }
        return EXIT.OK;
      });
    });
}
