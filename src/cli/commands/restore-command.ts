import type { Command } from "commander";
import { configuredBackupTargets } from "../../app/backups.js";
import { restoreBackup } from "../../app/restore-backup.js";
import { restoreDrill } from "../../app/restore-drill.js";
import type { BackupTarget } from "../../backup/backup-target.js";
import { type Config, checkConfigPaths, loadConfig } from "../../config/load-config.js";
import { SyncError } from "../../errors/sync-error.js";
import { createLogger } from "../../logging/create-logger.js";
import { EXIT, printJson, runPlain } from "../run-command.js";
import { EXIT_BACKUP_PROBLEMS, mb } from "./backup-command.js";

interface RestoreFlags {
  snapshot?: string;
  at?: string;
  target?: string;
  force: boolean;
  drill: boolean;
  json: boolean;
}

/**
 * `lancedb-sync restore [--snapshot ID | --at TIME] [--target DIR] [--force] [--drill] [--json]`. Works on
 * the files and the journal directly (no store opened on the destination): it must be free.
 */
export function registerRestoreCommand(program: Command): void {
  program
    .command("restore")
    .description("restore the tables and the journal from a snapshot (the newest unless --snapshot or --at)")
    .option("--snapshot <id>", "restore this snapshot (see `backup list`)")
    .option("--at <time>", "restore the newest snapshot taken at or before this time (ISO 8601)")
    .option(
      "--target <dir>",
      "restore into DIR (DIR/lancedb, DIR/state.db, DIR/uploads) instead of the configured paths",
    )
    .option("--force", "replace the live tables and journal at the destination", false)
    .option(
      "--drill",
      "restore into a temporary directory, check counts, checksums and a search, then remove it",
      false,
    )
    .option("--json", "print one JSON object", false)
    .action(async (opts: RestoreFlags) => {
      await runPlain(opts.json, async () => {
        const config = loadConfig();
        checkConfigPaths(config);
        const made = configuredBackupTargets(config);
        try {
          return opts.drill
            ? await drill(config, made.targets, opts)
            : await restore(config, made.targets, opts);
        } finally {
          made.close();
        }
      });
    });
}

async function drill(config: Config, targets: BackupTarget[], opts: RestoreFlags): Promise<number> {
  if (opts.target !== undefined || opts.force || opts.at !== undefined) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      "--drill takes only --snapshot (it restores into a temporary directory)",
    );
  }
  const logger = createLogger({ level: config.logLevel, file: config.logFile });
  const r = await restoreDrill(config, targets, logger, { snapshotId: opts.snapshot });
  if (opts.json) printJson(r);
  else {
    process.stdout.write(
      `drill of snapshot ${r.snapshot_id}: ${r.files_verified} files (${mb(r.bytes)}) verified; ` +
        `${r.tables.map((t) => `${t.name} ${t.rows}/${t.expected_rows} rows`).join(", ")}; ` +
        `${r.search ? `search "${r.search.query}" found ${r.search.hits} hits` : "no document to search"}; ` +
        `restore ${r.restore_ms} ms, drill ${r.duration_ms} ms: ${r.ok ? "ok" : "FAILED"}\n`,
    );
  }
  return r.ok ? EXIT.OK : EXIT_BACKUP_PROBLEMS;
}

async function restore(config: Config, targets: BackupTarget[], opts: RestoreFlags): Promise<number> {
  const r = await restoreBackup(config, targets, {
    snapshotId: opts.snapshot,
    at: opts.at,
    targetDir: opts.target,
    force: opts.force === true,
  });
  if (opts.json) printJson(r);
  else {
    process.stdout.write(
      `restored snapshot ${r.snapshot_id} (${r.created_at}) into ${r.lancedb_uri} and ${r.state_db_path}: ` +
        `${r.files} files (${mb(r.bytes)}) verified; ` +
        `${r.tables.map((t) => `${t.name} v${t.version} ${t.rows} rows`).join(", ")}; ${r.duration_ms} ms\n`,
    );
  }
  return EXIT.OK;
}
