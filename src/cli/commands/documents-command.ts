import type { Command } from "commander";
import { systemOn } from "../../app/sync-system.js";
import { SyncError } from "../../errors/sync-error.js";
import { plural } from "../plural.js";
import { EXIT, printJson, runCommand } from "../run-command.js";

/** `lancedb-sync documents list|show|delete --user U`: one user's indexed documents. */
export function registerDocumentsCommand(program: Command): void {
  const documents = program.command("documents").description("list, show and delete a user's documents");

  documents
    .command("list")
    .description("list a user's documents")
    .requiredOption("-u, --user <id>", "whose documents")
    .option("-s, --source <id>", "only this source's documents")
    .option("-l, --limit <n>", "at most this many", "100")
    .option("--offset <n>", "skip this many first", "0")
    .option("--json", "print one JSON object { documents: [...] }", false)
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        const limit = wholeNumber("--limit", opts.limit, 1, 10_000);
        const offset = wholeNumber("--offset", opts.offset, 0, Number.MAX_SAFE_INTEGER);
        const docs = await systemOn(ctx).listDocuments({
          userId: opts.user,
          sourceId: opts.source,
          limit,
          offset,
        });
        if (opts.json) printJson({ documents: docs });
        else if (docs.length === 0) process.stdout.write("no documents\n");
        else {
          for (const d of docs) {
            process.stdout.write(
              `${d.doc_id}  ${d.source_id}  ${d.item_key}  (${plural(d.chunk_count, "chunk")}) ${d.title}\n`,
            );
          }
        }
        return EXIT.OK;
      });
    });

  documents
    .command("show")
    .description("show one document")
    .argument("<doc_id>", "document id")
    .requiredOption("-u, --user <id>", "whose document")
    .option("--json", "print the document as one JSON object", false)
    .action(async (docId: string, opts) => {
      await runCommand(opts.json, async (ctx) => {
        const d = await systemOn(ctx).getDocument({ userId: opts.user, docId });
        const view = d;
        if (opts.json) printJson(view);
        else {
          for (const [k, v] of Object.entries(view)) {
            process.stdout.write(`${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}\n`);
          }
        }
        return EXIT.OK;
      });
    });

  documents
    .command("delete")
    .description("delete one document (an upload; or a file that no longer exists)")
    .argument("<doc_id>", "document id")
    .requiredOption("-u, --user <id>", "whose document")
    .option("--json", "print one JSON object", false)
    .action(async (docId: string, opts) => {
      await runCommand(opts.json, async (ctx) => {
        const r = await systemOn(ctx).deleteDocument({ userId: opts.user, docId });
        if (opts.json) printJson(r);
        else process.stdout.write(`deleted ${r.doc_id} (${r.source_id}: ${r.key})\n`);
        return EXIT.OK;
      });
    });
}

function wholeNumber(flag: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `${flag} ${JSON.stringify(raw)}: expected a whole number in ${min}..${max}`,
    );
  }
  return n;
}
