import type { Command } from "commander";
import { indexedChunks, searchDocuments } from "../../app/search-documents.js";
import type { ChunkFilters } from "../../core/document-store.js";
import { SyncError } from "../../errors/sync-error.js";
import type { SearchHit, SearchMode } from "../../search/search-chunks.js";
import { intOption } from "../parse-options.js";
import { EXIT, printJson, runCommand } from "../run-command.js";

/** `lancedb-sync search "<query>" --user <id>`: search one user's chunks. */
export function registerSearchCommand(program: Command): void {
  program
    .command("search")
    .description("search one user's documents")
    .argument("<query>", "what to look for")
    .requiredOption("-u, --user <id>", "whose documents to search")
    .option("-m, --mode <mode>", "vector | fts | hybrid", "hybrid")
    .option("-l, --limit <n>", "number of hits, 1 to 1000", intOption(1, 1000), 10)
    .option("--source <name...>", "only these sources (repeatable)")
    .option("--doc <id...>", "only these documents, by doc id (repeatable)")
    .option("--meta <key=value...>", "only documents whose metadata has key = value, exactly (repeatable)")
    .option("--json", "print one JSON object { hits: [...] }, each hit with its metadata and url", false)
    .addHelpText("after", SCORE_HELP)
    .action(async (query: string, opts) => {
      await runCommand(opts.json, async (ctx) => {
        const mode = opts.mode as SearchMode;
        if (!["vector", "fts", "hybrid"].includes(mode)) {
          throw new SyncError(
            "SYNC_E_INVALID_ARGUMENT",
            `--mode ${JSON.stringify(opts.mode)}: expected vector, fts or hybrid`,
          );
        }
        const limit: number = opts.limit;
        const filters = searchFilters(opts);
        const hits = await searchDocuments(ctx, {
          query,
          userId: opts.user,
          mode,
          limit,
          ...(filters ? { filters } : {}),
          onFallback: (reason) => process.stderr.write(`lancedb-sync: note: ${reason}\n`),
        });
        // No hits: say whether nothing matched or nothing is indexed for this user at all.
        const note =
          hits.length === 0 && (await indexedChunks(ctx, opts.user)) === 0
            ? `nothing indexed for user ${opts.user}; run \`lancedb-sync sync <folder> --user ${opts.user}\` first`
            : undefined;
        if (note) process.stderr.write(`lancedb-sync: note: ${note}\n`);
        if (opts.json) printJson({ query, mode, hits, ...(note ? { note } : {}) });
        else if (!note) printHits(hits);
        return EXIT.OK;
      });
    });
}

/** What each mode's score means (`search --help`; README says the same). */
export const SCORE_HELP = `
Scores (higher is better; compare them within one search, not across searches):
  vector  cosine similarity of the query's and the chunk's vectors, -1..1 (1 - cosine distance)
  fts     BM25 relevance of the chunk's words to the query's, 0 and up (unbounded)
  hybrid  0..1: 0.5 x (BM25 / the best BM25 of this search) + 0.5 x (similarity / the best
          similarity of this search); a chunk one half did not find gets 0 for that half.
          1 means the best hit of both halves.
The default mode, hybrid, ranks best of the three on the labelled questions about the bundled
samples with the default (lexical, hashing) embedder: npm run bench:quality measures it.`;

/** The filters of `--source`, `--doc` and `--meta`, or undefined when none was given. */
export function searchFilters(opts: {
  source?: string[];
  doc?: string[];
  meta?: string[];
}): ChunkFilters | undefined {
  const filters: ChunkFilters = {
    ...(opts.source ? { sourceIds: opts.source } : {}),
    ...(opts.doc ? { docIds: opts.doc } : {}),
    ...(opts.meta ? { metadata: parseMetaFilters(opts.meta) } : {}),
  };
  return Object.keys(filters).length > 0 ? filters : undefined;
}

/**
 * `key=value` pairs (split at the first `=`; the value is a string, and may be empty or hold more `=`) as a
 * metadata filter. Throws `SYNC_E_INVALID_ARGUMENT` for a pair without `=`, an empty key, or a key given twice.
 */
export function parseMetaFilters(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `--meta ${JSON.stringify(pair)}: expected key=value with a non-empty key`,
      );
    }
    const key = pair.slice(0, at);
    if (Object.hasOwn(out, key)) {
      throw new SyncError("SYNC_E_INVALID_ARGUMENT", `--meta: key ${JSON.stringify(key)} is given twice`);
    }
    Object.defineProperty(out, key, { value: pair.slice(at + 1), enumerable: true, writable: true });
  }
  return out;
}

/** Prints hits for people: rank, score, title, key (and URL when known), and a one-line excerpt. */
export function printHits(hits: SearchHit[]): void {
  if (hits.length === 0) process.stdout.write("no hits\n");
  hits.forEach((h, i) => {
    const excerpt = h.text.replace(/\s+/g, " ").slice(0, 160);
    const url = h.url ? ` <${h.url}>` : "";
    process.stdout.write(
      `${i + 1}. [${h.score.toFixed(3)}] ${h.title} — ${h.item_key}${url}\n   ${excerpt}\n`,
    );
  });
}
