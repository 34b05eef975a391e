/**
 * `node dist-bench/bench/chunk-churn.js [--n 2000 --rounds 3 --seed 20240601 --size 1000 --overlap 150]`
 * (`npm run bench:churn`): how many chunk texts an edit makes new, per modified document, with the bench's own
 * corpus and its change step (one or two paragraphs rewritten in the middle of 5% of the documents). A chunk
 * whose text the document did not have before must be embedded again (the embedding cache is keyed by text
 * hash). Also reports chunks per document and chunk lengths, for the initial sync's cost. Pure CPU, no store.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chunkText } from "../src/pipeline/chunk-text.js";
import { Corpus } from "./corpus.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "2000" },
    rounds: { type: "string", default: "3" },
    seed: { type: "string", default: "20240601" },
    size: { type: "string", default: "1000" },
    overlap: { type: "string", default: "150" },
  },
});
const n = Number(values.n);
const options = { size: Number(values.size), overlap: Number(values.overlap) };
const root = mkdtempSync(join(tmpdir(), "lancedb-sync-churn-"));
try {
  const corpus = new Corpus({ root: join(root, "corpus"), seed: Number(values.seed) });
  corpus.create(n);
  const read = (k: string) => readFileSync(k, "utf8");
  let chunks = 0;
  let chars = 0;
  let short = 0;
  let docs = 0;
  for (const k of corpus.keys()) {
    const cs = chunkText(read(k), options);
    docs++;
    chunks += cs.length;
    for (const [i, c] of cs.entries()) {
      chars += c.text.length;
      if (i < cs.length - 1 && c.text.length < options.size / 2) short++;
    }
  }
  let modifiedDocs = 0;
  let newTexts = 0;
  let modifiedChunks = 0;
  for (let r = 0; r < Number(values.rounds); r++) {
    const before = new Map(corpus.keys().map((k) => [k, read(k)]));
    const change = corpus.change(5, 0, 0);
    for (const k of change.modified) {
      const old = new Set(chunkText(before.get(k) as string, options).map((c) => c.text));
      const now = chunkText(read(k), options);
      modifiedDocs++;
      modifiedChunks += now.length;
      newTexts += now.filter((c) => !old.has(c.text)).length;
    }
  }
  const result = {
    n,
    size: options.size,
    overlap: options.overlap,
    chunksPerDoc: chunks / docs,
    meanChunkChars: chars / chunks,
    shortInnerChunks: short,
    modifiedDocs,
    newTextsPerModifiedDoc: newTexts / modifiedDocs,
    shareOfModifiedDocChunks: newTexts / modifiedChunks,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
