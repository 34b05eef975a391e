/**
 * Search quality on a labelled question set: for each mode, hit@1 (questions whose first hit is from the
 * expected document) and MRR (mean of 1 / rank of the first hit from the expected document, 0 when it is not
 * among the hits). Used by the quality floor test and by `npm run bench:quality`.
 */
import { basename } from "node:path";

/** A question and the file name of the document that answers it. */
export interface Question {
  question: string;
  expected: string;
}

/** One mode's figures. */
export interface ModeQuality {
  mode: string;
  questions: number;
  /** Questions whose first hit is from the expected document. */
  hitAt1: number;
  /** Mean reciprocal rank of the expected document, 0–1. */
  mrr: number;
  /** The questions the mode missed at rank 1, with the rank it found the expected document at (0: not found). */
  misses: { question: string; rank: number }[];
}

/** Runs every question through `search` (hits best first, at most `limit`) and scores the ranks. */
export async function measureQuality(
  mode: string,
  questions: readonly Question[],
  search: (query: string) => Promise<{ item_key: string }[]>,
): Promise<ModeQuality> {
  let hitAt1 = 0;
  let rr = 0;
  const misses: ModeQuality["misses"] = [];
  for (const q of questions) {
    const hits = await search(q.question);
    const rank = hits.findIndex((h) => basename(h.item_key) === q.expected) + 1;
    if (rank === 1) hitAt1++;
    else misses.push({ question: q.question, rank });
    if (rank > 0) rr += 1 / rank;
  }
  return { mode, questions: questions.length, hitAt1, mrr: rr / questions.length, misses };
}

/** A plain table of the figures, one row per mode. */
export function formatQuality(rows: readonly ModeQuality[]): string {
  const lines = ["| mode | hit@1 | MRR |", "|---|---|---|"];
  for (const r of rows) lines.push(`| ${r.mode} | ${r.hitAt1}/${r.questions} | ${r.mrr.toFixed(3)} |`);
  return lines.join("\n");
}
