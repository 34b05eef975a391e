import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDocx } from "../fixtures/make-docx.js";
import { deepHtml, makeDocxBomb, utf8WithBadByte } from "../fixtures/make-hostile.js";
import { makePdf } from "../fixtures/make-pdf.js";
import { runCli } from "../helpers/run-cli.js";
import { envFor, keyOf, readTables, show, suiteTempDir } from "./support.js";

interface Failure {
  key: string;
  code: string;
  error: string;
}

describe("hostile files through the built CLI: each fails alone or is read, the rest is indexed", () => {
  const tmp = suiteTempDir("lancedb-sync-hostile-");
  const docs = join(tmp.path, "docs");
  const env = envFor(tmp.path);
  const p = (name: string) => join(docs, name);
  const good = ["guide.md", "notes.txt", "page.html", "report.pdf", "letter.docx"];

  beforeAll(async () => {
    tmp.create();
    mkdirSync(docs);
    writeFileSync(p("bomb.docx"), await makeDocxBomb(100 * 1024 * 1024));
    writeFileSync(p("deep.html"), deepHtml(200_000, "The wren nests in the deepest hedge."));
    writeFileSync(p("koeln.txt"), utf8WithBadByte(10_000));
    writeFileSync(p("guide.md"), "# Field Guide\n\nHow to find the quokka colony.\n");
    writeFileSync(p("notes.txt"), "Shopping notes: zanzibar spice and fresh bread.\n");
    writeFileSync(
      p("page.html"),
      "<html><head><title>Harbour</title></head><body><p>The harbour opens at dawn.</p></body></html>",
    );
    writeFileSync(p("report.pdf"), await makePdf(["Quarterly report on lighthouse maintenance."]));
    writeFileSync(p("letter.docx"), await makeDocx(["Dear committee,", "the orchard needs new fences."]));
  });
  afterAll(() => tmp.cleanup());

  it("sync: the bomb fails alone and fast in little memory, deep HTML and bad-byte UTF-8 are indexed, exit 2", async () => {
    const t0 = performance.now();
    const r = await runCli(["sync", docs, "--user", "alice", "--json"], { cwd: tmp.path, env });
    const wallMs = performance.now() - t0;
    expect(r.code, show(r)).toBe(2);
    expect(r.json).toMatchObject({ added: good.length + 2, failed: 1 });
    const failures = r.json.failures as Failure[];
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ key: keyOf(p("bomb.docx")), code: "SYNC_E_FILE_TOO_LARGE" });
    expect(failures[0]?.error).toMatch(
      /bomb\.docx: word\/document\.xml would expand \d+-fold.*MAX_EXTRACTED_MB/,
    );
    // Idle parser workers must not keep the CLI alive after the run.
    expect(wallMs, show(r)).toBeLessThan(10_000);
    expect(r.json.peak_rss_mb, show(r)).toBeLessThan(300);
    expect(r.json.warnings).toContain(
      `${keyOf(p("koeln.txt"))}: 1 invalid UTF-8 byte sequence was replaced with U+FFFD`,
    );

    const { docs: rows, chunks } = await readTables(env.LANCEDB_URI);
    const keys = rows.map((d) => d.item_key).sort();
    expect(keys).toEqual([...good, "deep.html", "koeln.txt"].map((n) => keyOf(p(n))).sort());
    const deep = chunks.filter((c) => c.item_key === keyOf(p("deep.html"))).map((c) => c.text);
    expect(deep.join(" ")).toContain("The wren nests in the deepest hedge.");
  });

  it("search finds the bad-byte file by its intact UTF-8 word Köln", async () => {
    const r = await runCli(["search", "Köln", "--user", "alice", "--mode", "fts", "--json"], {
      cwd: tmp.path,
      env,
    });
    expect(r.code, show(r)).toBe(0);
    expect((r.json.hits as Array<{ item_key: string }>).map((h) => h.item_key)).toContain(
      keyOf(p("koeln.txt")),
    );
  });

  it("the bomb alone: fails in under 5 s with peak RSS under 300 MB", async () => {
    const only = join(tmp.path, "only-bomb");
    mkdirSync(only);
    writeFileSync(join(only, "bomb.docx"), await makeDocxBomb(100 * 1024 * 1024));
    writeFileSync(join(only, "fine.txt"), "A perfectly fine file.\n");
    const r = await runCli(["sync", only, "--user", "bob", "--json"], { cwd: tmp.path, env });
    expect(r.code, show(r)).toBe(2);
    expect(r.json).toMatchObject({ added: 1, failed: 1 });
    expect(r.json.failures[0]).toMatchObject({
      key: keyOf(join(only, "bomb.docx")),
      code: "SYNC_E_FILE_TOO_LARGE",
    });
    expect(r.json.duration_ms, show(r)).toBeLessThan(5_000);
    expect(r.json.peak_rss_mb, show(r)).toBeLessThan(300);
  });
});
