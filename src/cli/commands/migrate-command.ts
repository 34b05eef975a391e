import type { Command } from "commander";
import { dryRunMigration, type MigrateOptions, type MigrateReport, migrateTable } from "../../app/migrate.js";
import { loadConfig } from "../../config/load-config.js";
import { SyncError } from "../../errors/sync-error.js";
import { createProgress } from "../progress.js";
import { EXIT, printJson, runCommand, runPlain, WRITER_DEFAULTS } from "../run-command.js";

/**
 * `lancedb-sync migrate --from <uri> --table <name> (--all-users | --user <id> | --assign-user <id>) …`: brings
 * a LanceDB table of another application into this store. Exit 0 when every row was migrated, 2 when rows were
 * skipped (counted by reason in the output), 1 on a fatal error. `--dry-run` opens no journal and creates no
 * table.
 */
export function registerMigrateCommand(program: Command): void {
  program
    .command("migrate")
    .description("migrate an existing LanceDB table (one row per chunk or per document) into this store")
    .option("--from <uri>", "database of the legacy table (default LANCEDB_URI)")
    .requiredOption("--table <name>", "the legacy table")
    .option("--all-users", "every row, owned by the user in its user column", false)
    .option("--user <id>", "only the rows of this user")
    .option("--assign-user <id>", "every row, given to this user (tables without a user column)")
    .option(
      "--map <column=field...>",
      "use this column for a field: text, vector, user, doc, ordinal, metadata, timestamp, title, id",
    )
    .option("--source <name>", "target source (default migrated-<table>)")
    .option(
      "--root <dir>",
      "documents are files under this folder: they join a local_filesystem source over it",
    )
    .option("--legacy-embedder <id>", "embedder id of the legacy vectors: kept when it is the configured one")
    .option("--reembed", "embed every chunk again, even when vectors could be kept", false)
    .option("--dry-run", "print the mapping, the plan per user and every problem; change nothing", false)
    .option("--json", "print one JSON object with the figures on stdout", false)
    .action(async (opts) => {
      const options: MigrateOptions = {
        from: opts.from,
        table: opts.table,
        allUsers: opts.allUsers === true ? true : undefined,
        userId: opts.user,
        assignUser: opts.assignUser,
        map: parseMap(opts.map ?? []),
        sourceName: opts.source,
        root: opts.root,
        legacyEmbedder: opts.legacyEmbedder,
        reembed: opts.reembed,
      };
      const finish = (r: MigrateReport): number => {
        const exitCode = Object.keys(r.skipped).length > 0 ? EXIT.ITEMS_FAILED : EXIT.OK;
        if (opts.json) printJson({ ...r, exit_code: exitCode });
        else printReport(r);
        return exitCode;
      };
      if (opts.dryRun) {
        // No app context: it would create the journal file.
        await runPlain(opts.json, async () => {
          const config = loadConfig();
          return finish(await dryRunMigration(config, options));
        });
        return;
      }
      await runCommand(
        opts.json,
        async (ctx) => {
          const progress = createProgress("migrating");
          try {
            const r = await migrateTable(ctx, { ...options, onProgress: progress.update });
            progress.stop();
            return finish(r);
          } finally {
            progress.stop();
          }
        },
        { defaults: WRITER_DEFAULTS },
      );
    });
}

/** `--map` values `column=field` (split at the last `=`, so a column name may hold one). */
function parseMap(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const at = v.lastIndexOf("=");
    if (at <= 0 || at === v.length - 1) {
      throw new SyncError("SYNC_E_INVALID_ARGUMENT", `--map ${v}: expected column=field`);
    }
    out[v.slice(0, at)] = v.slice(at + 1);
  }
  return out;
}

function printReport(r: MigrateReport): void {
  const lines = [
    `${r.dry_run ? "dry run: would migrate" : "migrated"} table ${r.table} (version ${r.version}) from ${r.from}` +
      (r.resumed ? " (resumed)" : ""),
    `mapping: ${Object.entries(r.mapping)
      .map(([field, column]) => `${field} <- ${JSON.stringify(column)}`)
      .join(", ")}`,
    `vectors: ${r.vectors_reason}`,
    `${r.source_rows} rows: ${r.rows_migrated} migrated into ${r.documents} documents and ${r.chunks} chunks ` +
      `(${r.written_documents} written, ${r.unchanged_documents} unchanged); ${r.vectors_kept} vectors kept, ` +
      `${r.reembedded} chunks ${r.dry_run ? "to embed" : "embedded"}`,
  ];
  for (const u of r.per_user) {
    lines.push(
      `  user ${u.user_id}: ${u.source_type} source "${u.source_id}": ${u.documents} documents, ${u.chunks} chunks ` +
        `(${u.written} ${r.dry_run ? "to write" : "written"}, ${u.unchanged} unchanged)`,
    );
  }
  if (r.root) {
    lines.push(
      `root ${r.root.path}: ${r.root.found} files found, ${r.root.newer} newer than their rows (re-processed by the ` +
        `next sync), ${r.root.missing} missing (deletion candidates of the next sync)`,
    );
  }
  for (const [reason, s] of Object.entries(r.skipped)) {
    lines.push(`  skipped ${s.count} rows: ${reason.replaceAll("_", " ")} (e.g. ${s.examples.join(", ")})`);
  }
  for (const p of r.problems) lines.push(`  problem: ${p}`);
  lines.push(`in ${r.duration_ms} ms`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
