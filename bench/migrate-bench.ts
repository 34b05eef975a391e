/**
 * `npm run bench:migrate [-- --rows 100000 --chunks-per-doc 10 --users 20 --json --keep]`: rows per second of
 * `lancedb-sync migrate` over a generated legacy table (one row per chunk, 384-wide float32 vectors, a user
 * column, a JSON metadata column), into a fresh store each time:
 *
 * 1. vectors kept (`--legacy-embedder` = the configured hashing embedder's id);
 * 2. every chunk re-embedded by the hashing embedder (no `--legacy-embedder`).
 *
 * Each run is the built CLI in its own process (`--json`); the figure is `source_rows / duration_ms` of its
 * report (the operation itself), with the process's wall time beside it. Prints a table (stdout), progress on
 * stderr; `--json` adds one JSON line. Exits 1 when a run fails or does not migrate every row.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as lancedb from "@lancedb/lancedb";
import { arrow } from "../src/storage/arrow.js";
import { prng } from "../test/helpers/prng.js";

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const CLI = join(REPO, "dist", "cli", "main.js");
const DIMS = 384;
const EMBEDDER_ID = `hashing-ngram-v1:${DIMS}`;

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "100000" },
    "chunks-per-doc": { type: "string", default: "10" },
    users: { type: "string", default: "20" },
    json: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const ROWS = Number(args.rows);
const PER_DOC = Number(args["chunks-per-doc"]);
const USERS = Number(args.users);
const log = (msg: string) => process.stderr.write(`[bench:migrate] ${msg}\n`);

const WORDS =
  "river lantern copper orchard meadow glacier harbor quartz saffron ember willow falcon canyon prairie tundra cobalt".split(
    " ",
  );

async function writeLegacy(uri: string): Promise<void> {
  const { Field, FixedSizeList, Float32, Int32, Schema, Utf8 } = arrow;
  const schema = new Schema([
    new Field("id", new Utf8(), false),
    new Field("user_id", new Utf8(), false),
    new Field("doc_id", new Utf8(), false),
    new Field("chunk_index", new Int32(), false),
    new Field("text", new Utf8(), false),
    new Field("vector", new FixedSizeList(DIMS, new Field("item", new Float32(), true)), false),
    new Field("metadata", new Utf8(), false),
  ]);
  const rand = prng(42);
  const db = await lancedb.connect(uri);
  let table: lancedb.Table | undefined;
  const batch = 10_000;
  for (let start = 0; start < ROWS; start += batch) {
    const rows: Array<Record<string, unknown>> = [];
    for (let i = start; i < Math.min(ROWS, start + batch); i++) {
      const doc = Math.floor(i / PER_DOC);
      const words = Array.from({ length: 30 }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(" ");
      const vector = Array.from({ length: DIMS }, () => rand() - 0.5);
      rows.push({
        id: `row-${i}`,
        user_id: `auth0|user${doc % USERS}`,
        doc_id: `docs/doc-${doc}.md`,
        chunk_index: i % PER_DOC,
        text: `Chunk ${i} of document ${doc}: ${words}.`,
        vector,
        metadata: JSON.stringify({ batch: Math.floor(doc / 100) }),
      });
    }
    const data = lancedb.makeArrowTable(rows, { schema });
    if (!table) table = await db.createTable("legacy", data as never, { mode: "overwrite" });
    else await table.add(data as never);
  }
  table?.close();
  db.close();
}

interface Run {
  name: string;
  rows: number;
  documents: number;
  chunks: number;
  vectors_kept: number;
  reembedded: number;
  duration_ms: number;
  wall_ms: number;
  rows_per_s: number;
}

function migrate(dir: string, legacy: string, name: string, extra: string[]): Run {
  const store = join(dir, name);
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [CLI, "migrate", "--from", legacy, "--table", "legacy", "--all-users", "--json", ...extra],
    {
      env: {
        ...process.env,
        LANCEDB_URI: join(store, "db"),
        STATE_DB_PATH: join(store, "state.db"),
        LOG_LEVEL: "warn",
        AWS_EC2_METADATA_DISABLED: "true",
      },
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${name}: exit ${r.status}: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  if (out.rows_migrated !== ROWS) throw new Error(`${name}: migrated ${out.rows_migrated} of ${ROWS} rows`);
  return {
    name,
    rows: out.source_rows,
    documents: out.documents,
    chunks: out.chunks,
    vectors_kept: out.vectors_kept,
    reembedded: out.reembedded,
    duration_ms: out.duration_ms,
    wall_ms: Math.round(wall),
    rows_per_s: Math.round(out.source_rows / (out.duration_ms / 1000)),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "lancedb-sync-bench-migrate-"));
  try {
    const legacy = join(dir, "legacy");
    log(`writing a legacy table of ${ROWS} rows (${ROWS / PER_DOC} documents, ${USERS} users)…`);
    await writeLegacy(legacy);
    log("migrating with vectors kept…");
    const kept = migrate(dir, legacy, "vectors kept", ["--legacy-embedder", EMBEDDER_ID]);
    log("migrating with every chunk re-embedded…");
    const reembedded = migrate(dir, legacy, "re-embedded", []);
    const runs = [kept, reembedded];
    const lines = [
      `migrate ${ROWS} legacy rows (${DIMS}-wide vectors), ${ROWS / PER_DOC} documents, ${USERS} users`,
      "run            rows/s   duration_ms  wall_ms  vectors_kept  reembedded",
      ...runs.map(
        (r) =>
          `${r.name.padEnd(14)} ${String(r.rows_per_s).padStart(6)}   ${String(r.duration_ms).padStart(11)}  ${String(r.wall_ms).padStart(7)}  ${String(r.vectors_kept).padStart(12)}  ${String(r.reembedded).padStart(10)}`,
      ),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    if (args.json) process.stdout.write(`${JSON.stringify({ rows: ROWS, runs })}\n`);
  } finally {
    if (args.keep) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`[bench:migrate] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
