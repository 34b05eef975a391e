import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { connect } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type EmbeddingsServer, startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import {
  type CliEnv,
  envFor,
  expectStoreMatchesFiles,
  listFiles,
  readTables,
  show,
  spawnCli,
  writeCorpus,
} from "./support.js";

/** `lancedb-sync serve` as a process: SIGTERM in the middle of a large sync, kill -9, restart, convergence. */

const USER = "alice";
const SOURCE = "corpus";

interface Running {
  child: ReturnType<typeof spawnCli>["child"];
  done: ReturnType<typeof spawnCli>["done"];
  url: string;
  key: string;
}

const temps: Array<{ cleanup: () => void }> = [];
const children: Running[] = [];
const servers: EmbeddingsServer[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.child.kill("SIGKILL");
  for (const s of servers.splice(0)) await s.close();
  for (const t of temps.splice(0)) t.cleanup();
});

async function setup(count: number) {
  const tmp = makeTempDir("lancedb-sync-serve-");
  temps.push(tmp);
  const docs = join(tmp.path, "docs");
  mkdirSync(docs);
  writeCorpus(docs, count, 7);
  const env: CliEnv = envFor(tmp.path, {
    WRITE_BATCH_DOCS: "25",
    SHUTDOWN_TIMEOUT: "1",
    SYNC_INTERVAL: "86400",
    DEFAULT_POLL_INTERVAL: "3600",
  });
  const added = await runCli(
    ["sources", "add", "local_filesystem", "--user", USER, "--name", SOURCE, "--path", docs],
    {
      cwd: tmp.path,
      env,
    },
  );
  expect(added.code, show(added)).toBe(0);
  // A key made beforehand: `serve` prints a first-start key only when none exists.
  const key = await runCli(["keys", "create", "--admin", "--json"], { cwd: tmp.path, env });
  expect(key.code, show(key)).toBe(0);
  return { dir: tmp.path, docs, env, key: key.json.key as string };
}

async function serve(dir: string, env: CliEnv, key: string): Promise<Running> {
  const { child, done } = spawnCli(["serve", "--port", "0"], { cwd: dir, env });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 60_000);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void done.then((r) => reject(new Error(`serve exited ${r.code}: ${r.stdout}${r.stderr}`)));
  });
  const running = { child, done, url, key };
  children.push(running);
  return running;
}

async function get<T>(svc: Running, path: string): Promise<T> {
  const res = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.key}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

interface SyncStatus {
  running: Array<{ source_id: string; done: number; total: number }>;
  queued: unknown[];
  recent: Array<{ source_id: string; state: string; reason: string }>;
}

/** Polls until `ok` holds (bounded). */
async function until<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 90_000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

async function converged(svc: Running, files: number): Promise<void> {
  await until(
    "the restarted service to finish its catch-up run",
    () => get<SyncStatus>(svc, "/api/v1/sync/status"),
    (s) => s.running.length === 0 && s.queued.length === 0 && s.recent.some((j) => j.state === "succeeded"),
  );
  const status = await get<{ documents: number; pending: number; failed: number }>(svc, "/api/v1/status");
  expect(status).toMatchObject({ documents: files, pending: 0, failed: 0 });
}

describe("serve as a process", () => {
  it("SIGTERM during a large sync exits cleanly within SHUTDOWN_TIMEOUT; the tables stay consistent; the next start resumes", async () => {
    const setUp = await setup(1500);
    const { dir, docs, key } = setUp;
    // A slow embedder while the first service runs, so that SIGTERM always finds the sync far from done (on a
    // fast machine 1,500 documents can otherwise be synced within SHUTDOWN_TIMEOUT).
    const server = await startEmbeddingsServer({ dimensions: 16, behaviour: () => ({ delayMs: 40 }) });
    servers.push(server);
    const env = {
      ...setUp.env,
      EMBEDDING_PROVIDER: "openai",
      EMBEDDING_BASE_URL: server.url,
      EMBEDDING_DIMENSIONS: "16",
    };
    const first = await serve(dir, env, key);
    await until(
      "the start reconciliation to be under way",
      () => get<SyncStatus>(first, "/api/v1/sync/status"),
      (s) => s.running.some((r) => r.source_id === SOURCE && r.done > 50),
    );
    first.child.kill("SIGTERM");
    const stopped = await first.done;
    expect(stopped.code, show(stopped)).toBe(0);
    expect(stopped.stdout).toContain("stopped");

    // The run was cut short (SHUTDOWN_TIMEOUT=1 s for 1,500 documents), so the restart has work to resume.
    expect((await readTables(env.LANCEDB_URI)).docs.length).toBeLessThan(listFiles(docs).length);
    const doctor = await runCli(["doctor", "--json"], { cwd: dir, env });
    expect(doctor.code, show(doctor)).toBe(0);

    server.setBehaviour(() => "default");
    const second = await serve(dir, env, key);
    await converged(second, listFiles(docs).length);
    second.child.kill("SIGTERM");
    expect((await second.done).code).toBe(0);
    await expectStoreMatchesFiles(env, listFiles(docs), { userId: USER, sourceId: SOURCE });
  });

  it("kill -9 of the service mid-sync, then a restart: it converges, nothing lost or doubled", async () => {
    const { dir, docs, env, key } = await setup(1500);
    const first = await serve(dir, env, key);
    await until(
      "the start reconciliation to be under way",
      () => get<SyncStatus>(first, "/api/v1/sync/status"),
      (s) => s.running.some((r) => r.source_id === SOURCE && r.done > 200),
    );
    first.child.kill("SIGKILL");
    await first.done;
    expect((await readTables(env.LANCEDB_URI)).docs.length).toBeLessThan(listFiles(docs).length);

    const second = await serve(dir, env, key);
    await converged(second, listFiles(docs).length);
    second.child.kill("SIGTERM");
    expect((await second.done).code).toBe(0);
    await expectStoreMatchesFiles(env, listFiles(docs), { userId: USER, sourceId: SOURCE });
  });
});

describe("serve as a process: a stuck client", () => {
  it("SIGTERM while an upload trickles in: the connection is cut at SHUTDOWN_TIMEOUT and serve exits cleanly (0)", async () => {
    const { dir, env, key } = await setup(1);
    const svc = await serve(dir, env, key);
    const { hostname, port } = new URL(svc.url);
    const socket = connect(Number(port), hostname);
    await new Promise((r) => socket.once("connect", r));
    // Headers and the start of a 10 MB upload that never comes.
    socket.write(
      "POST /api/v1/documents HTTP/1.1\r\nHost: x\r\n" +
        `Authorization: Bearer ${key}\r\nContent-Type: multipart/form-data; boundary=b\r\n` +
        "Content-Length: 10000000\r\n\r\n--b\r\n" +
        'Content-Disposition: form-data; name="file"; filename="a.md"\r\n\r\n# A\n',
    );
    socket.on("error", () => undefined);
    await new Promise((r) => setTimeout(r, 300));
    svc.child.kill("SIGTERM");
    const r = await svc.done;
    socket.destroy();
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain("stopped");
  });
});

describe("the CLI against a running service", () => {
  it("status and sources scan ask the service at --url (or LANCEDB_SYNC_URL) with LANCEDB_SYNC_API_KEY; errors keep their codes", async () => {
    const { dir, docs, env, key } = await setup(20);
    const svc = await serve(dir, { ...env, ENABLE_SOURCE_MONITORING: "false" }, key);
    const remote = { ...env, LANCEDB_SYNC_API_KEY: key };

    const scan = await runCli(
      ["sources", "scan", "--user", USER, "--name", SOURCE, "--url", svc.url, "--json"],
      {
        cwd: dir,
        env: remote,
      },
    );
    expect(scan.code, show(scan)).toBe(0);
    expect(scan.json.result).toMatchObject({ source: SOURCE, added: listFiles(docs).length, failed: 0 });
    expect(scan.json.job.job_id).toMatch(/^job_/);

    const status = await runCli(["status", "--json"], {
      cwd: dir,
      env: { ...remote, LANCEDB_SYNC_URL: svc.url },
    });
    expect(status.code, show(status)).toBe(0);
    expect(status.json).toMatchObject({ documents: listFiles(docs).length, service: { monitoring: false } });
    const text = await runCli(["status", "--url", svc.url], { cwd: dir, env: remote });
    expect(text.stdout).toContain(`service ${svc.url}/: up since`);

    const queued = await runCli(
      ["sources", "scan", "--user", USER, "--name", SOURCE, "--url", svc.url, "--no-wait", "--json"],
      { cwd: dir, env: remote },
    );
    expect(queued.code, show(queued)).toBe(0);
    expect(queued.json.job.state).toMatch(/^(running|queued)$/);

    const noKey = await runCli(["status", "--url", svc.url, "--json"], { cwd: dir, env });
    expect(noKey.code).toBe(1);
    expect(noKey.json.error.code).toBe("SYNC_E_UNAUTHORIZED");
    const badKey = await runCli(["status", "--url", svc.url, "--json"], {
      cwd: dir,
      env: { ...env, LANCEDB_SYNC_API_KEY: "lsk_not-a-key" },
    });
    expect(badKey.json.error.code).toBe("SYNC_E_UNAUTHORIZED");
    const unknown = await runCli(
      ["sources", "scan", "--user", USER, "--name", "nope", "--url", svc.url, "--json"],
      {
        cwd: dir,
        env: remote,
      },
    );
    expect(unknown.json.error.code).toBe("SYNC_E_NOT_FOUND");
    svc.child.kill("SIGTERM");
    expect((await svc.done).code).toBe(0);
    const down = await runCli(["status", "--url", svc.url, "--json"], { cwd: dir, env: remote });
    expect(down.json.error.code).toBe("SYNC_E_SERVICE_UNREACHABLE");
  });
});

describe("serve: address and TLS", () => {
  it("refuses a non-loopback address while no API key exists, naming the setting", async () => {
    const tmp = makeTempDir("lancedb-sync-serve-host-");
    temps.push(tmp);
    const r = await runCli(["serve", "--host", "0.0.0.0", "--port", "0"], {
      cwd: tmp.path,
      env: envFor(tmp.path),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("SYNC_E_CONFIG_INVALID");
    expect(r.stderr).toContain('API_HOST="0.0.0.0"');
    expect(r.stderr).toContain("keys create --admin");
  });

  it("speaks HTTPS with TLS_CERT_FILE and TLS_KEY_FILE", async () => {
    const tmp = makeTempDir("lancedb-sync-serve-tls-");
    temps.push(tmp);
    const cert = join(tmp.path, "cert.pem");
    const keyFile = join(tmp.path, "key.pem");
    const made = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"].concat([
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        keyFile,
        "-out",
        cert,
      ]),
      { encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    const env = envFor(tmp.path, {
      TLS_CERT_FILE: cert,
      TLS_KEY_FILE: keyFile,
      ENABLE_SOURCE_MONITORING: "false",
    });
    const created = await runCli(["keys", "create", "--admin", "--json"], { cwd: tmp.path, env });
    const svc = await serve(tmp.path, env, created.json.key);
    expect(svc.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsGet(
        `${svc.url}/api/v1/me`,
        { ca: readFileSync(cert), headers: { authorization: `Bearer ${svc.key}` } },
        (res) => {
          let text = "";
          res.on("data", (d) => {
            text += d;
          });
          res.on("end", () => resolve(text));
        },
      );
      req.on("error", reject);
    });
    expect(JSON.parse(body)).toEqual({ role: "admin", user_id: null });
    svc.child.kill("SIGTERM");
    expect((await svc.done).code).toBe(0);
  });
});
