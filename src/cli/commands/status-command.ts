import type { Command } from "commander";
import { collectStatus, type StatusReport } from "../../app/collect-status.js";
import type { TableHealth } from "../../core/document-store.js";
import { type TableHealthJson, tableHealthJson } from "../json-keys.js";
import { plural } from "../plural.js";
import { EXIT, printJson, runCommand } from "../run-command.js";
import { runRemote } from "../service-client.js";

/** What a running service adds to the status report (`GET /api/v1/status`). */
interface ServiceStatus extends StatusReport {
  service?: { started_at: string | null; monitoring: boolean; sources_monitored: number };
  monitors?: Array<{ user_id: string; source_id: string; watching: boolean; watch_error: string | null }>;
}

/** `lancedb-sync status`: documents, chunks, failures, table health, last runs — local, or of a running service. */
export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("show documents, chunks, failed items, table versions and fragments, and the last run")
    .option("-u, --user <id>", "only this user's figures")
    .option(
      "--url <url>",
      "ask the service running at this URL (default: LANCEDB_SYNC_URL) instead of the local data",
    )
    .option("--local", "read the local data even when LANCEDB_SYNC_URL is set", false)
    .option("--json", "print one JSON object", false)
    .action(async (opts) => {
      const remote = await runRemote(opts, async (client) => {
        const query = opts.user ? `?user_id=${encodeURIComponent(opts.user)}` : "";
        const s = await client.get<ServiceStatus>(`api/v1/status${query}`);
        if (opts.json) printJson(statusJson(s));
        else printStatus(s, client.url);
        return EXIT.OK;
      });
      if (remote) return;
      await runCommand(opts.json, async (ctx) => {
        const s = await collectStatus(ctx, opts.user);
        if (opts.json) printJson(statusJson(s));
        else printStatus(s);
        return EXIT.OK;
      });
    });
}

/** The status report with its tables' keys in snake_case, like the rest of the report. */
function statusJson<T extends { tables: TableHealth[] }>(
  s: T,
): Omit<T, "tables"> & { tables: TableHealthJson[] } {
  return { ...s, tables: s.tables.map(tableHealthJson) };
}

function printStatus(s: ServiceStatus, from?: string): void {
  const out: string[] = [];
  if (from) {
    const svc = s.service;
    out.push(
      `service ${from}${svc ? `: up since ${svc.started_at ?? "?"}, monitoring ${svc.monitoring ? "on" : "off"}, ${svc.sources_monitored} sources monitored` : ""}`,
    );
  }
  out.push(
    `documents ${s.documents}, chunks ${s.chunks}, failed items ${s.failed}, pending ${s.pending}`,
    `embedder ${s.embedder}${s.table_embedder && s.table_embedder !== s.embedder ? ` (tables built with ${s.table_embedder})` : ""}`,
  );
  if (s.store.detail) {
    const fix = s.store.state === "damaged" ? "" : "; the next sync repairs it";
    out.push(`store ${s.store.state.toUpperCase()}: ${s.store.detail}${fix}`);
  }
  for (const t of s.tables) {
    out.push(
      `table ${t.name}: ${plural(t.rows, "row")}, version ${t.version}, ${plural(t.versions, "version")}, ${plural(t.fragments, "fragment")}`,
    );
  }
  for (const src of s.sources) {
    const monitor = s.monitors?.find((m) => m.user_id === src.user_id && m.source_id === src.name);
    const watch = monitor
      ? monitor.watching
        ? ", watched"
        : monitor.watch_error
          ? `, not watched: ${monitor.watch_error}`
          : ""
      : "";
    out.push(
      `source ${src.user_id}/${src.name} (${src.type}) ${src.healthy ? "healthy" : `UNHEALTHY: ${src.last_error}`}${watch}`,
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
      `  failed ${f.user_id}/${f.source} ${f.key}: ${f.error} [${f.code}, ${plural(f.attempts, "attempt")}]`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}
