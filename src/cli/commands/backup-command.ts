import type { Command } from "commander";
import { requireTargets } from "../../app/backups.js";
import { systemOn } from "../../app/sync-system.js";
import type { LifecycleResult } from "../../backup/lifecycle.js";
import { SyncError } from "../../errors/sync-error.js";
import { plural } from "../plural.js";
import { EXIT, printJson, runCommand } from "../run-command.js";

/** Exit code of `backup verify` when a snapshot has a missing or damaged object. */
export const EXIT_BACKUP_PROBLEMS = 4;

/** `lancedb-sync backup [list|verify|prune]`: snapshots of the store and journal on the backup target(s). */
export function registerBackupCommand(program: Command): void {
  const backup = program
    .command("backup")
    .description("back up the tables and the journal now (incremental); see also backup list|verify|prune")
    .option(
      "--json",
      "print { snapshot_id, files_uploaded, bytes_uploaded, files_skipped, duration_ms, ... }",
      false,
    )
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        const r = await systemOn(ctx).backups.run();
        if (opts.json) printJson(r);
        else {
          process.stdout.write(
            `snapshot ${r.snapshot_id}: ${r.files_uploaded} files (${mb(r.bytes_uploaded)}) uploaded, ` +
              `${r.files_skipped} already there; ${r.total_files} files, ${mb(r.total_bytes)} in all; ` +
              `${r.tables.map((t) => `${t.name} v${t.version} (${t.rows} rows)`).join(", ")}; ${r.duration_ms} ms\n`,
          );
          for (const t of r.targets.slice(1)) {
            process.stdout.write(
              `  replica ${t.location}: ${t.files_uploaded} files (${mb(t.bytes_uploaded)}) uploaded\n`,
            );
          }
        }
        return EXIT.OK;
      });
    });

  backup
    .command("list")
    .description("list the complete snapshots, oldest first")
    .option(
      "--json",
      "print { snapshots: [{ snapshot_id, created_at, tables, total_files, total_bytes }] }",
      false,
    )
    .action(async (own, cmd: Command) => {
      // `--json` after the subcommand may be taken by `backup` itself: read both.
      const opts = { ...own, json: own.json === true || cmd.parent?.opts().json === true };
      await runCommand(opts.json, async (ctx) => {
        const snapshots = await systemOn(ctx).backups.list();
        if (opts.json) printJson({ snapshots });
        else if (snapshots.length === 0) process.stdout.write("no snapshots\n");
        else {
          for (const s of snapshots) {
            process.stdout.write(
              `${s.snapshot_id}  ${s.created_at}  ${s.tables.map((t) => `${t.name} v${t.version} ${t.rows} rows`).join(", ")}  ${mb(s.total_bytes)}\n`,
            );
          }
        }
        return EXIT.OK;
      });
    });

  backup
    .command("verify")
    .description("check that every object of every snapshot is present with its size (both targets)")
    .option("--deep", "also read every object back and check its SHA-256", false)
    .option("--json", "print { targets: [{ location, snapshots, objects_checked, problems }] }", false)
    .action(async (own, cmd: Command) => {
      // `--json` after the subcommand may be taken by `backup` itself: read both.
      const opts = { ...own, json: own.json === true || cmd.parent?.opts().json === true };
      await runCommand(opts.json, async (ctx) => {
        const targets = await systemOn(ctx).backups.verify({ deep: opts.deep === true });
        const problems = targets.reduce((n, t) => n + t.problems.length, 0);
        if (opts.json) printJson({ ok: problems === 0, targets });
        else {
          for (const t of targets) {
            process.stdout.write(
              `${t.location}: ${plural(t.snapshots, "snapshot")}, ${plural(t.objects_checked, "object")} checked` +
                `${t.deep ? ` (${mb(t.bytes_read)} read)` : ""}, ${plural(t.problems.length, "problem")}\n`,
            );
            for (const p of t.problems) process.stdout.write(`  ${p.snapshot_id}: ${p.holds}: ${p.detail}\n`);
          }
        }
        return problems === 0 ? EXIT.OK : EXIT_BACKUP_PROBLEMS;
      });
    });

  backup
    .command("prune")
    .description("delete snapshots outside the policy and every object no kept snapshot references")
    .requiredOption("--keep-last <n>", "keep the newest N snapshots (at least 1)")
    .option("--keep-days <d>", "also keep every snapshot younger than D days", "0")
    .option(
      "--json",
      "print { targets: [{ location, kept, removed_snapshots, removed_objects, removed_bytes }] }",
      false,
    )
    .action(async (own, cmd: Command) => {
      // `--json` after the subcommand may be taken by `backup` itself: read both.
      const opts = { ...own, json: own.json === true || cmd.parent?.opts().json === true };
      await runCommand(opts.json, async (ctx) => {
        const keepLast = whole("--keep-last", opts.keepLast);
        const keepDays = Number(opts.keepDays);
        if (!Number.isFinite(keepDays) || keepDays < 0) {
          throw new SyncError(
            "SYNC_E_INVALID_ARGUMENT",
            `--keep-days ${opts.keepDays}: expected a number >= 0`,
          );
        }
        const targets = await systemOn(ctx).backups.prune({ keepLast, keepDays });
        if (opts.json) printJson({ targets });
        else {
          for (const t of targets) {
            process.stdout.write(
              `${t.location}: kept ${plural(t.kept.length, "snapshot")}, removed ${plural(t.removed_snapshots.length, "snapshot")} and ` +
                `${plural(t.removed_objects, "object")} (${mb(t.removed_bytes)})\n`,
            );
          }
        }
        return EXIT.OK;
      });
    });

  registerLifecycle(backup);
}

/** `backup lifecycle --apply`: bucket lifecycle rules for the backup prefix (S3 targets). */
function registerLifecycle(backup: Command): void {
  backup
    .command("lifecycle")
    .description(
      "write S3 lifecycle rules for the backup prefix: expire noncurrent versions, abort stale multipart uploads",
    )
    .option("--apply", "write the rules (without it nothing is changed)", false)
    .option("--noncurrent-days <d>", "remove versions no longer current after D days", "30")
    .option("--abort-multipart-days <d>", "abort unfinished multipart uploads after D days", "7")
    .option("--json", "print { targets: [{ location, applied, rules | reason }] }", false)
    .action(async (own, cmd: Command) => {
      // `--json` after the subcommand may be taken by `backup` itself: read both.
      const opts = { ...own, json: own.json === true || cmd.parent?.opts().json === true };
      await runCommand(opts.json, async (ctx) => {
        if (!opts.apply) {
          throw new SyncError(
            "SYNC_E_INVALID_ARGUMENT",
            "backup lifecycle changes the bucket's rules: pass --apply",
          );
        }
        const options = {
          noncurrentDays: whole("--noncurrent-days", opts.noncurrentDays),
          abortMultipartDays: whole("--abort-multipart-days", opts.abortMultipartDays),
        };
        const targets = systemOn(ctx).backups.targets();
        requireTargets(targets);
        // Loaded here: it brings the AWS SDK, which no other command needs at start.
        const { applyLifecycle } = await import("../../backup/lifecycle.js");
        const out: Array<{ location: string } & LifecycleResult> = [];
        for (const t of targets) out.push({ location: t.location, ...(await applyLifecycle(t, options)) });
        if (opts.json) printJson({ targets: out });
        else {
          for (const r of out) {
            process.stdout.write(
              r.applied
                ? `${r.location}: ${r.rules.length} lifecycle rules written (${r.keptRules} other rules kept)\n`
                : `${r.location}: not applied: ${r.reason}\n`,
            );
          }
        }
        return EXIT.OK;
      });
    });
}

function whole(flag: string, value: unknown): number {
  if (!/^\d+$/.test(String(value))) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `${flag} ${JSON.stringify(value)}: expected a whole number`,
    );
  }
  return Number(value);
}

/** Bytes as MB with one decimal. */
export function mb(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}
