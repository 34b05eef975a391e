import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, sep } from "node:path";
import * as lancedb from "@lancedb/lancedb";
import Database from "better-sqlite3";
import { expect } from "vitest";
import { prng } from "../helpers/prng.js";
import type { CliResult } from "../helpers/run-cli.js";

export { spawnCli } from "../helpers/run-cli.js";
export { prng };

/** Variables for the CLI: database and journal paths plus anything else. */
export type CliEnv = { LANCEDB_URI: string; STATE_DB_PATH: string } & Record<string, string>;

/** Environment pointing the CLI at a database and journal inside `dir`. */
export function envFor(dir: string, extra: Record<string, string> = {}): CliEnv {
  return {
    LANCEDB_URI: join(dir, "db"),
    STATE_DB_PATH: join(dir, "state", "state.db"),
    ...extra,
  };
}

/** A row of `processed_documents` as read back by the tests. */
export interface DocRecord {
  doc_id: string;
  user_id: string;
  source_id: string;
  item_key: string;
  title: string;
  content_hash: string;
  chunk_count: number;
}

/** A row of `document_chunks` (without the vector) as read back by the tests. */
export interface ChunkRecord {
  chunk_id: string;
  doc_id: string;
  user_id: string;
  source_id: string;
  item_key: string;
  ordinal: number;
  text: string;
  start: number;
  end: number;
}

const DOC_COLUMNS = ["doc_id", "user_id", "source_id", "item_key", "title", "content_hash", "chunk_count"];
const CHUNK_COLUMNS = [
  "chunk_id",
  "doc_id",
  "user_id",
  "source_id",
  "item_key",
  "ordinal",
  "text",
  "start",
  "end",
];

/**
 * Reads every row of both tables straight from LanceDB (no project code involved). Missing tables read as
 * empty. Row counts are cross-checked with `countRows` so a default query limit cannot hide rows.
 */
export async function readTables(uri: string): Promise<{ docs: DocRecord[]; chunks: ChunkRecord[] }> {
  const db = await lancedb.connect(uri);
  try {
    const names = new Set(await db.tableNames());
    const read = async <T>(name: string, columns: string[]): Promise<T[]> => {
      if (!names.has(name)) return [];
      const table = await db.openTable(name);
      try {
        const total = await table.countRows();
        const rows = await table
          .query()
          .select(columns)
          .limit(Math.max(total, 1) * 2)
          .toArray();
        expect(rows.length, `rows read from ${name}`).toBe(total);
        return rows.map((r) => {
          const out: Record<string, unknown> = {};
          for (const c of columns) {
            const v = r[c];
            out[c] = typeof v === "bigint" ? Number(v) : v;
          }
          return out as T;
        });
      } finally {
        table.close();
      }
    };
    return {
      docs: await read<DocRecord>("processed_documents", DOC_COLUMNS),
      chunks: await read<ChunkRecord>("document_chunks", CHUNK_COLUMNS),
    };
  } finally {
    db.close();
  }
}

/** A row of the SQLite journal's `items` table. */
export interface JournalItem {
  user_id: string;
  source_name: string;
  item_key: string;
  doc_id: string;
  status: string;
  content_hash: string;
}

/** Rows of the journal's `items` table (read-only connection). */
export function journalItems(statePath: string): JournalItem[] {
  const db = new Database(statePath, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare("SELECT user_id, source_name, item_key, doc_id, status, content_hash FROM items")
      .all() as JournalItem[];
  } finally {
    db.close();
  }
}

/** Rows of the journal's `failures` table. */
export function journalFailures(
  statePath: string,
): Array<{ item_key: string; attempts: number; code: string }> {
  const db = new Database(statePath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT item_key, attempts, code FROM failures").all() as Array<{
      item_key: string;
      attempts: number;
      code: string;
    }>;
  } finally {
    db.close();
  }
}

/** Item key of a local file as the fs source spells it: absolute POSIX path. */
export function keyOf(path: string): string {
  return resolve(path).split(sep).join("/");
}

/** Every regular file under `dir` (recursively, skipping dot-names), as absolute paths. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith(".")) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(full));
    else if (e.isFile()) out.push(resolve(full));
  }
  return out.sort();
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/**
 * Asserts that the tables and the journal hold exactly `files` for one user and source:
 * one document row per file (item keys == file paths, ids unique, content hash == file bytes), chunk ids
 * unique, every chunk belongs to a document, ordinals 0..chunk_count-1 per document, chunk text equal to
 * the file text slice [start, end) for .txt/.md files (`textChecked` counts those chunks); journal: no
 * pending rows, items == files.
 */
export async function expectStoreMatchesFiles(
  env: CliEnv,
  files: readonly string[],
  scope: { userId: string; sourceId?: string },
): Promise<{ docs: DocRecord[]; chunks: ChunkRecord[]; textChecked: number }> {
  const all = await readTables(env.LANCEDB_URI);
  const inScope = (r: { user_id: string; source_id: string }) =>
    r.user_id === scope.userId && (scope.sourceId === undefined || r.source_id === scope.sourceId);
  const docs = all.docs.filter(inScope);
  const chunks = all.chunks.filter(inScope);
  const keys = files.map(keyOf).sort();

  // Documents: exactly one row per file on disk.
  expect(docs.map((d) => d.item_key).sort(), "item keys of the document rows (one per file)").toEqual(keys);
  expect(new Set(docs.map((d) => d.doc_id)).size, "distinct doc ids").toBe(docs.length);
  const byKey = new Map(files.map((f) => [keyOf(f), f]));
  for (const d of docs) {
    const path = byKey.get(d.item_key) as string;
    expect(d.content_hash, `content hash of ${d.item_key}`).toBe(sha256(readFileSync(path)));
  }

  // Chunks: no duplicates, no orphans, complete ordinal runs, offsets into the file text.
  expect(new Set(all.chunks.map((c) => c.chunk_id)).size, "distinct chunk ids").toBe(all.chunks.length);
  const allDocIds = new Set(all.docs.map((d) => d.doc_id));
  const orphans = all.chunks.filter((c) => !allDocIds.has(c.doc_id));
  expect(
    orphans.map((c) => c.chunk_id),
    "chunks whose doc_id is not a document",
  ).toEqual([]);
  const chunksByDoc = new Map<string, ChunkRecord[]>();
  for (const c of chunks) {
    const list = chunksByDoc.get(c.doc_id) ?? [];
    list.push(c);
    chunksByDoc.set(c.doc_id, list);
  }
  let textChecked = 0;
  for (const d of docs) {
    const list = (chunksByDoc.get(d.doc_id) ?? []).sort((a, b) => a.ordinal - b.ordinal);
    expect(
      list.map((c) => c.ordinal),
      `ordinals of ${d.item_key}`,
    ).toEqual(Array.from({ length: d.chunk_count }, (_, i) => i));
    for (const c of list) {
      expect(c.chunk_id).toBe(`${d.doc_id}:${c.ordinal}`);
      expect(c.item_key).toBe(d.item_key);
    }
    if (/\.(txt|md)$/i.test(d.item_key)) {
      const text = readFileSync(byKey.get(d.item_key) as string, "utf8");
      for (const c of list) {
        if (c.text !== text.slice(c.start, c.end)) {
          expect.fail(`chunk ${c.ordinal} of ${d.item_key} is not the file text [${c.start}, ${c.end})`);
        }
        textChecked++;
      }
    }
  }
  expect(chunks.length, "chunk rows == sum of chunk_count").toBe(docs.reduce((n, d) => n + d.chunk_count, 0));

  // Journal: nothing left pending, exactly the files known.
  const items = journalItems(env.STATE_DB_PATH).filter(
    (i) => i.user_id === scope.userId && (scope.sourceId === undefined || i.source_name === scope.sourceId),
  );
  expect(
    items.filter((i) => i.status === "pending").map((i) => i.item_key),
    "pending journal items",
  ).toEqual([]);
  expect(items.map((i) => i.item_key).sort(), "journal items").toEqual(keys);
  return { docs, chunks, textChecked };
}

const WORDS = (
  "river stone lantern orchard copper meadow harbor signal ledger compass thunder willow marble canyon " +
  "falcon glacier ember velvet quarry saddle beacon tundra juniper anchor prairie cobalt summit lagoon " +
  "thistle granite plume cedar hollow tempest mosaic ribbon furnace delta pepper walnut crystal badger"
).split(" ");

/** Deterministic English-like text of about `length` characters, in paragraphs, unique per `tag`. */
export function makeText(rand: () => number, length: number, tag: string): string {
  const paras: string[] = [];
  let total = 0;
  while (total < length) {
    const sentences: string[] = [];
    const count = 2 + Math.floor(rand() * 4);
    for (let s = 0; s < count; s++) {
      const words: string[] = [];
      const n = 6 + Math.floor(rand() * 10);
      for (let w = 0; w < n; w++) words.push(WORDS[Math.floor(rand() * WORDS.length)] as string);
      words[0] = (words[0] as string).replace(/^./, (c) => c.toUpperCase());
      sentences.push(`${words.join(" ")} ${tag}-${paras.length}-${s}.`);
    }
    const p = sentences.join(" ");
    paras.push(p);
    total += p.length + 2;
  }
  return `${paras.join("\n\n")}\n`;
}

/**
 * Writes `count` small md/txt files (1–5 KB, deterministic for `seed`) into `dir`, some in sub-folders.
 * Returns their absolute paths.
 */
export function writeCorpus(dir: string, count: number, seed: number, prefix = "doc"): string[] {
  const rand = prng(seed);
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const sub = i % 7 === 0 ? join(dir, `folder-${i % 3}`) : dir;
    mkdirSync(sub, { recursive: true });
    const ext = i % 2 === 0 ? "md" : "txt";
    const name = `${prefix}-${String(i).padStart(4, "0")}.${ext}`;
    const size = 1000 + Math.floor(rand() * 4000);
    const body = makeText(rand, size, `${prefix}${i}`);
    const text = ext === "md" ? `# ${prefix} ${i}\n\n${body}` : body;
    const path = join(sub, name);
    writeFileSync(path, text);
    paths.push(resolve(path));
  }
  return paths;
}

/** Size of a file in bytes. */
export function sizeOf(path: string): number {
  return statSync(path).size;
}

/** Formats a CLI result for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code} signal ${r.signal}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A temporary directory for a whole `describe`: the path is fixed now, the directory is made by `create()`
 * (call it in `beforeAll`) and removed by `cleanup()` (in `afterAll`), so a filtered run that skips the
 * suite leaves nothing behind.
 */
export function suiteTempDir(prefix: string): { path: string; create: () => void; cleanup: () => void } {
  const path = join(tmpdir(), `${prefix}${randomUUID().slice(0, 8)}`);
  return {
    path,
    create: () => mkdirSync(path, { recursive: true }),
    cleanup: () => rmSync(path, { recursive: true, force: true }),
  };
}
