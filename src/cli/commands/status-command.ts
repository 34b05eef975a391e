import type { Command } from "commander";
import { collectStatus } from "../../app/collect-status.js";
import { EXIT, printJson, runCommand } from "../run-command.js";

/** `lancedb-sync status`: documents, chunks, failures, table health, last runs. */
export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("show documents, chunks, failed items, table versions and fragments, and the last run")
    .option("-u, --user <id>", "only this user's figures")
    .option("--json", "print one JSON object", false)
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        const s = await collectStatus(ctx, opts.user);
        if (opts.json) {
          printJson(s);
          return EXIT.OK;
        }
        const out = [
          `documents ${s.documents}, chunks ${s.chunks}, failed items ${s.failed}, pending ${s.pending}`,
          `embedder ${s.embedder}${s.table_embedder && s.table_embedder !== s.embedder ? ` (tables built with ${s.table_embedder})` : ""}`,
        ];
        if (s.store.detail) {
          const fix = s.store.state === "damaged" ? "" : "; the next sync repairs it";
          out.push(`store ${s.store.state.toUpperCase()}: ${s.store.detail}${fix}`);
        }
        for (const t of s.tables) {
          out.push(
            `table ${t.name}: ${t.rows} rows, version ${t.version}, ${t.versions} versions, ${t.fragments} fragments`,
          );
        }
        for (const src of s.sources) {
          out.push(
            `source ${src.user_id}/${src.name} (${src.type}) ${src.healthy ? "healthy" : `UNHEALTHY: ${src.last_error}`}`,
          );
        }
        if (s.last_run) {
          const r = s.last_run;
          out.push(
            `last run #${r.run_id} ${r.user_id}/${r.source} ${r.status} at ${r.finished_at ?? r.started_at}`,
          );
        }
        for (const f of s.failures) {
          out.push(
            `  failed ${f.user_id}/${f.source} ${f.key}: ${f.error} [${f.code}, ${f.attempts} attempts]`,
          );
        }
        process.stdout.write(`${out.join("\n")}\n`);
        return EXIT.OK;
      });
    });
}
