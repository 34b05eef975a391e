import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/temp-dir.js";

/**
 * FsSource in a real child process, for what the test process itself cannot do: hit EACCES (tests run as
 * root, for whom permission bits do not apply, so the child drops to uid/gid 65534 "nobody") and open a
 * FIFO (a blocking open would freeze the test worker; the child is killed at a deadline instead). The child
 * imports the compiled module, so `npm run build` must have run (as `npm test` does).
 */

const DIST = fileURLToPath(new URL("../../dist/sources/local-filesystem/", import.meta.url));
const SRC = fileURLToPath(new URL("../../src/sources/local-filesystem/", import.meta.url));
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

interface ChildResult {
  uid: number;
  ok: boolean;
  code?: string;
  message?: string;
  // biome-ignore lint/suspicious/noExplicitAny: the listing or fetch result as JSON.
  result?: any;
}

let tmp: { path: string; cleanup: () => void };
let root: string;
let script: string;

beforeAll(() => {
  for (const name of ["fs-source", "fs-walk", "fs-paths"]) {
    const built = join(DIST, `${name}.js`);
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(SRC, `${name}.ts`)).mtimeMs) {
      throw new Error(`${built} is missing or older than its source: run \`npm run build\` first`);
    }
  }
});

beforeEach(() => {
  tmp = makeTempDir("fs-source-process-");
  chmodSync(tmp.path, 0o755);
  root = join(tmp.path, "root");
  mkdirSync(root, { mode: 0o755 });
  script = join(tmp.path, "run-source.mjs");
  writeFileSync(
    script,
    `import { FsSource } from ${JSON.stringify(pathToFileURL(join(DIST, "fs-source.js")).href)};
const [op, options, key] = JSON.parse(process.argv[2]);
const source = new FsSource({ maxFileBytes: 1 << 20, readChunkBytes: 1 << 16, ...options });
const uid = process.getuid();
try {
  const result = op === "list" ? await source.list() : await source.fetch({ key, fingerprint: "" });
  if (result.bytes) result.bytes = Buffer.from(result.bytes).toString();
  console.log(JSON.stringify({ uid, ok: true, result }));
} catch (err) {
  console.log(JSON.stringify({ uid, ok: false, code: err.code, message: err.message }));
}
`,
    { mode: 0o644 },
  );
});
afterEach(() => {
  chmodSync(tmp.path, 0o755);
  tmp.cleanup();
});

/** Runs one `list` or `fetch` in a child; as root, the child runs as nobody. */
function runChild(
  args: [op: "list" | "fetch", options: object, key?: string],
  asNobody: boolean,
): ChildResult {
  const out = spawnSync(process.execPath, [script, JSON.stringify(args)], {
    encoding: "utf8",
    timeout: 10_000,
    killSignal: "SIGKILL",
    ...(asNobody && asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  if (out.error) throw out.error;
  if (out.status !== 0) throw new Error(`child failed (${out.status ?? out.signal}): ${out.stderr}`);
  return JSON.parse(out.stdout) as ChildResult;
}

function writeReadable(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o644 });
}

describe("FsSource as an unprivileged process (real EACCES)", () => {
  it("reports an unreadable subfolder as a warning and an incomplete prefix, and lists the rest", () => {
    writeReadable(join(root, "open.txt"), "open");
    mkdirSync(join(root, "locked"), { mode: 0o755 });
    writeReadable(join(root, "locked", "secret.txt"), "secret");
    chmodSync(join(root, "locked"), 0o000);
    const out = runChild(["list", { name: "docs", paths: [root] }], true);
    if (asRoot) expect(out.uid).toBe(NOBODY);
    expect(out.ok).toBe(true);
    expect(out.result.items.map((i: { key: string }) => i.key)).toEqual([`${root}/open.txt`]);
    expect(out.result.warnings).toEqual([
      `fs: cannot list folder ${root}/locked: EACCES (permission denied)`,
    ]);
    expect(out.result.incompletePrefixes).toEqual([`${root}/locked/`]);
    expect(out.result.emptyRoots).toEqual([]);
  });

  it("reports a file in a folder without search permission as an incomplete key", () => {
    mkdirSync(join(root, "listable"), { mode: 0o755 });
    writeReadable(join(root, "listable", "a.txt"), "a");
    chmodSync(join(root, "listable"), 0o444);
    const out = runChild(["list", { name: "docs", paths: [root] }], true);
    expect(out.ok).toBe(true);
    expect(out.result.items).toEqual([]);
    expect(out.result.incompletePrefixes).toEqual([`${root}/listable/a.txt`]);
    expect(out.result.warnings).toEqual([
      `fs: cannot stat ${root}/listable/a.txt: EACCES (permission denied)`,
    ]);
    expect(out.result.emptyRoots).toEqual([`${root}/`]);
  });

  it("throws SYNC_E_SOURCE_UNAVAILABLE when the root itself is unreadable", () => {
    writeReadable(join(root, "a.txt"), "a");
    chmodSync(root, 0o000);
    const out = runChild(["list", { name: "docs", paths: [root] }], true);
    expect(out.ok).toBe(false);
    expect(out.code).toBe("SYNC_E_SOURCE_UNAVAILABLE");
    expect(out.message).toBe(`fs: cannot list root ${root}: EACCES (permission denied)`);
  });
});

describe("FsSource fetch never blocks", () => {
  it("refuses a path swapped for a FIFO with SYNC_E_UNSUPPORTED_TYPE instead of waiting for a writer", () => {
    const fifo = join(root, "notes.txt");
    const made = spawnSync("mkfifo", [fifo]);
    expect(made.status).toBe(0);
    const out = runChild(["fetch", { name: "docs", paths: [root] }, fifo], false);
    expect(out.ok).toBe(false);
    expect(out.code).toBe("SYNC_E_UNSUPPORTED_TYPE");
    expect(out.message).toBe(`${fifo}: not a regular file (fifo)`);
  });
});
