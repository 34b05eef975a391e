import { createHistogram } from "node:perf_hooks";
import type { Command } from "commander";
import type { AppContext } from "../../app/app-context.js";
import { syncFolders } from "../../app/sync-folders.js";
import type { RunRecord } from "../../core/journal.js";
import { describeError, SyncError } from "../../errors/sync-error.js";
import { listenForInterrupt, SIGNAL_EXIT } from "../interrupt.js";
import { collect } from "../parse-options.js";
import { plural } from "../plural.js";
import { createProgress } from "../progress.js";
import { EXIT, printJson, runCommand, WRITER_DEFAULTS } from "../run-command.js";
import { markShown } from "../terminal.js";
import { syncAll } from "./sync-all.js";

/** `lancedb-sync sync <path...> --user <id>`: one incremental sync of local folders. */
export function registerSyncCommand(program: Command): void {
  program
    .command("sync")
    .description("sync local folders (or files) into the knowledge base of one user")
    .argument("[paths...]", "folders or files; may be omitted for a source synced before (--source)")
    .option("-u, --user <id>", "user the documents belong to (required, except with --all)")
    .option(
      "--all",
      "sync every registered source of every user (of --user when given), e.g. after reset --yes",
    )
    .option("-s, --source <name>", "source name (default: derived from the paths)")
    .option(
      "-p, --pattern <glob>",
      "only files matching this glob, relative to each folder (repeat the flag for more: -p '*.md' -p '*.txt')",
      collect,
    )
    .option("--allow-mass-delete", "apply deletions even when they exceed MASS_DELETE_THRESHOLD", false)
    .option(
      "--allow-empty-root",
      "a folder that lists nothing really is empty (default: treat it as unmounted)",
      false,
    )
    .option("--follow-symlinks", "index files that symlinks lead to outside the folders (default: skip them)")
    .option("--json", "print one JSON object with the run's figures on stdout", false)
    .action(async (paths: string[], opts) => {
      await runCommand(
        opts.json,
        async (ctx) => {
          if (opts.all) {
            if (paths.length > 0 || opts.source !== undefined) {
              throw new SyncError(
                "SYNC_E_INVALID_ARGUMENT",
                "--all syncs registered sources: give no paths nor --source",
              );
            }
            const interrupt = listenForInterrupt();
            try {
              return await syncAll(ctx, {
                userId: opts.user,
                allowMassDelete: opts.allowMassDelete,
                json: opts.json,
                interrupt,
              });
            } catch (err) {
              const signal = interrupt.received();
              if (signal === undefined) throw err;
              reportInterrupted(ctx, opts.user, signal, { done: 0, total: 0 }, opts.json, err);
              return SIGNAL_EXIT[signal];
            } finally {
              interrupt.dispose();
            }
          }
          if (opts.user === undefined) {
            throw new SyncError(
              "SYNC_E_INVALID_ARGUMENT",
              "required option '-u, --user <id>' not specified (or --all: every registered source)",
            );
          }
          const progress = createProgress("syncing");
          const t0 = performance.now();
          const loop = watchEventLoop();
          const interrupt = listenForInterrupt();
          let done = { done: 0, total: 0 };
          try {
            const result = await syncFolders(ctx, {
              userId: opts.user,
              sourceName: opts.source,
              paths,
              patterns: opts.pattern,
              allowMassDelete: opts.allowMassDelete,
              allowEmptyRoots: opts.allowEmptyRoot,
              onProgress: (p) => {
                done = p;
                progress.update(p);
              },
              followSymlinks: opts.followSymlinks,
              signal: interrupt.signal,
            });
            progress.stop();
            const delay = loop.stop();
            // Held deletions wait for a decision (--allow-mass-delete), failed items are retried by themselves:
            // 3 takes precedence over 2; the JSON carries both counts.
            const exitCode =
              result.held_deletions > 0
                ? EXIT.DELETIONS_HELD
                : result.failed > 0
                  ? EXIT.ITEMS_FAILED
                  : EXIT.OK;
            const out = {
              ...result,
              exit_code: exitCode,
              duration_ms: Math.round(performance.now() - t0),
              peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
              event_loop_p50_ms: delay.p50,
              event_loop_p99_ms: delay.p99,
              event_loop_max_ms: delay.max,
            };
            if (opts.json) printJson(out);
            else printSummary(out);
            return exitCode;
          } catch (err) {
            const signal = interrupt.received();
            if (signal === undefined) throw err;
            progress.stop();
            reportInterrupted(ctx, opts.user, signal, done, opts.json, err);
            return SIGNAL_EXIT[signal];
          } finally {
            interrupt.dispose();
            loop.stop();
            progress.stop();
          }
        },
        { defaults: WRITER_DEFAULTS },
      );
    });
}

/**
 * Event-loop delay during the run, sampled like `perf_hooks.monitorEventLoopDelay({ resolution: 10 })`: a
 * 10 ms timer records each interval between its runs (so an idle loop shows about 10 ms, and a task that holds
 * the loop for 80 ms shows about 90). Unlike that monitor, the stretches before the first and after the last
 * tick count too. Figures in ms, 0.1 ms precision.
 */
function watchEventLoop(): { stop(): { p50: number; p99: number; max: number } } {
  const histogram = createHistogram();
  let prev = performance.now();
  const tick = () => {
    const now = performance.now();
    histogram.record(Math.max(1, Math.round((now - prev) * 1e6)));
    prev = now;
  };
  const timer = setInterval(tick, 10);
  timer.unref();
  let result: { p50: number; p99: number; max: number } | undefined;
  const ms = (ns: number) => Math.round(ns / 1e5) / 10;
  return {
    stop() {
      if (result === undefined) {
        clearInterval(timer);
        tick();
        result = {
          p50: ms(histogram.percentile(50)),
          p99: ms(histogram.percentile(99)),
          max: ms(histogram.max),
        };
      }
      return result;
    },
  };
}

function printSummary(r: Awaited<ReturnType<typeof syncFolders>> & { peak_rss_mb: number }): void {
  const lines = [
    `source ${r.source}: ${r.listed} listed, ${r.added} added, ${r.updated} updated, ${r.moved} moved, ` +
      `${r.deleted} deleted, ${r.unchanged} unchanged, ${r.failed} failed` +
      (r.repaired > 0 ? `, ${r.repaired} repaired` : ""),
    `embedded ${plural(r.embedded_chunks, "chunk")} (${r.reused_chunks} reused) in ${r.duration_ms} ms`,
  ];
  for (const f of r.failures) lines.push(`  failed: ${f.error} [${f.code}]`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  markShown(...r.failures.map((f) => f.error), ...r.warnings);
  if (r.given_up > 0) {
    lines.push(`  ${plural(r.given_up, "item")} gave up after repeated failures (see status)`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

/**
 * Says what an interrupted sync did: the run this process recorded as `interrupted` (its figures), how far
 * the progress got, and that the next sync goes on from there.
 */
function reportInterrupted(
  ctx: AppContext,
  userId: string | undefined,
  signal: keyof typeof SIGNAL_EXIT,
  progress: { done: number; total: number },
  json: boolean,
  err: unknown,
): void {
  let run: RunRecord | undefined;
  try {
    run = ctx.journal.lastRuns(5, userId).find((r) => r.status === "interrupted");
  } catch {
    run = undefined;
  }
  const s = run?.stats;
  const written = s
    ? `${s.added} added, ${s.updated} updated, ${s.moved} moved, ${s.deleted} deleted, ${s.failed} failed`
    : "nothing recorded";
  const message =
    `interrupted by ${signal}: ${progress.done} of ${plural(progress.total, "item")} processed (${written}); ` +
    `${run ? `run #${run.runId} of source ${run.sourceName} is recorded as interrupted` : "no run was started"}; ` +
    "what was written stays, the rest is synced by the next `lancedb-sync sync`";
  process.stderr.write(`lancedb-sync: ${message}\n`);
  markShown(describeError(err));
  if (json) {
    printJson({
      error: { code: "SYNC_E_INTERRUPTED", message },
      run_id: run?.runId ?? null,
      source: run?.sourceName ?? null,
      ...(s ?? {}),
      exit_code: SIGNAL_EXIT[signal],
    });
  }
}
