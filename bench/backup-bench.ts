/**
 * `npm run bench:backup [-- --n 2000 --change-pct 1 --json --keep]`: backups against a local S3 server.
 *
 * 1. A corpus of `--n` documents is synced (library, default hashing embedder) and backed up to s3rver on
 *    127.0.0.1 (explicit endpoint and credentials): bytes and objects of the first backup, MB/s.
 * 2. `--change-pct`% of the documents are edited and synced; the table files that sync created are listed
 *    (files present after it and not before) and a second backup is taken: its bytes and objects against
 *    those files (target: table bytes uploaded ≤ 1.2 × bytes the change created; the journal copy, uploaded
 *    whole each time, is reported on its own line).
 * 3. The newest snapshot is restored into an empty directory (download, SHA-256 check of every file, tables
 *    opened at their versions): MB/s. Then a restore drill (restore, counts, a sample search): its time.
 *
 * Prints a table (stdout), progress on stderr; `--json` adds one JSON line. Exits 1 if a step fails.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { restoreBackup } from "../src/app/restore-backup.js";
import { restoreDrill } from "../src/app/restore-drill.js";
import { listTableFiles } from "../src/backup/lance-table-files.js";
import { createS3Client } from "../src/backup/s3-client.js";
import { S3Target } from "../src/backup/s3-target.js";
import { readManifest } from "../src/backup/snapshot-manifest.js";
import { createSyncSystem } from "../src/index.js";
import { S3_TEST_CREDENTIALS, S3_TEST_REGION, startS3Server } from "../test/helpers/s3-server.js";
import { Corpus } from "./corpus.js";

process.env.AWS_EC2_METADATA_DISABLED = "true";
process.env.LANCEDB_LOG ??= "error";

const { values: args } = parseArgs({
  options: {
    n: { type: "string", default: "2000" },
    "change-pct": { type: "string", default: "1" },
    json: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const N = Number(args.n);
const CHANGE_PCT = Number(args["change-pct"]);
const log = (m: string) => process.stderr.write(`[bench:backup] ${m}\n`);
const mb = (b: number) => b / 1_000_000;

async function main(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "lancedb-sync-backup-bench-"));
  const server = await startS3Server();
  const client = createS3Client({
    region: S3_TEST_REGION,
    endpoint: server.endpoint,
    credentials: { ...S3_TEST_CREDENTIALS },
  });
  const target = new S3Target({ client, bucket: "backup", prefix: "bench/", endpoint: server.endpoint });
  const live = { lancedbUri: join(dir, "live", "lancedb"), stateDbPath: join(dir, "live", "state.db") };
  const logger = pino({ level: "silent" });
  const system = createSyncSystem({
    ...live,
    uploadDir: join(dir, "uploads"),
    logger,
    backupTargets: [target],
  });
  try {
    await system.start();
    const corpus = new Corpus({ root: join(dir, "corpus"), seed: 7 });
    corpus.create(N);
    await system.sources.add({
      userId: "bench",
      sourceId: "corpus",
      type: "local_filesystem",
      config: { watch_paths: [corpus.root] },
    });
    log(`syncing ${N} documents`);
    await system.syncSource({ userId: "bench", sourceId: "corpus" });

    log("first backup");
    const first = await system.backups.run();

    const tableFiles = async () => {
      const out = new Map<string, number>();
      for (const t of [system.config.documentsTable, system.config.chunksTable]) {
        for (const f of (await listTableFiles(live.lancedbUri, t)).files) out.set(`${t}/${f.path}`, f.size);
      }
      return out;
    };
    const before = await tableFiles();
    const change = corpus.change(CHANGE_PCT, 0, 0);
    log(`editing ${change.modified.length} documents (${CHANGE_PCT}%) and syncing`);
    await system.syncSource({ userId: "bench", sourceId: "corpus" });
    const after = await tableFiles();
    let createdBytes = 0;
    let createdFiles = 0;
    for (const [k, size] of after) {
      if (!before.has(k)) {
        createdBytes += size;
        createdFiles++;
      }
    }
    log("second backup");
    const second = await system.backups.run();
    const m2 = await readManifest(target, second.snapshot_id);
    const journalUploaded = second.files_uploaded > 0 ? m2.journal.size : 0;
    const tableBytes = second.bytes_uploaded - journalUploaded;

    log("restore into an empty directory");
    const t0 = Date.now();
    const restored = await restoreBackup(system.config, [target], { targetDir: join(dir, "restored") });
    const restoreMs = Date.now() - t0;
    log("restore drill");
    const drill = await restoreDrill(system.config, [target], logger);
    if (!drill.ok) throw new Error(`the restore drill failed: ${JSON.stringify(drill)}`);

    return {
      documents: N,
      first_backup: {
        files: first.files_uploaded,
        bytes: first.bytes_uploaded,
        ms: first.duration_ms,
        mb_per_s: mb(first.bytes_uploaded) / (first.duration_ms / 1000),
      },
      change: {
        pct: CHANGE_PCT,
        documents: change.modified.length,
        files_created: createdFiles,
        bytes_created: createdBytes,
      },
      second_backup: {
        files: second.files_uploaded,
        bytes: second.bytes_uploaded,
        table_bytes: tableBytes,
        journal_bytes: journalUploaded,
        files_skipped: second.files_skipped,
        ms: second.duration_ms,
        table_bytes_vs_created: createdBytes > 0 ? tableBytes / createdBytes : null,
      },
      restore: {
        files: restored.files,
        bytes: restored.bytes,
        ms: restoreMs,
        mb_per_s: mb(restored.bytes) / (restoreMs / 1000),
      },
      drill: { ms: drill.duration_ms, restore_ms: drill.restore_ms, search_hits: drill.search?.hits ?? 0 },
    };
  } finally {
    await system.stop();
    client.destroy();
    await server.close();
    if (args.keep) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (r) => {
    const f = r as {
      first_backup: { files: number; bytes: number; ms: number; mb_per_s: number };
      change: { documents: number; files_created: number; bytes_created: number };
      second_backup: {
        files: number;
        bytes: number;
        table_bytes: number;
        journal_bytes: number;
        ms: number;
        table_bytes_vs_created: number | null;
      };
      restore: { files: number; bytes: number; ms: number; mb_per_s: number };
      drill: { ms: number };
    };
    const row = (k: string, v: string) => process.stdout.write(`${k.padEnd(44)} ${v}\n`);
    row("documents", String(r.documents));
    row(
      "first backup",
      `${f.first_backup.files} objects, ${mb(f.first_backup.bytes).toFixed(2)} MB, ${f.first_backup.ms} ms, ${f.first_backup.mb_per_s.toFixed(1)} MB/s`,
    );
    row(
      `change (${f.change.documents} documents edited)`,
      `${f.change.files_created} table files created, ${mb(f.change.bytes_created).toFixed(3)} MB`,
    );
    row(
      "second backup",
      `${f.second_backup.files} objects, ${mb(f.second_backup.bytes).toFixed(3)} MB, ${f.second_backup.ms} ms`,
    );
    row(
      "  of which table files",
      `${mb(f.second_backup.table_bytes).toFixed(3)} MB (${(f.second_backup.table_bytes_vs_created ?? 0).toFixed(2)} x created; target <= 1.2)`,
    );
    row("  of which the journal copy", `${mb(f.second_backup.journal_bytes).toFixed(3)} MB`);
    row(
      "restore (download + verify + open)",
      `${f.restore.files} files, ${mb(f.restore.bytes).toFixed(2)} MB, ${f.restore.ms} ms, ${f.restore.mb_per_s.toFixed(1)} MB/s`,
    );
    row("restore drill", `${f.drill.ms} ms`);
    if (args.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  },
  (err) => {
    process.stderr.write(`[bench:backup] failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
