import type { Command } from "commander";
import { compactTables } from "../../app/compact-tables.js";
import { SyncError } from "../../errors/sync-error.js";
import { tableHealthJson } from "../json-keys.js";
import { plural } from "../plural.js";
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
        if (opts.json) {
          printJson({
            before: r.before.map(tableHealthJson),
            after: r.after.map(tableHealthJson),
            retention_hours: r.retention_hours,
          });
        } else {
          let rose = false;
          r.after.forEach((t, i) => {
            const b = r.before[i];
            if (b && t.versions >= b.versions) rose = true;
            process.stdout.write(
              `${t.name}: ${b?.versions ?? "?"} -> ${plural(t.versions, "version")}, ` +
                `${b?.fragments ?? "?"} -> ${plural(t.fragments, "fragment")}, ${plural(t.rows, "row")}\n`,
            );
          });
          if (rose) {
            process.stdout.write(
              `versions did not go down: compaction commits new versions of its own, and versions newer than ` +
                `${hours} h (--retention-hours, default VERSION_RETENTION_HOURS) are kept so that readers and ` +
                "backups of them keep working; they are removed by a later compact once older than that " +
                "(`compact --retention-hours 0` keeps only the newest)\n",
            );
          }
        }
        return EXIT.OK;
      });
    });
}
