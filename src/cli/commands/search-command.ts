import type { Command } from "commander";
import { searchDocuments } from "../../app/search-documents.js";
import { SyncError } from "../../errors/sync-error.js";
import type { SearchHit, SearchMode } from "../../search/search-chunks.js";
import { EXIT, printJson, runCommand } from "../run-command.js";

/** `lancedb-sync search "<query>" --user <id>`: search one user's chunks. */
export function registerSearchCommand(program: Command): void {
  program
    .command("search")
    .description("search one user's documents")
    .argument("<query>", "what to look for")
    .requiredOption("-u, --user <id>", "whose documents to search")
    .option("-m, --mode <mode>", "vector | fts | hybrid", "hybrid")
    .option("-l, --limit <n>", "number of hits", "10")
    .option("--json", "print one JSON object { hits: [...] }", false)
    .action(async (query: string, opts) => {
      await runCommand(opts.json, async (ctx) => {
        const mode = opts.mode as SearchMode;
        if (!["vector", "fts", "hybrid"].includes(mode)) {
          throw new SyncError(
            "SYNC_E_INVALID_ARGUMENT",
            `--mode ${JSON.stringify(opts.mode)}: expected vector, fts or hybrid`,
          );
        }
        const limit = Number(opts.limit);
        const hits = await searchDocuments(ctx, {
          query,
          userId: opts.user,
          mode,
          limit,
          onFallback: (reason) => process.stderr.write(`lancedb-sync: note: ${reason}\n`),
        });
        if (opts.json) printJson({ query, mode, hits });
        else printHits(hits);
        return EXIT.OK;
      });
    });
}

/** Prints hits for people: rank, score, key, and a one-line excerpt. */
export function printHits(hits: SearchHit[]): void {
  if (hits.length === 0) process.stdout.write("no hits\n");
  hits.forEach((h, i) => {
    const excerpt = h.text.replace(/\s+/g, " ").slice(0, 160);
    process.stdout.write(`${i + 1}. [${h.score.toFixed(3)}] ${h.title} — ${h.item_key}\n   ${excerpt}\n`);
  });
}
