/**
 * `npm run bench:api [-- --n 2000 --seconds 10 --writes 50 --soak-minutes 0 --json --keep]`: the service under
 * load, on loopback only, bounded in time and count.
 *
 * 1. A corpus of `--n` documents is synced (CLI, fresh process) and compacted (full-text index).
 * 2. **The floor**, in this process: the same hybrid query straight on LanceDB (query embedded with the
 *    default hashing embedder, `fullTextSearch` + `nearestTo` + RRF, user filter, limit 10) — single-query
 *    latency (sequential) and throughput at 50 concurrent callers.
 * 3. The service (`serve`, its own process) is started on 127.0.0.1 with an admin key; `autocannon` measures
 *    requests per second of `GET /health` and `POST /api/v1/search` (hybrid) at 50 connections.
 * 4. Open-loop latency of hybrid search at a fixed 20 requests per second (a request is sent every 50 ms
 *    whatever the previous ones do), then at 5 requests per second while the service runs the initial sync of
 *    a second `--n`-document source (added through the API).
 * 5. Time from a file write in a watched folder to the file being found by search, over `--writes` writes.
 * 6. With `--soak-minutes M`: M minutes of scripted activity (edits, adds, deletes, searches); the service's RSS
 *    every 30 s.
 *
 * Prints a table (stdout), progress on stderr; `--json` adds one JSON line. Exits 1 if a step fails.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { HashingEmbedder } from "../src/pipeline/embed/hashing-embedder.js";
import { Corpus, makeVocabulary, mulberry32 } from "./corpus.js";

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const CLI = join(REPO, "dist", "cli", "main.js");

// LanceDB's native deprecation warnings for hybrid queries (as the CLI does).
process.env.LANCEDB_LOG ??= "error";

const { values: args } = parseArgs({
  options: {
    n: { type: "string", default: "2000" },
    seconds: { type: "string", default: "10" },
    writes: { type: "string", default: "50" },
    "soak-minutes": { type: "string", default: "0" },
    "during-mode": { type: "string", default: "hybrid" },
    json: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const N = Number(args.n);
const SECONDS = Number(args.seconds);
const WRITES = Number(args.writes);
const SOAK_MINUTES = Number(args["soak-minutes"]);
const DURING_MODE = args["during-mode"] as string;
const USER = "bench";

const log = (msg: string) => process.stderr.write(`[bench:api] ${msg}\n`);

interface Latency {
  count: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
}

function percentiles(ms: number[], errors = 0): Latency {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return {
    count: s.length,
    errors,
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    max: round(s.at(-1) ?? Number.NaN),
  };
}

const round = (x: number) => Math.round(x * 10) / 10;

function queries(seed: number, count: number): string[] {
  const vocab = makeVocabulary(seed);
  const rnd = mulberry32(seed ^ 0x5eed);
  return Array.from({ length: count }, () => {
    const words = 2 + Math.floor(rnd() * 2);
    return Array.from({ length: words }, () => vocab[Math.floor(rnd() * vocab.length)]).join(" ");
  });
}

async function floor(dataDir: string, qs: string[]): Promise<{ single: Latency; rps: number }> {
  const lancedb = await import("@lancedb/lancedb");
  const db = await lancedb.connect(join(dataDir, "lancedb"));
  const table = await db.openTable("document_chunks");
  const embedder = new HashingEmbedder();
  const reranker = await lancedb.rerankers.RRFReranker.create();
  const one = async (q: string) => {
    const [vector] = await embedder.embed([q]);
    return table
      .query()
      .fullTextSearch(q)
      .nearestTo(vector as Float32Array)
      .distanceType("cosine")
      .where(`user_id = '${USER}'`)
      .rerank(reranker)
      .select(["chunk_id", "doc_id", "text", "title", "item_key", "source_id", "start", "end"])
      .limit(10)
      .toArray();
  };
  for (const q of qs.slice(0, 5)) await one(q);
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t0 = performance.now();
    await one(qs[i % qs.length] as string);
    times.push(performance.now() - t0);
  }
  let done = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 50 }, async (_, c) => {
      for (let i = c; performance.now() < until; i += 50) {
        await one(qs[i % qs.length] as string);
        done++;
      }
    }),
  );
  table.close();
  db.close();
  return { single: percentiles(times), rps: round(done / SECONDS) };
}

interface Service {
  child: ChildProcess;
  url: string;
  key: string;
  stderr: string[];
}

function startService(env: NodeJS.ProcessEnv): Promise<Service> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, "serve", "--port", "0"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const stderr: string[] = [];
    child.stderr?.on("data", (d: Buffer) => {
      stderr.push(d.toString());
      if (stderr.length > 200) stderr.shift();
    });
    child.on("exit", (code, signal) => stderr.push(`[service exited: code ${code}, signal ${signal}]\n`));
    const timer = setTimeout(
      () => reject(new Error(`serve did not start: ${out}${stderr.join("")}`)),
      60_000,
    );
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const url = /listening on (\S+)/.exec(out)?.[1];
      const key = /admin key[^:]*: (\S+)/.exec(out)?.[1];
      if (url && key) {
        clearTimeout(timer);
        resolvePromise({ child, url, key, stderr });
      }
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${out}${stderr.join("")}`)));
  });
}

async function api<T>(svc: Service, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${svc.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${svc.key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Waits until a probe search answers as fast as an idle service does (the queue left by a load step drained). */
async function idle(svc: Service): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const t0 = performance.now();
    await api(svc, "POST", "/api/v1/search", {
      query: "idle probe",
      mode: "hybrid",
      limit: 1,
      user_id: USER,
    });
    if (performance.now() - t0 < 500) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((res, rej) => {
    autocannon(opts, (err, result) => (err ? rej(err) : res(result)));
  });
}

/** Sends one request every `1000 / rate` ms, whatever the earlier ones do, until `stop()` says so. */
async function openLoop(
  rate: number,
  send: (i: number) => Promise<unknown>,
  stop: (elapsedMs: number) => boolean,
): Promise<Latency> {
  const times: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; ; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (stop(performance.now() - t0)) break;
    const start = performance.now();
    inflight.push(
      send(i).then(
        () => {
          times.push(performance.now() - start);
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(inflight);
  return percentiles(times, errors);
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function main(): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), "lancedb-sync-api-bench-"));
  const dataDir = join(work, "data");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LANCEDB_URI: join(dataDir, "lancedb"),
    STATE_DB_PATH: join(dataDir, "state.db"),
    UPLOAD_DIR: join(dataDir, "uploads"),
    LOG_LEVEL: "warn",
    ALLOWED_ROOTS: work,
    SYNC_INTERVAL: "86400",
    DEFAULT_POLL_INTERVAL: "3600",
    RATE_LIMIT_PER_MINUTE: "1000000",
    AWS_EC2_METADATA_DISABLED: "true",
  };
  const results: Record<string, unknown> = { n: N, seconds: SECONDS };
  let svc: Service | undefined;
  try {
    log(`corpus of ${N} documents in ${work}`);
    new Corpus({ root: join(work, "a"), seed: 1 }).create(N);
    const sync = spawnSync(
      process.execPath,
      [CLI, "sync", join(work, "a"), "--user", USER, "--source", "a", "--json"],
      {
        env,
        encoding: "utf8",
      },
    );
    if (sync.status !== 0) throw new Error(`initial sync failed: ${sync.stderr}`);
    spawnSync(process.execPath, [CLI, "compact", "--json"], { env, encoding: "utf8" });
    const qs = queries(1, 200);

    log("floor: hybrid query straight on LanceDB");
    const fl = await floor(dataDir, qs);
    results.floor = fl;

    log("starting the service");
    svc = await startService(env);
    const service = svc;
    const searchBody = (i: number, mode = "hybrid") =>
      JSON.stringify({ query: qs[i % qs.length], mode, limit: 10, user_id: USER });
    await api(service, "POST", "/api/v1/search", JSON.parse(searchBody(0)));

    log(`GET /health, 50 connections, ${SECONDS} s`);
    const health = await cannon({ url: `${service.url}/health`, connections: 50, duration: SECONDS });
    log(`POST /api/v1/search (hybrid), 50 connections, ${SECONDS} s`);
    let n = 0;
    const search = await cannon({
      url: `${service.url}/api/v1/search`,
      connections: 50,
      duration: SECONDS,
      requests: [
        {
          method: "POST",
          headers: { authorization: `Bearer ${service.key}`, "content-type": "application/json" },
          setupRequest: (req) => ({ ...req, body: searchBody(n++) }),
        },
      ],
    });
    results.throughput = {
      health_rps: round(health.requests.average),
      health_errors: health.errors + health.non2xx,
      search_rps: round(search.requests.average),
      search_errors: search.errors + search.non2xx,
      search_vs_floor: round(search.requests.average / fl.rps),
    };

    const send = (i: number, mode = "hybrid") =>
      fetch(`${service.url}/api/v1/search`, {
        method: "POST",
        headers: { authorization: `Bearer ${service.key}`, "content-type": "application/json" },
        body: searchBody(i, mode),
        signal: AbortSignal.timeout(60_000),
      }).then(async (r) => {
        await r.arrayBuffer();
        if (!r.ok) throw new Error(String(r.status));
      });
    // Searches autocannon left queued when it stopped must not count against the next step.
    await idle(service);
    log(`hybrid search at 20 req/s (open loop), ${SECONDS * 2} s`);
    results.steady_20rps = await openLoop(20, send, (ms) => ms > SECONDS * 2000);

    log(`hybrid search at 5 req/s during the initial sync of a second ${N}-document source`);
    new Corpus({ root: join(work, "b"), seed: 2 }).create(N);
    const added = await api<{ job: { job_id: string } }>(service, "POST", "/api/v1/sources", {
      source_type: "local_filesystem",
      source_id: "b",
      user_id: USER,
      config: { watch_paths: [join(work, "b")] },
    });
    let syncDone = false;
    const t0 = performance.now();
    const poller = (async () => {
      while (!syncDone) {
        const s = await api<{ recent: Array<{ job_id: string }> }>(
          service,
          "GET",
          `/api/v1/sync/status?user_id=${USER}`,
        );
        if (s.recent.some((j) => j.job_id === added.job.job_id)) syncDone = true;
        else await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const during = await openLoop(
      5,
      (i) => send(i, DURING_MODE),
      () => syncDone,
    );
    await poller;
    results.during_sync_5rps = {
      ...during,
      mode: DURING_MODE,
      sync_seconds: round((performance.now() - t0) / 1000),
    };

    log(`write → searchable, ${WRITES} writes`);
    const live = join(work, "live");
    mkdirSync(live, { recursive: true });
    await api(service, "POST", "/api/v1/sources", {
      source_type: "local_filesystem",
      source_id: "live",
      user_id: USER,
      config: { watch_paths: [live] },
    });
    await new Promise((r) => setTimeout(r, 1000));
    const lags: number[] = [];
    let missed = 0;
    for (let i = 0; i < WRITES; i++) {
      const token = `zqx${i}w${Math.floor(Math.random() * 1e9).toString(36)}`;
      const start = performance.now();
      writeFileSync(join(live, `note-${i}.md`), `# Note ${i}\n\nThe marker ${token} is here.\n`);
      let found = false;
      while (performance.now() - start < 30_000) {
        const r = await api<{ hits: unknown[] }>(service, "POST", "/api/v1/search", {
          query: token,
          mode: "fts",
          limit: 1,
          user_id: USER,
        });
        if (r.hits.length > 0) {
          found = true;
          break;
        }
        await new Promise((res) => setTimeout(res, 20));
      }
      if (found) lags.push(performance.now() - start);
      else missed++;
    }
    results.write_to_searchable = percentiles(lags, missed);

    if (SOAK_MINUTES > 0) {
      log(`soak: ${SOAK_MINUTES} minutes of edits and searches`);
      const pid = service.child.pid as number;
      const samples: Array<{ minute: number; rss_mb: number }> = [{ minute: 0, rss_mb: rssMb(pid) }];
      const rnd = mulberry32(7);
      const end = performance.now() + SOAK_MINUTES * 60_000;
      let nextSample = performance.now() + 30_000;
      for (let i = 0; performance.now() < end; i++) {
        const f = join(live, `soak-${Math.floor(rnd() * 200)}.md`);
        if (rnd() < 0.15) rmSync(f, { force: true });
        else writeFileSync(f, `# Soak ${i}\n\n${qs[i % qs.length]} ${qs[(i * 7) % qs.length]}\n`);
        await send(i).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 200));
        if (performance.now() >= nextSample) {
          samples.push({
            minute: round((SOAK_MINUTES * 60_000 - (end - performance.now())) / 60_000),
            rss_mb: rssMb(pid),
          });
          nextSample += 30_000;
        }
      }
      samples.push({ minute: SOAK_MINUTES, rss_mb: rssMb(pid) });
      results.soak = {
        minutes: SOAK_MINUTES,
        samples,
        max_rss_mb: Math.max(...samples.map((s) => s.rss_mb)),
      };
    }
    results.service_rss_mb = rssMb(service.child.pid as number);

    const stopStart = performance.now();
    service.child.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => service.child.once("exit", (c) => r(c)));
    results.sigterm = { exit_code: code, seconds: round((performance.now() - stopStart) / 1000) };
    svc = undefined;
  } catch (err) {
    if (svc) {
      log(`service exit code: ${svc.child.exitCode ?? "still running"}; its last log lines:`);
      process.stderr.write(svc.stderr.slice(-20).join(""));
    }
    throw err;
  } finally {
    if (svc) svc.child.kill("SIGKILL");
    if (!args.keep) rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }

  const r = results as {
    floor: { single: Latency; rps: number };
    throughput: Record<string, number>;
    steady_20rps: Latency;
    during_sync_5rps: Latency & { sync_seconds: number };
    write_to_searchable: Latency;
    service_rss_mb: number;
  };
  const lines = [
    `corpus ${N} documents, loopback, ${SECONDS} s per throughput step`,
    `floor (LanceDB hybrid, in process): single query p50 ${r.floor.single.p50} ms, p99 ${r.floor.single.p99} ms; ${r.floor.rps} req/s at 50 concurrent`,
    `GET /health: ${r.throughput.health_rps} req/s (50 connections, ${r.throughput.health_errors} errors)`,
    `POST /api/v1/search hybrid: ${r.throughput.search_rps} req/s (50 connections, ${r.throughput.search_errors} errors) = ${r.throughput.search_vs_floor} x floor`,
    `hybrid at 20 req/s: p50 ${r.steady_20rps.p50} ms, p99 ${r.steady_20rps.p99} ms (${r.steady_20rps.count} requests, ${r.steady_20rps.errors} errors); p99 / floor p50 = ${round(r.steady_20rps.p99 / r.floor.single.p50)}`,
    `${(results.during_sync_5rps as { mode: string }).mode} at 5 req/s during a ${N}-document initial sync (${r.during_sync_5rps.sync_seconds} s): p50 ${r.during_sync_5rps.p50} ms, p99 ${r.during_sync_5rps.p99} ms, max ${r.during_sync_5rps.max} ms (${r.during_sync_5rps.count} requests, ${r.during_sync_5rps.errors} errors)`,
    `write -> searchable: p50 ${r.write_to_searchable.p50} ms, p99 ${r.write_to_searchable.p99} ms (${r.write_to_searchable.count} writes, ${r.write_to_searchable.errors} not found in 30 s)`,
    `service RSS at the end: ${r.service_rss_mb} MB`,
  ];
  if (results.soak) lines.push(`soak: ${JSON.stringify(results.soak)}`);
  lines.push(`SIGTERM: ${JSON.stringify(results.sigterm)}`);
  process.stdout.write(`${lines.join("\n")}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(results)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`[bench:api] failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
