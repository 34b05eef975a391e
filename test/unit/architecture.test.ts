import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
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

const files = sourceFiles(SRC);
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

  it("keeps the sync core free of I/O: no fs, http, LanceDB or SQLite imports in src/core", () => {
    const forbidden =
      /^(node:)?(fs|fs\/promises|http|https|net|child_process)$|lancedb|better-sqlite3|apache-arrow/;
    const offenders = files
      .filter((f) => relative(SRC, f).startsWith("core/"))
      .flatMap((f) =>
        imports(f)
          .filter((s) => forbidden.test(s))
          .map((s) => `${relative(SRC, f)}: ${s}`),
      );
    expect(offenders).toEqual([]);
  });

  it("finds the imports it checks (the scan is not vacuous)", () => {
    expect(files.length).toBeGreaterThan(30);
    expect(graph.get(join(SRC, "core/run-sync.ts"))?.length).toBeGreaterThan(3);
  });
});
