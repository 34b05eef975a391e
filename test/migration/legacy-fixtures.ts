import * as lancedb from "@lancedb/lancedb";
import { HashingEmbedder } from "../../src/pipeline/embed/hashing-embedder.js";
import { arrow } from "../../src/storage/arrow.js";

const { Field, FixedSizeList, Float32, Int32, Int64, List, Schema, Struct, Utf8 } = arrow;

/** Vector width the tests configure (`EMBEDDING_DIMENSIONS`). */
export const DIMS = 32;
/** The configured embedder's id in the tests. */
export const EMBEDDER_ID = `hashing-ngram-v1:${DIMS}`;

/** User ids of real identity providers, with `|`, `@` and a quote. */
export const USERS = [
  "auth0|5f3c8e2b9a1d4c0012345678",
  "ann+work@example.com",
  "o'brien@example.com",
] as const;

/** A legacy row of a chunk table (snake_case as most applications write them). */
export interface ChunkTableRow {
  id: string;
  user_id: string | null;
  doc_id: string;
  chunk_index: number;
  text: string;
  vector: number[] | null;
  metadata: string;
  created_at: string;
}

/** Vectors as the configured embedder makes them: legacy vectors of "the same model". */
export async function embedTexts(texts: readonly string[]): Promise<number[][]> {
  const e = new HashingEmbedder({ dimensions: DIMS, threads: 1 });
  try {
    return (await e.embed(texts)).map((v) => Array.from(v));
  } finally {
    await e.close?.();
  }
}

/** A vector no embedder makes: tells a kept legacy vector from a re-embedded one. */
export function oddVector(seed: number, width = DIMS): number[] {
  return Array.from({ length: width }, (_, i) => (i === seed % width ? 0.5 : 0.01 * ((seed + i) % 7)));
}

/** Words that make each chunk findable on its own. */
export function chunkText(user: number, doc: number, chunk: number): string {
  const topic = ["orchid", "glacier", "trombone", "saffron", "quasar", "lichen"][(doc + user) % 6];
  return `Document ${doc} of user ${user}, part ${chunk}: notes about the ${topic} number ${user}${doc}${chunk} and more.`;
}

/**
 * One row per chunk with vectors: every user of {@link USERS} has `docs` documents of `chunks` chunks.
 * `vectors`: `same` (the configured embedder's own vectors of each text) or `odd` ({@link oddVector}).
 */
export async function chunkTableRows(
  docs: number,
  chunks: number,
  vectors: "same" | "odd",
): Promise<ChunkTableRow[]> {
  const rows: ChunkTableRow[] = [];
  for (const [u, user] of USERS.entries()) {
    for (let d = 0; d < docs; d++) {
      for (let c = 0; c < chunks; c++) {
        rows.push({
          id: `r-${u}-${d}-${c}`,
          user_id: user,
          doc_id: `notes/doc-${u}-${d}.md`,
          chunk_index: c,
          text: chunkText(u, d, c),
          vector: null,
          metadata: JSON.stringify({ lang: "en", n: d }),
          created_at: "2024-03-01T10:00:00.000Z",
        });
      }
    }
  }
  // Rows of one document are interleaved with other documents' rows, as appends leave them.
  rows.sort((a, b) => a.chunk_index - b.chunk_index || a.id.localeCompare(b.id));
  const same = vectors === "same" ? await embedTexts(rows.map((r) => r.text)) : [];
  rows.forEach((r, i) => {
    r.vector = vectors === "same" ? (same[i] as number[]) : oddVector(i);
  });
  return rows;
}

/**
 * Arrow schema of a chunk table with a fixed-width float32 vector of `width`, or (`width` null) a
 * variable-length list column `embedding` (where rows may hold vectors of any width).
 */
export function chunkTableSchema(width: number | null = DIMS) {
  const vector =
    width === null
      ? new Field("embedding", new List(new Field("item", new Float32(), true)), true)
      : new Field("vector", new FixedSizeList(width, new Field("item", new Float32(), true)), true);
  return new Schema([
    new Field("id", new Utf8(), false),
    new Field("user_id", new Utf8(), true),
    new Field("doc_id", new Utf8(), false),
    new Field("chunk_index", new Int32(), false),
    new Field("text", new Utf8(), true),
    vector,
    new Field("metadata", new Utf8(), true),
    new Field("created_at", new Utf8(), true),
  ]);
}

/** Writes `rows` as table `name` of the database at `uri` (replacing it); returns the table's version. */
export async function writeTable(
  uri: string,
  name: string,
  rows: Array<Record<string, unknown>>,
  schema?: InstanceType<typeof Schema>,
): Promise<number> {
  const db = await lancedb.connect(uri);
  try {
    const data = schema ? lancedb.makeArrowTable(rows, { schema }) : rows;
    const t = await db.createTable(name, data as never, { mode: "overwrite" });
    const v = await t.version();
    t.close();
    return v;
  } finally {
    db.close();
  }
}

/** Appends rows to an existing table. */
export async function appendRows(
  uri: string,
  name: string,
  rows: Array<Record<string, unknown>>,
): Promise<void> {
  const db = await lancedb.connect(uri);
  try {
    const t = await db.openTable(name);
    const schema = await t.schema();
    await t.add(lancedb.makeArrowTable(rows, { schema }) as never);
    t.close();
  } finally {
    db.close();
  }
}

/** Schema of a table whose metadata is a struct column (and whose ids are 64-bit integers). */
export function structTableSchema() {
  return new Schema([
    new Field("id", new Int64(), false),
    new Field("owner", new Utf8(), true),
    new Field("filename", new Utf8(), false),
    new Field("ordinal", new Int32(), false),
    new Field("content", new Utf8(), true),
    new Field(
      "metadata",
      new Struct([new Field("author", new Utf8(), true), new Field("year", new Int32(), true)]),
      true,
    ),
  ]);
}

/** Stored rows of one of our tables, vectors as plain arrays. */
export async function readAll(uri: string, name: string): Promise<Array<Record<string, unknown>>> {
  const db = await lancedb.connect(uri);
  try {
    if (!(await db.tableNames()).includes(name)) return [];
    const t = await db.openTable(name);
    const n = await t.countRows();
    const rows = await t
      .query()
      .limit(Math.max(1, n) * 2)
      .toArray();
    t.close();
    return rows.map((r) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(r)) {
        out[k] =
          typeof v === "bigint"
            ? Number(v)
            : v && typeof v === "object" && "toArray" in v
              ? Array.from((v as { toArray(): ArrayLike<number> }).toArray())
              : v;
      }
      return out;
    });
  } finally {
    db.close();
  }
}

/** Versions of our two tables (to show that a run wrote nothing). */
export async function tableVersions(uri: string): Promise<number[]> {
  const db = await lancedb.connect(uri);
  try {
    const out: number[] = [];
    for (const name of ["processed_documents", "document_chunks"]) {
      const t = await db.openTable(name);
      out.push(await t.version());
      t.close();
    }
    return out;
  } finally {
    db.close();
  }
}

/** Removes every version of a table but the newest (LanceDB `optimize` with clean-up of all older versions). */
export async function cleanupOldVersions(uri: string, name: string): Promise<void> {
  const db = await lancedb.connect(uri);
  try {
    const t = await db.openTable(name);
    await new Promise((r) => setTimeout(r, 50));
    await t.optimize({ cleanupOlderThan: new Date(), deleteUnverified: true });
    t.close();
  } finally {
    db.close();
  }
}
