import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { searchDocuments } from "../../app/search-documents.js";
import { syncFolders } from "../../app/sync-folders.js";
import { plural } from "../plural.js";
import { EXIT, printJson, runCommand } from "../run-command.js";
import { printHits } from "./search-command.js";

/** The sample documents shipped with the package. */
export const SAMPLES_DIR = fileURLToPath(new URL("../../../samples/", import.meta.url));

const DEMO_QUERIES = ["how do I claim travel expenses", "password rotation"];

/** `lancedb-sync demo`: sync the bundled samples for user `demo` and run two searches. */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("sync the bundled sample documents for user 'demo' and run two sample searches")
    .option("--json", "print one JSON object", false)
    .action(async (opts) => {
      await runCommand(opts.json, async (ctx) => {
        const result = await syncFolders(ctx, {
          userId: "demo",
          sourceName: "samples",
          paths: [SAMPLES_DIR],
        });
        const embedder = await ctx.embedder();
        const searches = [];
        for (const query of DEMO_QUERIES) {
          searches.push({
            query,
            hits: await searchDocuments(ctx, { query, userId: "demo", limit: 3 }),
          });
        }
        if (opts.json) printJson({ sync: result, searches });
        else {
          process.stdout.write(
            `synced ${SAMPLES_DIR} for user "demo": ${result.added} added, ${result.updated} updated, ` +
              `${result.unchanged} unchanged, ${result.failed} failed; ${plural(result.embedded_chunks, "chunk")} embedded ` +
              `with ${embedder.id} into ${ctx.config.lancedbUri}\n`,
          );
          for (const s of searches) {
            process.stdout.write(`\nsearch "${s.query}" (hybrid):\n`);
            printHits(s.hits);
          }
          process.stdout.write('\nTry: npx lancedb-sync search "remote work" --user demo\n');
        }
        return result.failed > 0 ? EXIT.ITEMS_FAILED : EXIT.OK;
      });
    });
}
