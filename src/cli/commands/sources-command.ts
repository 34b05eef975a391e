import type { Command } from "commander";
import type { SourceRunResult } from "../../app/run-source.js";
import type { SourceView } from "../../app/sources.js";
import { systemOn } from "../../app/sync-system.js";
import { SyncError } from "../../errors/sync-error.js";
import { plural } from "../plural.js";
import { EXIT, printJson, runCommand } from "../run-command.js";
import { runRemote } from "../service-client.js";

/** `lancedb-sync sources list|add|show|remove`: sources as stored records. */
export function registerSourcesCommand(program: Command): void {
  const sources = program.command("sources").description("register, list, show and remove sources");

  sources
    .command("list")
    .description("list registered sources")
    .option("-u, --user <id>", "only this user's sources")
    .option("--json", "print one JSON object { sources: [...] }", false)
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        const list = await systemOn(ctx).sources.list({ userId: opts.user });
        if (opts.json) printJson({ sources: list });
        else if (list.length === 0) process.stdout.write("no sources\n");
        else for (const s of list) process.stdout.write(`${describe(s)}\n`);
        return EXIT.OK;
      });
    });

  sources
    .command("add")
    .description(
      "register a source: local_filesystem (alias fs) with --path, upload, or notion (token by --token-env)",
    )
    .argument("<type>", "source type: local_filesystem (fs), upload or notion")
    .requiredOption("-u, --user <id>", "user the source belongs to")
    .requiredOption("-n, --name <id>", "source id, unique per user")
    .option("--path <dir...>", "folders (or files) to watch (local_filesystem)")
    .option(
      "--pattern <glob...>",
      "only files matching these globs, relative to each folder (local_filesystem)",
    )
    .option("--ignore <glob...>", "skip files matching these globs (local_filesystem)")
    .option("--follow-symlinks", "index files that symlinks lead to outside the folders (local_filesystem)")
    .option("--token-env <var>", "variable holding the integration token (notion; default NOTION_TOKEN)")
    .option("--token-file <path>", "file holding the integration token (notion)")
    .option("--root <id...>", "page, database or data source ids (notion; default: all shared pages)")
    .option("--poll-interval <seconds>", "seconds between scheduled runs (default DEFAULT_POLL_INTERVAL)")
    .option("--disabled", "register it without scheduling it", false)
    .option("--json", "print the source as one JSON object", false)
    .action(async (type: string, opts) => {
      await runCommand(opts.json, async (ctx) => {
        const config: Record<string, unknown> = {};
        const cwd = process.cwd();
        if (opts.path) config.watch_paths = (opts.path as string[]).map((p) => absolute(p, cwd));
        if (opts.pattern) config.file_patterns = opts.pattern;
        if (opts.ignore) config.ignore_patterns = opts.ignore;
        if (opts.followSymlinks) config.follow_symlinks = true;
        if (opts.tokenEnv !== undefined) config.token_env = opts.tokenEnv;
        if (opts.tokenFile !== undefined) config.token_file = absolute(opts.tokenFile, cwd);
        if (opts.root) config.roots = opts.root;
        let pollInterval: number | undefined;
        if (opts.pollInterval !== undefined) {
          pollInterval = Number(opts.pollInterval);
          if (!/^\d+$/.test(String(opts.pollInterval))) {
            throw new SyncError(
              "SYNC_E_INVALID_ARGUMENT",
              `--poll-interval ${JSON.stringify(opts.pollInterval)}: expected whole seconds`,
            );
          }
        }
        const view = await systemOn(ctx).sources.add({
          userId: opts.user,
          sourceId: opts.name,
          type,
          config,
          pollInterval,
          enabled: !opts.disabled,
        });
        if (opts.json) printJson(view);
        else process.stdout.write(`added ${describe(view)}\n`);
        return EXIT.OK;
      });
    });

  sources
    .command("show")
    .description("show one source")
    .requiredOption("-u, --user <id>", "user the source belongs to")
    .requiredOption("-n, --name <id>", "source id")
    .option("--json", "print the source as one JSON object", false)
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        const view = await systemOn(ctx).sources.get({ userId: opts.user, sourceId: opts.name });
        if (opts.json) printJson(view);
        else {
          process.stdout.write(`${describe(view)}\n`);
          for (const [k, v] of Object.entries(view.config))
            process.stdout.write(`  ${k}: ${JSON.stringify(v)}\n`);
          process.stdout.write(`  last run: ${view.last_run_at ?? "never"}\n`);
        }
        return EXIT.OK;
      });
    });

  registerScan(sources);

  sources
    .command("remove")
    .description("remove a source with its documents (or keep them with --keep-documents)")
    .requiredOption("-u, --user <id>", "user the source belongs to")
    .requiredOption("-n, --name <id>", "source id")
    .option("--keep-documents", "leave its documents in the index", false)
    .option("--json", "print one JSON object", false)
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        const r = await systemOn(ctx).sources.remove({
          userId: opts.user,
          sourceId: opts.name,
          keepDocuments: opts.keepDocuments,
        });
        if (opts.json) printJson(r);
        else {
          process.stdout.write(
            `removed source ${r.user_id}/${r.source_id}: ` +
              (r.kept_documents
                ? "its documents were kept\n"
                : `${plural(r.documents, "document")} and ${plural(r.chunks, "chunk")} deleted\n`),
          );
        }
        return EXIT.OK;
      });
    });
}

/** Registers `sources scan`: a full run of one source, here or by the running service. */
function registerScan(sources: Command): void {
  sources
    .command("scan")
    .description(
      "run a full sync of one registered source (by the service at --url / LANCEDB_SYNC_URL when set)",
    )
    .requiredOption("-u, --user <id>", "user the source belongs to")
    .requiredOption("-n, --name <id>", "source id")
    .option("--url <url>", "ask the service running at this URL (default: LANCEDB_SYNC_URL)")
    .option("--local", "run it in this process even when LANCEDB_SYNC_URL is set", false)
    .option("--no-wait", "with a service: return once the run is queued (prints its job id)")
    .option("--allow-mass-delete", "apply deletions even when they exceed MASS_DELETE_THRESHOLD", false)
    .option("--json", "print one JSON object", false)
    .action(async (opts) => {
      const remote = await runRemote(opts, async (client) => {
        const userQuery = `user_id=${encodeURIComponent(opts.user)}`;
        const { sources: list } = await client.get<{ sources: SourceView[] }>(`api/v1/sources?${userQuery}`);
        const source = list.find((s) => s.user_id === opts.user && s.source_id === opts.name);
        if (!source)
          throw new SyncError(
            "SYNC_E_NOT_FOUND",
            `user "${opts.user}" has no source "${opts.name}" at ${client.url}`,
          );
        const path = `api/v1/sources/${encodeURIComponent(source.type)}/${encodeURIComponent(source.source_id)}/scan`;
        const answer = await client.post<{
          job: { job_id: string; state: string };
          result?: SourceRunResult;
        }>(`${path}?${userQuery}${opts.wait ? "&wait=true" : ""}`);
        if (opts.json) printJson(answer);
        else if (answer.result) printRun(answer.result);
        else process.stdout.write(`job ${answer.job.job_id} ${answer.job.state} at ${client.url}\n`);
        return answer.result ? runExit(answer.result) : EXIT.OK;
      });
      if (remote) return;
      await runCommand(opts.json, async (ctx) => {
        const result = await systemOn(ctx).syncSource({
          userId: opts.user,
          sourceId: opts.name,
          allowMassDelete: opts.allowMassDelete,
        });
        if (opts.json) printJson(result);
        else printRun(result);
        return runExit(result);
      });
    });
}

function runExit(r: SourceRunResult): number {
  return r.held_deletions > 0 ? EXIT.DELETIONS_HELD : r.failed > 0 ? EXIT.ITEMS_FAILED : EXIT.OK;
}

function printRun(r: SourceRunResult): void {
  process.stdout.write(
    `source ${r.source} (${r.source_type}, run #${r.run_id}): ${r.listed} listed, ${r.added} added, ` +
      `${r.updated} updated, ${r.moved} moved, ${r.deleted} deleted, ${r.unchanged} unchanged, ${r.failed} failed\n`,
  );
  for (const f of r.failures) process.stdout.write(`  failed: ${f.error} [${f.code}]\n`);
  for (const w of r.warnings) process.stdout.write(`  warning: ${w}\n`);
}

function describe(s: SourceView): string {
  const state = !s.enabled ? "disabled" : s.healthy ? "healthy" : `UNHEALTHY: ${s.last_error}`;
  return `${s.user_id}/${s.source_id} (${s.type}, every ${s.poll_interval}s) ${state}`;
}

function absolute(p: string, cwd: string): string {
  if (p === "~" || p.startsWith("~/") || p.startsWith("/")) return p;
  return `${cwd.replace(/\/$/, "")}/${p}`;
}
