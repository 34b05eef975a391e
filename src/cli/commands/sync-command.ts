import type { Command } from "commander";
import { syncFolders } from "../../app/sync-folders.js";
import { createProgress } from "../progress.js";
import { EXIT, printJson, runCommand } from "../run-command.js";

/** `lancedb-sync sync <path...> --user <id>`: one incremental sync of local folders. */
export function registerSyncCommand(program: Command): void {
  program
    .command("sync")
    .description("sync local folders (or files) into the knowledge base of one user")
    .argument("[paths...]", "folders or files; may be omitted for a source synced before (--source)")
    .requiredOption("-u, --user <id>", "user the documents belong to")
    .option("-s, --source <name>", "source name (default: derived from the paths)")
    .option("-p, --pattern <glob...>", "only files matching these globs (relative to each folder)")
    .option("--allow-mass-delete", "apply deletions even when they exceed MASS_DELETE_THRESHOLD", false)
    .option(
      "--allow-empty-root",
      "a folder that lists nothing really is empty (default: treat it as unmounted)",
      false,
    )
    .option("--follow-symlinks", "index files that symlinks lead to outside the folders (default: skip them)")
    .option("--json", "print one JSON object with the run's figures on stdout", false)
    .action(async (paths: string[], opts) => {
      await runCommand(opts.json, async (ctx) => {
        const progress = createProgress("syncing");
        const t0 = performance.now();
        try {
          const result = await syncFolders(ctx, {
            userId: opts.user,
            sourceName: opts.source,
            paths,
            patterns: opts.pattern,
            allowMassDelete: opts.allowMassDelete,
            allowEmptyRoots: opts.allowEmptyRoot,
            onProgress: progress.update,
            followSymlinks: opts.followSymlinks,
          });
          progress.stop();
          // Held deletions wait for a decision (--allow-mass-delete), failed items are retried by themselves:
          // 3 takes precedence over 2; the JSON carries both counts.
          const exitCode =
            result.held_deletions > 0 ? EXIT.DELETIONS_HELD : result.failed > 0 ? EXIT.ITEMS_FAILED : EXIT.OK;
          const out = {
            ...result,
            exit_code: exitCode,
            duration_ms: Math.round(performance.now() - t0),
            peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
          };
          if (opts.json) printJson(out);
          else printSummary(out);
          return exitCode;
        } finally {
          progress.stop();
        }
      });
    });
}

function printSummary(r: Awaited<ReturnType<typeof syncFolders>> & { peak_rss_mb: number }): void {
  const lines = [
    `source ${r.source}: ${r.listed} listed, ${r.added} added, ${r.updated} updated, ${r.moved} moved, ` +
      `${r.deleted} deleted, ${r.unchanged} unchanged, ${r.failed} failed` +
      (r.repaired > 0 ? `, ${r.repaired} repaired` : ""),
    `embedded ${r.embedded_chunks} chunks (${r.reused_chunks} reused) in ${r.duration_ms} ms`,
  ];
  for (const f of r.failures) lines.push(`  failed: ${f.error} [${f.code}]`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  if (r.given_up > 0) lines.push(`  ${r.given_up} items gave up after repeated failures (see status)`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
