import type { Command } from "commander";
import { syncFolders } from "../../app/sync-folders.js";
import type { SyncStep } from "../../core/run-sync.js";
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
            onProgress: progress.update,
            onStep: crashHook(),
          });
          progress.stop();
          const out = {
            ...result,
            duration_ms: Math.round(performance.now() - t0),
            peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
          };
          if (opts.json) printJson(out);
          else printSummary(out);
          if (result.failed > 0) return EXIT.ITEMS_FAILED;
          return result.held_deletions > 0 ? EXIT.DELETIONS_HELD : EXIT.OK;
        } finally {
          progress.stop();
        }
      });
    });
}

function printSummary(r: Awaited<ReturnType<typeof syncFolders>> & { peak_rss_mb: number }): void {
  const lines = [
    `source ${r.source}: ${r.listed} listed, ${r.added} added, ${r.updated} updated, ${r.moved} moved, ` +
      `${r.deleted} deleted, ${r.unchanged} unchanged, ${r.failed} failed`,
    `embedded ${r.embedded_chunks} chunks (${r.reused_chunks} reused) in ${r.duration_ms} ms`,
  ];
  for (const f of r.failures) lines.push(`  failed: ${f.error} [${f.code}]`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  if (r.given_up > 0) lines.push(`  ${r.given_up} items gave up after repeated failures (see status)`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

/**
 * Test hook: `LANCEDB_SYNC_CRASH_AT=<step>:<batch>` kills the process with SIGKILL when the run reaches that
 * step, to prove that a crash there loses and duplicates nothing.
 */
function crashHook(): ((step: SyncStep, batch: number) => void) | undefined {
  const at = process.env.LANCEDB_SYNC_CRASH_AT;
  if (!at) return undefined;
  const [step, batch] = at.split(":");
  return (s, b) => {
    if (s === step && String(b) === (batch ?? "0")) process.kill(process.pid, "SIGKILL");
  };
}
