import type { Command } from "commander";
import { runDoctor } from "../../app/doctor.js";
import { EXIT, printJson, runCommand } from "../run-command.js";

/** `lancedb-sync doctor [--repair]`: read every table in full; repair damaged ones. */
export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description(
      "read both tables in full and check the journal; with --repair, bring a damaged table back to its newest readable version",
    )
    .option("--repair", "go back to the newest readable version of each damaged table (then run sync)", false)
    .option("--json", "print one JSON object", false)
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        const r = await runDoctor(ctx, { repair: opts.repair });
        if (opts.json) printJson(r);
        else {
          const out: string[] = [];
          for (const t of r.tables) {
            if (!t.exists) out.push(`table ${t.name}: not created yet`);
            else if (t.ok) out.push(`table ${t.name}: ok, ${t.rows} rows, version ${t.version}`);
            else out.push(`table ${t.name}: DAMAGED: ${t.problem}`);
          }
          for (const x of r.repaired) {
            out.push(
              `repaired ${x.name}: back to version ${x.restoredVersion} (was ${x.from ?? "?"}, now ${x.to})` +
                (x.movedManifests.length
                  ? `; unreadable manifests moved to ${x.movedManifests.join(", ")}`
                  : ""),
            );
          }
          if (r.repaired.length > 0) {
            out.push("run `lancedb-sync sync` for each source: it re-processes what the tables lost");
          }
          out.push(`journal ${r.journal.path}: ${r.journal.ok ? "ok" : `DAMAGED: ${r.journal.detail}`}`);
          if (!r.ok && !opts.repair)
            out.push("`lancedb-sync doctor --repair` goes back to the newest readable versions");
          process.stdout.write(`${out.join("\n")}\n`);
        }
        return r.ok ? EXIT.OK : EXIT.FATAL;
      });
    });
}
