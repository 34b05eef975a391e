import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import type { Command } from "commander";
import type { IngestResult } from "../../app/documents.js";
import { systemOn } from "../../app/sync-system.js";
import { describeError, isSyncError, SyncError } from "../../errors/sync-error.js";
import { plural } from "../plural.js";
import { EXIT, printJson, runCommand, WRITER_DEFAULTS } from "../run-command.js";

/** `lancedb-sync ingest <file...> --user U`: push documents as a host application would. */
export function registerIngestCommand(program: Command): void {
  program
    .command("ingest")
    .description("push files into a user's knowledge base as uploaded documents (kept until deleted)")
    .argument("<files...>", "files to push (txt, md, html, pdf, docx)")
    .requiredOption("-u, --user <id>", "user the documents belong to")
    .option("-s, --source <id>", "upload source to push to (created when missing)", "uploads")
    .option("-k, --key <key>", "the document's key (one file only; default: its file name)")
    .option("-m, --metadata <json>", "a JSON object stored with each document and returned with its hits")
    .option("--json", "print one JSON object { documents: [...], failed: [...] }", false)
    .action(async (files: string[], opts) => {
      await runCommand(
        opts.json,
        async (ctx) => {
          if (opts.key !== undefined && files.length > 1) {
            throw new SyncError("SYNC_E_INVALID_ARGUMENT", "--key names one document: give one file with it");
          }
          let metadata: Record<string, unknown> | undefined;
          if (opts.metadata !== undefined) {
            let parsed: unknown;
            try {
              parsed = JSON.parse(opts.metadata);
            } catch (err) {
              throw new SyncError(
                "SYNC_E_INVALID_ARGUMENT",
                `--metadata: not JSON (${(err as Error).message})`,
              );
            }
            // Refused once here rather than once per file by the library.
            if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
              throw new SyncError(
                "SYNC_E_INVALID_ARGUMENT",
                `--metadata ${JSON.stringify(opts.metadata)}: expected a JSON object such as '{"team":"x"}'`,
              );
            }
            metadata = parsed as Record<string, unknown>;
          }
          const system = systemOn(ctx);
          const documents: Array<IngestResult & { file: string }> = [];
          const failed: Array<{ file: string; code: string; message: string }> = [];
          for (const file of files) {
            try {
              const bytes = await readFile(file).catch((err) => {
                const code = (err as NodeJS.ErrnoException).code;
                const why =
                  code === "ENOENT"
                    ? "does not exist"
                    : code === "EISDIR"
                      ? "is a folder"
                      : describeError(err);
                throw new SyncError("SYNC_E_READ_FAILED", `${file} ${why}`);
              });
              const r = await system.ingestDocument({
                userId: opts.user,
                bytes,
                filename: basename(file),
                key: opts.key,
                metadata,
                sourceId: opts.source,
              });
              documents.push({ file, ...r });
              if (!opts.json)
                process.stdout.write(`${r.status} ${file} → ${r.doc_id} (${plural(r.chunks, "chunk")})\n`);
            } catch (err) {
              const code = isSyncError(err) ? err.code : "SYNC_E_INTERNAL";
              failed.push({ file, code, message: describeError(err) });
              if (!opts.json) process.stderr.write(`lancedb-sync: ${code}: ${describeError(err)}\n`);
            }
          }
          const exitCode =
            failed.length > 0 ? (documents.length > 0 ? EXIT.ITEMS_FAILED : EXIT.FATAL) : EXIT.OK;
          if (opts.json) printJson({ documents, failed, exit_code: exitCode });
          return exitCode;
        },
        { defaults: WRITER_DEFAULTS },
      );
    });
}
