/**
 * `npm run bench -- --scale [...]` runs scale-bench.ts (three corpus sizes, search at a million chunks).
 *
 * `npm run bench [-- --n 2000 --rounds 1 --keep --dir <dir> --json --seed <int> --stall-seconds 120
 * --timeout-seconds 3600 --soak-runs 300 --no-soak]`: benchmark of the sync engine through the built CLI, every step a fresh
 * `node dist/cli/main.js` process (as after a restart) with LANCEDB_URI / STATE_DB_PATH in the work dir,
 * LOG_LEVEL=warn and the rest of the environment passed through (e.g. `LANCE_CPU_THREADS`):
 *
 * (a) initial sync of a synthetic corpus of `--n` documents; (b) re-sync with nothing changed;
 * (c) re-sync after 5% of the documents were modified (a paragraph or two in the middle), 1% added and 1%
 * deleted — repeated `--rounds` times; with more than one round, then `compact --retention-hours 0` and
 * (d) one more re-sync with nothing changed. Then (without `--json` or `--no-soak`) the soak curve of a
 * long-lived process, `soak-bench.js`, with and without `--expose-gc`.
 *
 * After every step the store is checked (status counts, and `check-store.js` in its own process: no
 * duplicate documents or chunks, no orphans, chunk sets complete, rows exactly the files on disk, content
 * hashes current, vectors of touched chunks right, embedded chunks >= new distinct chunk texts — any excess
 * is reported as a note). Each sync step also reports the event-loop delay of its run (p50/p99/max, as
 * `sync --json` prints it: what a request to a host process would have waited). The table goes to stdout, progress to stderr; `--json` adds one JSON summary line
 * at the end of stdout. Exits 1 when any check fails. A child whose CPU time stops growing for
 * `--stall-seconds` (a deadlock; Linux only) or that outlives `--timeout-seconds` is killed and fails.
 */
import { type SpawnOptions, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { StatusReport } from "../src/app/collect-status.js";
import type { SourceRunResult as SyncFoldersResult } from "../src/app/run-source.js";
import type { StoreCheck } from "./check-store.js";
import { Corpus, type CorpusChange } from "./corpus.js";

/** Shares of the corpus changed before each step (c), in percent. */
export const CHANGE = { modifyPct: 5, addPct: 1, deletePct: 1 } as const;

/**
 * The figures `sync --json` prints: the engine's own result type plus the process's peak RSS and the event-loop
 * delay during the run (`monitorEventLoopDelay`, 10 ms resolution: an idle loop shows about 10 ms).
 */
export type SyncJson = SyncFoldersResult & {
  peak_rss_mb: number;
  event_loop_p50_ms: number;
  event_loop_p99_ms: number;
  event_loop_max_ms: number;
};

/** The figures `status --json` prints. */
export type StatusJson = StatusReport;

/** One table of `status --json`. */
export type TableJson = StatusReport["tables"][number];

/** Result of one benchmarked step. */
export interface StepResult {
  step: string;
  expectedDocuments: number;
  /** Wall time measured by the parent around the child process, process start included. */
  wallMs: number;
  /** The run's own `duration_ms` (sync work only, without process start and context set-up). */
  runMs: number;
  docsPerSecond: number;
  peakRssMb: number;
  sync: SyncJson;
  status: StatusJson;
  check: StoreCheck;
  /** For step (c): what the corpus change did. */
  change?: { modified: number; added: number; deleted: number };
  /** Check failures of this step; empty when all passed. */
  failures: string[];
}

/** Wall time and output of one child process. */
interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Why the watchdog killed the child, if it did. */
  killedAs?: string;
}

/** When a child is killed as stuck. */
interface Watchdog {
  /** Kill a child whose CPU time (all threads) grew by less than 0.2 s in this many seconds (Linux only). */
  stallSeconds: number;
  /** Kill a child that runs longer than this. */
  timeoutSeconds: number;
}

let watchdog: Watchdog = { stallSeconds: 120, timeoutSeconds: 3600 };

/** CPU seconds (user + system, all threads) of a process, from /proc; undefined where that is not readable. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function run(cmd: string, args: string[], options: SpawnOptions): Promise<ChildRun> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let killedAs: string | undefined;
    let lastCpu = 0;
    let lastProgress = t0;
    const timer = setInterval(() => {
      const now = performance.now();
      const cpu = child.pid === undefined ? undefined : cpuSeconds(child.pid);
      if (cpu !== undefined && cpu - lastCpu >= 0.2) {
        lastCpu = cpu;
        lastProgress = now;
      }
      if (cpu !== undefined && now - lastProgress > watchdog.stallSeconds * 1000) {
        killedAs = `stalled: no CPU progress for ${watchdog.stallSeconds} s (${cpu.toFixed(1)} CPU s in ${((now - t0) / 1000).toFixed(0)} s wall), killed`;
      } else if (now - t0 > watchdog.timeoutSeconds * 1000) {
        killedAs = `timed out after ${watchdog.timeoutSeconds} s, killed`;
      }
      if (killedAs) {
        clearInterval(timer);
        child.kill("SIGKILL");
      }
    }, 2000);
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearInterval(timer);
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        wallMs: performance.now() - t0,
        killedAs,
      });
    });
  });
}

function lastJson<T>(r: ChildRun, what: string): T {
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(
      `${what}: no JSON on stdout (exit ${r.code ?? r.signal}${r.killedAs ? `, ${r.killedAs}` : ""}): ${r.stderr.trim() || r.stdout.trim()}`,
    );
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      n: { type: "string", default: "2000" },
      rounds: { type: "string", default: "1" },
      keep: { type: "boolean", default: false },
      dir: { type: "string" },
      json: { type: "boolean", default: false },
      seed: { type: "string", default: "20240601" },
      "stall-seconds": { type: "string", default: "120" },
      "timeout-seconds": { type: "string", default: "3600" },
      "soak-runs": { type: "string", default: "300" },
      "no-soak": { type: "boolean", default: false },
    },
  });
  watchdog = {
    stallSeconds: Number(values["stall-seconds"]),
    timeoutSeconds: Number(values["timeout-seconds"]),
  };
  if (!(watchdog.stallSeconds > 0) || !(watchdog.timeoutSeconds > 0))
    throw new Error("--stall-seconds and --timeout-seconds: expected positive numbers");
  const n = Number(values.n);
  const rounds = Number(values.rounds);
  const seed = Number(values.seed);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--n ${values.n}: expected a positive integer`);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds ${values.rounds}: expected a positive integer`);
  if (!Number.isInteger(seed)) throw new Error(`--seed ${values.seed}: expected an integer`);

  const here = dirname(fileURLToPath(import.meta.url));
  const repo = resolve(here, "../..");
  const cli = join(repo, "dist/cli/main.js");
  const checker = join(here, "check-store.js");
  if (!existsSync(cli)) throw new Error(`${cli} not found: run npm run build first`);

  let work: string;
  if (values.dir) {
    work = resolve(values.dir);
    if (existsSync(work) && readdirSync(work).length > 0)
      throw new Error(`--dir ${work} is not empty; give a new or empty directory`);
    mkdirSync(work, { recursive: true });
  } else work = mkdtempSync(join(tmpdir(), "lancedb-sync-bench-"));
  const corpusDir = join(work, "corpus");
  const dataDir = join(work, "data");
  const checkDir = join(work, "check");
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(checkDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LANCEDB_URI: join(dataDir, "lancedb"),
    STATE_DB_PATH: join(dataDir, "state.db"),
    LOG_LEVEL: "warn",
    AWS_EC2_METADATA_DISABLED: "true",
  };
  // cwd = the work dir, so a `.env` of wherever the bench is started from is not read.
  const childOpts: SpawnOptions = { cwd: work, env };
  const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
  const user = "bench";

  const cliRun = (args: string[]) => run(process.execPath, [cli, ...args], childOpts);

  const git = (args: string[]) =>
    spawnSync("git", args, { cwd: repo, encoding: "utf8" }).stdout?.trim() ?? "";
  const revision = git(["rev-parse", "--short", "HEAD"]) || "unknown";
  const dirtySrc = git(["status", "--porcelain", "--", "src"]).split("\n").filter(Boolean).length;
  const built = `${revision}${dirtySrc > 0 ? ` + ${dirtySrc} uncommitted src file(s)` : ""}`;

  // Process start overhead.
  const bare: number[] = [];
  const version: number[] = [];
  for (let i = 0; i < 5; i++) {
    bare.push((await run(process.execPath, ["-e", "0"], childOpts)).wallMs);
    version.push((await cliRun(["--version"])).wallMs);
  }
  const startup = { nodeBareMs: median(bare), cliVersionMs: median(version) };
  log(
    `process start: node -e 0 ${fmt(startup.nodeBareMs)} ms, cli --version ${fmt(startup.cliVersionMs)} ms`,
  );

  // Corpus.
  log(`writing ${n} documents under ${corpusDir}`);
  const corpus = new Corpus({ root: corpusDir, seed });
  const t0 = performance.now();
  let expected = corpus.create(n);
  const createMs = performance.now() - t0;
  let bytes = 0;
  for (const k of corpus.keys()) bytes += statSync(k).size;
  log(`corpus: ${n} files, ${fmt(bytes / 1024 / 1024, 1)} MB in ${fmt(createMs)} ms`);

  const steps: StepResult[] = [];
  const failures: string[] = [];
  /** Findings that are not failures (wasted work, oddities). */
  const notes: string[] = [];
  let stepNo = 0;
  /** State after the previous step (or compaction): what a no-change run must leave exactly as it is. */
  let baseline: { status: StatusJson; digest: string } | undefined;

  const status = async (): Promise<StatusJson> => {
    // Store-wide status: the bench has one user, and the per-user report leaves out table figures.
    const r = await cliRun(["status", "--json"]);
    const s = lastJson<StatusJson>(r, "status");
    if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr.trim()}`);
    return s;
  };

  const check = async (touched?: CorpusChange): Promise<StoreCheck> => {
    const id = String(++stepNo).padStart(2, "0");
    const keysFile = join(checkDir, `keys-${id}.txt`);
    writeFileSync(keysFile, corpus.keys().join("\n"));
    const args = [
      checker,
      "--uri",
      join(dataDir, "lancedb"),
      "--expect-keys",
      keysFile,
      "--prev-hashes",
      join(checkDir, `hashes-${String(stepNo - 1).padStart(2, "0")}.txt`),
      "--save-hashes",
      join(checkDir, `hashes-${id}.txt`),
      "--dist",
      join(repo, "dist"),
    ];
    if (touched) {
      const touchedFile = join(checkDir, `touched-${id}.json`);
      writeFileSync(touchedFile, JSON.stringify({ modified: touched.modified, added: touched.added }));
      args.push("--touched", touchedFile);
    } else args.push("--sample-docs", "100");
    const r = await run(process.execPath, args, { cwd: repo, env: process.env });
    if (r.code !== 0) throw new Error(`check-store exited ${r.code}: ${r.stderr.trim()}`);
    return lastJson<StoreCheck>(r, "check-store");
  };

  const syncStep = async (step: string, change?: CorpusChange): Promise<StepResult> => {
    log(`step ${step}: sync (${expected} documents expected)`);
    const r = await cliRun(["sync", corpusDir, "--user", user, "--json"]);
    const sync = lastJson<SyncJson>(r, `sync ${step}`);
    const st = await status();
    const chk = await check(change);
    const f: string[] = [];
    const want = (ok: boolean, msg: string) => {
      if (!ok) f.push(msg);
    };
    want(r.code === 0, `sync exited ${r.code ?? r.signal}`);
    if (r.stderr.trim())
      f.push(`sync wrote to stderr: ${r.stderr.trim().split("\n").slice(0, 3).join(" | ")}`);
    want(sync.listed === expected, `listed ${sync.listed}, expected ${expected}`);
    want(sync.failed === 0, `${sync.failed} items failed`);
    want(sync.held_deletions === 0, `${sync.held_deletions} deletions held`);
    want(sync.moved === 0, `${sync.moved} moves detected (none happened)`);
    want(st.documents === expected, `status: ${st.documents} documents, expected ${expected}`);
    want(st.pending === 0, `status: ${st.pending} items pending`);
    want(st.failed === 0, `status: ${st.failed} failed items`);
    want(st.chunks === chk.chunks.rows, `status: ${st.chunks} chunks, table has ${chk.chunks.rows}`);
    const newTexts = chk.newTextHashes ?? 0;
    want(
      sync.embedded_chunks >= newTexts,
      `embedded ${sync.embedded_chunks} chunks but ${newTexts} distinct chunk texts are new (some stored unembedded?)`,
    );
    const extra = sync.embedded_chunks - newTexts;
    if (extra > 0) {
      notes.push(
        `step ${step}: ${extra} embeddings were not needed: embedded ${sync.embedded_chunks} chunks, but only ` +
          `${newTexts} distinct chunk texts are new (the same new text embedded in more than one batch)`,
      );
    }
    for (const p of chk.problems) f.push(`store: ${p}`);
    const prev = baseline;
    if (change) {
      want(
        sync.updated === change.modified.length,
        `updated ${sync.updated}, modified ${change.modified.length}`,
      );
      want(sync.added === change.added.length, `added ${sync.added}, expected ${change.added.length}`);
      want(
        sync.deleted === change.deleted.length,
        `deleted ${sync.deleted}, expected ${change.deleted.length}`,
      );
      want(
        sync.unchanged === expected - change.modified.length - change.added.length,
        `unchanged ${sync.unchanged}, expected ${expected - change.modified.length - change.added.length}`,
      );
      const touchedChunks = (chk.touched?.modifiedChunks ?? 0) + (chk.touched?.addedChunks ?? 0);
      want(
        sync.embedded_chunks <= touchedChunks,
        `embedded ${sync.embedded_chunks} chunks, more than the ${touchedChunks} chunks of touched documents`,
      );
    } else if (prev) {
      // Nothing changed: nothing written, nothing embedded, identical chunks, no new table versions.
      want(
        sync.unchanged === expected && sync.added + sync.updated + sync.deleted === 0,
        `no-change run: added ${sync.added}, updated ${sync.updated}, deleted ${sync.deleted}, unchanged ${sync.unchanged}`,
      );
      want(sync.embedded_chunks === 0, `no-change run embedded ${sync.embedded_chunks} chunks`);
      want(chk.chunkDigest === prev.digest, "no-change run: chunk ids/text hashes differ");
      const versions = (s: StatusJson) => s.tables.map((t) => `${t.name}@${t.version}`).join(",");
      want(
        versions(st) === versions(prev.status),
        `no-change run: table versions moved ${versions(prev.status)} -> ${versions(st)}`,
      );
    } else {
      want(sync.added === expected, `added ${sync.added}, expected ${expected}`);
    }
    const res: StepResult = {
      step,
      expectedDocuments: expected,
      wallMs: r.wallMs,
      runMs: sync.duration_ms,
      docsPerSecond: sync.listed / (r.wallMs / 1000),
      peakRssMb: sync.peak_rss_mb,
      sync,
      status: st,
      check: chk,
      failures: f,
    };
    if (change) {
      res.change = {
        modified: change.modified.length,
        added: change.added.length,
        deleted: change.deleted.length,
      };
    }
    for (const msg of f) {
      failures.push(`step ${step}: ${msg}`);
      log(`CHECK FAILED step ${step}: ${msg}`);
    }
    steps.push(res);
    baseline = { status: st, digest: chk.chunkDigest };
    log(
      `step ${step}: ${fmt(r.wallMs)} ms wall, embedded ${sync.embedded_chunks}, docs ${st.documents}, chunks ${st.chunks}`,
    );
    return res;
  };

  await syncStep("a initial");
  await syncStep("b no change");
  for (let i = 1; i <= rounds; i++) {
    const change = corpus.change(CHANGE.modifyPct, CHANGE.addPct, CHANGE.deletePct);
    expected = change.expectedDocuments;
    await syncStep(rounds > 1 ? `c change #${i}` : "c change", change);
  }

  let compact: { wallMs: number; before: TableJson[]; after: TableJson[]; failures: string[] } | undefined;
  if (rounds > 1) {
    log("compact --retention-hours 0");
    const before = await status();
    const r = await cliRun(["compact", "--retention-hours", "0", "--json"]);
    const after = await status();
    const chk = await check();
    const f: string[] = [];
    for (const p of chk.problems) f.push(`store: ${p}`);
    if (baseline && chk.chunkDigest !== baseline.digest) f.push("chunk ids/text hashes changed");
    if (chk.newTextHashes !== 0) f.push(`${chk.newTextHashes} new chunk texts appeared`);
    if (r.code !== 0)
      f.push(
        `compact exited ${r.code ?? r.signal}${r.killedAs ? ` (${r.killedAs})` : ""}: ${r.stderr.trim()}`,
      );
    if (after.documents !== before.documents || after.chunks !== before.chunks)
      f.push(`rows changed: ${before.documents}/${before.chunks} -> ${after.documents}/${after.chunks}`);
    for (const a of after.tables) {
      const b = before.tables.find((t) => t.name === a.name);
      if (b && a.versions > b.versions) f.push(`${a.name}: versions grew ${b.versions} -> ${a.versions}`);
      if (b && a.fragments > b.fragments)
        f.push(`${a.name}: fragments grew ${b.fragments} -> ${a.fragments}`);
    }
    for (const msg of f) {
      failures.push(`compact: ${msg}`);
      log(`CHECK FAILED compact: ${msg}`);
    }
    compact = { wallMs: r.wallMs, before: before.tables, after: after.tables, failures: f };
    baseline = { status: after, digest: chk.chunkDigest };
    await syncStep("d no change after compact");
  }

  // Report.
  const out: string[] = [];
  out.push(
    `lancedb-sync bench: ${n} documents (${fmt(bytes / 1024 / 1024, 1)} MB, seed ${seed}), ${rounds} change round(s), ` +
      `node ${process.version}, source ${built}, work dir ${work}`,
  );
  out.push(
    `process start: node -e 0 ${fmt(startup.nodeBareMs)} ms, node dist/cli/main.js --version ${fmt(startup.cliVersionMs)} ms (median of 5); corpus written in ${fmt(createMs)} ms`,
  );
  out.push("");
  out.push(
    table(
      [
        "step",
        "wall s",
        "run s",
        "docs/s",
        "peak RSS MB",
        "loop p50/p99/max ms",
        "embedded",
        "added",
        "updated",
        "deleted",
        "unchanged",
        "documents",
        "chunks",
        "checks",
      ],
      steps.map((s) => [
        s.step,
        fmt(s.wallMs / 1000, 2),
        fmt(s.runMs / 1000, 2),
        fmt(s.docsPerSecond),
        fmt(s.peakRssMb),
        `${fmt(s.sync.event_loop_p50_ms)}/${fmt(s.sync.event_loop_p99_ms)}/${fmt(s.sync.event_loop_max_ms)}`,
        fmt(s.sync.embedded_chunks),
        fmt(s.sync.added),
        fmt(s.sync.updated),
        fmt(s.sync.deleted),
        fmt(s.sync.unchanged),
        fmt(s.status.documents),
        fmt(s.status.chunks),
        s.failures.length === 0 ? "ok" : `${s.failures.length} FAILED`,
      ]),
    ),
  );
  const changed = steps.filter((s) => s.change);
  if (changed.length > 0) {
    out.push("");
    out.push("embedded vs touched chunks in the change steps:");
    out.push(
      table(
        [
          "step",
          "modified docs",
          "their chunks",
          "added docs",
          "their chunks",
          "touched chunks",
          "embedded",
          "new texts",
          "embedded/touched",
          "modified only*",
        ],
        changed.map((s) => {
          const t = s.check.touched;
          const touched = (t?.modifiedChunks ?? 0) + (t?.addedChunks ?? 0);
          return [
            s.step,
            fmt(t?.modifiedDocs ?? 0),
            fmt(t?.modifiedChunks ?? 0),
            fmt(t?.addedDocs ?? 0),
            fmt(t?.addedChunks ?? 0),
            fmt(touched),
            fmt(s.sync.embedded_chunks),
            fmt(s.check.newTextHashes ?? 0),
            touched > 0 ? `${fmt((100 * s.sync.embedded_chunks) / touched, 1)}%` : "-",
            t && t.modifiedChunks > 0
              ? `${fmt(s.sync.embedded_chunks - t.addedChunks)}/${fmt(t.modifiedChunks)} = ${fmt((100 * (s.sync.embedded_chunks - t.addedChunks)) / t.modifiedChunks, 1)}%`
              : "-",
          ];
        }),
      ),
    );
  }
  if (changed.length > 0) {
    out.push(
      "* (embedded - chunks of added docs) / chunks of modified docs: the share of a modified document's chunks re-embedded (added docs' texts are all new)",
    );
  }
  out.push("");
  out.push("tables after each step (versions / fragments):");
  const names = steps[0]?.status.tables.map((t) => t.name) ?? [];
  out.push(
    table(
      ["step", ...names.flatMap((nm) => [`${nm} versions`, "fragments"])],
      steps.map((s) => [
        s.step,
        ...names.flatMap((nm) => {
          const t = s.status.tables.find((x) => x.name === nm);
          return [fmt(t?.versions ?? 0), fmt(t?.fragments ?? 0)];
        }),
      ]),
    ),
  );
  if (compact) {
    out.push("");
    out.push(`compact --retention-hours 0: ${fmt(compact.wallMs / 1000, 2)} s wall`);
    out.push(
      table(
        ["table", "versions before", "after", "fragments before", "after"],
        compact.after.map((a) => {
          const b = compact.before.find((t) => t.name === a.name);
          return [a.name, fmt(b?.versions ?? 0), fmt(a.versions), fmt(b?.fragments ?? 0), fmt(a.fragments)];
        }),
      ),
    );
  }
  const vec = steps.reduce((acc, s) => acc + s.check.vectors.checkedChunks, 0);
  out.push("");
  out.push(
    `store checks: ${vec} chunk vectors re-embedded and compared (${steps[0]?.check.vectors.embedder ?? "?"}), ` +
      "all documents' content hashes compared with the files",
  );
  for (const nt of notes) out.push(`note: ${nt}`);
  out.push(failures.length === 0 ? "ALL CHECKS PASSED" : `${failures.length} CHECK(S) FAILED:`);
  for (const f of failures) out.push(`  ${f}`);
  process.stdout.write(`${out.join("\n")}\n`);

  if (values.json) {
    const summary = {
      n,
      rounds,
      seed,
      node: process.version,
      source: { revision, dirtySrcFiles: dirtySrc },
      workDir: values.keep ? work : null,
      corpus: { files: n, bytes, createMs: Math.round(createMs) },
      startup: { nodeBareMs: Math.round(startup.nodeBareMs), cliVersionMs: Math.round(startup.cliVersionMs) },
      steps: steps.map((s) => ({
        step: s.step,
        expectedDocuments: s.expectedDocuments,
        wallMs: Math.round(s.wallMs),
        runMs: s.runMs,
        docsPerSecond: Math.round(s.docsPerSecond),
        peakRssMb: s.peakRssMb,
        eventLoopMs: {
          p50: s.sync.event_loop_p50_ms,
          p99: s.sync.event_loop_p99_ms,
          max: s.sync.event_loop_max_ms,
        },
        embeddedChunks: s.sync.embedded_chunks,
        reusedChunks: s.sync.reused_chunks,
        added: s.sync.added,
        updated: s.sync.updated,
        deleted: s.sync.deleted,
        unchanged: s.sync.unchanged,
        documents: s.status.documents,
        chunks: s.status.chunks,
        tables: s.status.tables.map((t) => ({ name: t.name, versions: t.versions, fragments: t.fragments })),
        change: s.change ?? null,
        touched: s.check.touched,
        newTextHashes: s.check.newTextHashes,
        failures: s.failures,
      })),
      compact: compact ? { ...compact, wallMs: Math.round(compact.wallMs) } : null,
      failures,
      notes,
      ok: failures.length === 0,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  }

  if (values.keep) log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
  if (!values["no-soak"] && !values.json) {
    // The soak curve: one long-lived process (see soak-bench.ts), with and without an exposed collector.
    for (const flags of [["--expose-gc"], []]) {
      const soak = spawnSync(
        process.execPath,
        [...flags, join(here, "soak-bench.js"), "--runs", String(values["soak-runs"])],
        { stdio: ["ignore", "inherit", "inherit"] },
      );
      if (soak.status !== 0) failures.push(`soak bench exited ${soak.status}`);
    }
  }
  return failures.length === 0 ? 0 : 1;
}

try {
  // `--scale`: the corpus sizes and the search benchmark of scale-bench.ts instead.
  process.exitCode = process.argv.includes("--scale")
    ? await (await import("./scale-bench.js")).runScale(process.argv.slice(2).filter((a) => a !== "--scale"))
    : await main();
} catch (err) {
  process.stderr.write(`[bench] error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
