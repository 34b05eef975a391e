import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Value (not type-only) imports of a file: static `import … from` and dynamic `import(…)`. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+"([^"]+)"/gms)) out.push(m[1] as string);
  for (const m of text.matchAll(/import\(\s*"([^"]+)"\s*\)/g)) out.push(m[1] as string);
  return out;
}

/**
 * Every module a file's text names, whatever the kind: `import …`, `import type …`, `export … from`,
 * `export type … from`, side-effect `import "…"`, dynamic `import(…)` and `require(…)`.
 */
function allSpecifiers(text: string): string[] {
  const out: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s+(?:type\s+)?[^;]*?\bfrom\s+["']([^"']+)["']/gm,
    /^\s*import\s+["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) out.push(m[1] as string);
  return out;
}

/** Node built-ins and packages that mean I/O (or a way to it); the core may use none of them. */
const FORBIDDEN_PACKAGES =
  /^(node:)?(fs|fs\/promises|http|https|http2|net|tls|dgram|dns|child_process|cluster|worker_threads|os|process|readline|stream|v8|vm)(\/.*)?$|lancedb|better-sqlite3|apache-arrow|@aws-sdk|openai|pino|dotenv/;

/** Folders of src/ that the core may import from (relative imports only). */
const CORE_MAY_IMPORT = ["core/", "errors/"];

/**
 * Import rules of a file in src/core (given by its path relative to src/, POSIX slashes): relative imports
 * must resolve into src/core or src/errors; bare imports must not be I/O modules. Type imports count too.
 */
function coreImportViolations(relPath: string, text: string): string[] {
  const out: string[] = [];
  for (const spec of allSpecifiers(text)) {
    if (spec.startsWith(".")) {
      const target = posix.normalize(posix.join(posix.dirname(relPath), spec));
      if (!CORE_MAY_IMPORT.some((dir) => target.startsWith(dir)))
        out.push(`${relPath}: ${spec} (-> ${target})`);
    } else if (spec.startsWith("/") || FORBIDDEN_PACKAGES.test(spec)) {
      out.push(`${relPath}: ${spec}`);
    }
  }
  return out;
}

/** Text without block and line comments (good enough for a scan: prose may say "the process."). */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

/** Uses of the `process` global (process.env, process.stdout, process.exit, …) in a file's code. */
function processUses(relPath: string, text: string): string[] {
  const code = stripComments(text);
  const out: string[] = [];
  for (const m of code.matchAll(/\b(?:globalThis\s*\.\s*)?process\s*(?:\?\.|\.|\[)\s*[A-Za-z_$"'`]\w*/g)) {
    out.push(`${relPath}: ${m[0]}`);
  }
  return out;
}

/**
 * Ways a file outside src/storage could reach a raw LanceDB table or connection: importing `@lancedb/lancedb`
 * or `load-lancedb` (type imports too), or calling the store's `chunksTable()`, `documentsTable()` or
 * `connection()`.
 */
function lanceDbLeaks(relPath: string, text: string): string[] {
  const out: string[] = [];
  for (const spec of allSpecifiers(text)) {
    if (/^@lancedb\/|(^|\/)load-lancedb(\.js)?$/.test(spec)) out.push(`${relPath}: ${spec}`);
  }
  for (const m of stripComments(text).matchAll(/\.\s*(chunksTable|documentsTable|connection)\s*\(/g)) {
    out.push(`${relPath}: .${m[1]}(`);
  }
  return out;
}

const files = sourceFiles(SRC);
const rel = (f: string) => relative(SRC, f).split(sep).join("/");
const coreFiles = files.filter((f) => rel(f).startsWith("core/"));
const graph = new Map(
  files.map((f) => [
    f,
    imports(f)
      .filter((s) => s.startsWith("."))
      .map((s) => resolve(dirname(f), s.replace(/\.js$/, ".ts"))),
  ]),
);

describe("architecture", () => {
  it("has no import cycles among value imports", () => {
    const cycles: string[] = [];
    const state = new Map<string, "visiting" | "done">();
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "visiting") {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(SRC, p)).join(" -> "));
        return;
      }
      state.set(f, "visiting");
      for (const dep of graph.get(f) ?? []) visit(dep, [...path, f]);
      state.set(f, "done");
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it("keeps the sync core free of I/O: src/core imports only src/core and src/errors, and no I/O packages", () => {
    const offenders = coreFiles.flatMap((f) => coreImportViolations(rel(f), readFileSync(f, "utf8")));
    expect(offenders).toEqual([]);
  });

  it("keeps the sync core off the process global: no process.env, process.stdout, process.exit … in src/core", () => {
    const offenders = coreFiles.flatMap((f) => processUses(rel(f), readFileSync(f, "utf8")));
    expect(offenders).toEqual([]);
  });

  it("keeps LanceDB inside src/storage: no import of it or of load-lancedb, no raw table or connection accessor", () => {
    const outside = files.filter((f) => !rel(f).startsWith("storage/"));
    const offenders = outside.flatMap((f) => lanceDbLeaks(rel(f), readFileSync(f, "utf8")));
    expect(offenders).toEqual([]);
    // The rule has something to hold: storage itself does all three.
    const store = readFileSync(join(SRC, "storage/lancedb-store.ts"), "utf8");
    expect(lanceDbLeaks("storage/lancedb-store.ts", store).length).toBeGreaterThan(2);
    expect(outside.length).toBeGreaterThan(30);
  });

  it("imports go one way: cli, api -> service -> app -> the rest (type imports included)", () => {
    // A folder may not import from the folders listed for it (index.ts, the library entry, may import all).
    const above: Record<string, string[]> = {
      "app/": ["service/", "api/", "cli/"],
      "service/": ["api/", "cli/"],
      "api/": ["cli/"],
      "sources/": ["app/", "service/", "api/", "cli/"],
      "storage/": ["app/", "service/", "api/", "cli/"],
      "pipeline/": ["app/", "service/", "api/", "cli/"],
      "search/": ["app/", "service/", "api/", "cli/"],
    };
    const offenders: string[] = [];
    let checked = 0;
    for (const f of files) {
      const from = rel(f);
      const banned = Object.entries(above).find(([dir]) => from.startsWith(dir))?.[1];
      if (!banned) continue;
      for (const spec of allSpecifiers(readFileSync(f, "utf8"))) {
        if (!spec.startsWith(".")) continue;
        checked++;
        const target = posix.normalize(posix.join(posix.dirname(from), spec));
        if (banned.some((dir) => target.startsWith(dir))) offenders.push(`${from}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });

  it("finds the imports it checks (the scan is not vacuous)", () => {
    expect(files.length).toBeGreaterThan(30);
    expect(coreFiles.length).toBeGreaterThan(8);
    expect(graph.get(join(SRC, "core/run-sync.ts"))?.length).toBeGreaterThan(3);
    // Type imports are seen too: run-sync imports several modules only for their types.
    const runSync = readFileSync(join(SRC, "core/run-sync.ts"), "utf8");
    const all = allSpecifiers(runSync);
    expect(all.length).toBeGreaterThan(imports(join(SRC, "core/run-sync.ts")).length);
    expect(all).toContain("./write-path.js");
    expect(all).toContain("../errors/sync-error.js");
  });

  describe("the checkers flag what they must (self-test on synthetic files)", () => {
    const bad = [
      'import { x } from "../storage/lancedb-store.js";',
      'import type { Config } from "../config/schema.js";',
      "import {",
      "  type A,",
      "  b,",
      '} from "../app/app-context.js";',
      'export { y } from "../sources/fs-source.js";',
      'export type { Z } from "../pipeline/chunk-text.js";',
      'export * from "../search/search-chunks.js";',
      'import "../logging/create-logger.js";',
      'const m = await import("../storage/sqlite-journal.js");',
      'import { readFileSync } from "node:fs";',
      'import * as lancedb from "@lancedb/lancedb";',
      'import Database from "better-sqlite3";',
      'import { writeFile } from "fs/promises";',
      'import { x as y2 } from "../../outside.js";',
      'import { ok } from "./ids.js";',
      'import { SyncError } from "../errors/sync-error.js";',
      'import { createHash } from "node:crypto";',
      "const key = process.env.X;",
      'const v = process.env["OPENAI_API_KEY"];',
      "process.stdout.write('x');",
      "if (globalThis.process?.exit) process.exit(1);",
    ].join("\n");

    it("relative imports out of core/ and errors/, type-only or re-exported, and I/O packages", () => {
      const found = coreImportViolations("core/fake.ts", bad);
      const specs = found.map((f) => f.replace(/^core\/fake\.ts: /, "").replace(/ \(->.*$/, ""));
      expect(specs.sort()).toEqual(
        [
          "../storage/lancedb-store.js",
          "../config/schema.js",
          "../app/app-context.js",
          "../sources/fs-source.js",
          "../pipeline/chunk-text.js",
          "../search/search-chunks.js",
          "../logging/create-logger.js",
          "../storage/sqlite-journal.js",
          "node:fs",
          "@lancedb/lancedb",
          "better-sqlite3",
          "fs/promises",
          "../../outside.js",
        ].sort(),
      );
      // A nested core file resolves its relative imports from its own folder.
      expect(coreImportViolations("core/sub/deep.ts", 'import { a } from "../ids.js";')).toEqual([]);
      expect(coreImportViolations("core/sub/deep.ts", 'import { a } from "../../errors/codes.js";')).toEqual(
        [],
      );
      expect(
        coreImportViolations("core/sub/deep.ts", 'import type { a } from "../../storage/filter.js";'),
      ).toHaveLength(1);
    });

    it("LanceDB imports and raw table accessors outside storage, but not look-alikes", () => {
      const found = lanceDbLeaks("app/fake.ts", bad);
      expect(found.map((f) => f.replace(/^app\/fake\.ts: /, "")).sort()).toEqual(["@lancedb/lancedb"]);
      const more = [
        'import type { Table } from "@lancedb/lancedb";',
        'const { loadLanceDb } = await import("../storage/load-lancedb.js");',
        "const t = store.chunksTable();",
        "const d = store.documentsTable ();",
        "const c = this.store.connection();",
        "const n = options.chunksTable; const m = config.documentsTable;",
        "// store.chunksTable() in prose",
      ].join("\n");
      expect(lanceDbLeaks("app/fake.ts", more)).toHaveLength(5);
    });

    it("process.env and other process I/O, but not prose in comments", () => {
      const found = processUses("core/fake.ts", bad);
      expect(found.length).toBeGreaterThanOrEqual(5);
      expect(found.join("\n")).toContain("process.env");
      expect(found.join("\n")).toContain("process.stdout");
      expect(found.join("\n")).toContain("process.exit");
      expect(processUses("core/fake.ts", 'const v = process["env"].X;')).toHaveLength(1);
      expect(
        processUses("core/fake.ts", "// reads process.env elsewhere\n/* process.exit */\nconst p = 1;"),
      ).toEqual([]);
      expect(processUses("core/fake.ts", "const processed = items.process;\n")).toEqual([]);
    });
  });
});
