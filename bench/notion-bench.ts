/**
 * `npm run bench:notion [-- --pages 200 --rps 3 --json]`: requests and wall time of a `notion` source against
 * the local Notion API server (test/notion/fake-notion-server.ts, 127.0.0.1 only), with the source's own rate
 * limit on (`NOTION_REQUESTS_PER_SECOND`, default 3 like Notion's).
 *
 * The workspace: `--pages` pages (20 top-level pages, the rest their child pages), each with a heading, six
 * paragraphs, a bulleted list and a toggle of five children. Measured, in one process with a real LanceDB and
 * SQLite in a temp dir: the first sync (full), a full reconciliation with no change, and an incremental poll
 * with no change. Prints a table; `--json` adds one JSON line. Exits 1 if a run fails or indexes too little.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { silentLogger } from "../src/core/logger.js";
import { createSyncSystem } from "../src/index.js";
import { localFilesystemType } from "../src/sources/local-filesystem/local-filesystem-type.js";
import { createNotionType } from "../src/sources/notion/notion-type.js";
import { SourceRegistry } from "../src/sources/registry.js";
import { uploadType } from "../src/sources/upload/upload-type.js";
import { b, FakeNotionServer } from "../test/notion/fake-notion-server.js";

const { values: args } = parseArgs({
  options: {
    pages: { type: "string", default: "200" },
    rps: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
  },
});
const PAGES = Number(args.pages);
const RPS = Number(args.rps);

function pageBlocks(i: number) {
  return [
    b.h2(`Section ${i}`),
    ...Array.from({ length: 6 }, (_, j) =>
      b.p(`Page ${i} paragraph ${j}: notes on rigging, tides and cargo.`),
    ),
    b.bullet(`First point of page ${i}`),
    b.bullet(`Second point of page ${i}`),
    b.toggle(
      `Details of page ${i}`,
      Array.from({ length: 5 }, (_, j) => b.p(`Hidden detail ${j} of page ${i}.`)),
    ),
  ];
}

async function main(): Promise<void> {
  const server = new FakeNotionServer();
  await server.start();
  const tops = Math.min(20, PAGES);
  const topIds: string[] = [];
  for (let i = 0; i < tops; i++) {
    topIds.push(server.workspace.addPage({ title: `Top ${i}`, blocks: pageBlocks(i) }));
  }
  for (let i = tops; i < PAGES; i++) {
    server.workspace.addPage({
      title: `Child ${i}`,
      parent: { page: topIds[i % tops] as string },
      blocks: pageBlocks(i),
    });
  }
  const dir = mkdtempSync(join(tmpdir(), "notion-bench-"));
  const registry = new SourceRegistry()
    .register(localFilesystemType)
    .register(uploadType)
    .register(createNotionType({ env: { NOTION_TOKEN: server.token }, logger: silentLogger }));
  const system = createSyncSystem({
    lancedbUri: join(dir, "lancedb"),
    stateDbPath: join(dir, "state.db"),
    uploadDir: join(dir, "uploads"),
    logger: silentLogger,
    registry,
    notionApiBaseUrl: server.url,
    notionRequestsPerSecond: RPS,
  });
  const rows: Array<Record<string, string | number>> = [];
  try {
    await system.start();
    await system.sources.add({ userId: "bench", sourceId: "wiki", type: "notion" });
    const measure = async (label: string, incremental: boolean) => {
      server.resetCounts();
      const t0 = performance.now();
      const r = await system.syncSource({ userId: "bench", sourceId: "wiki", incremental });
      const seconds = (performance.now() - t0) / 1000;
      rows.push({
        run: label,
        kind: r.kind,
        documents_read: r.added + r.updated,
        unchanged: r.unchanged,
        requests: server.total(),
        block_children_requests: server.count("GET /v1/blocks/:id/children"),
        seconds: Math.round(seconds * 10) / 10,
        requests_per_second: Math.round((server.total() / seconds) * 100) / 100,
      });
      process.stderr.write(`${label}: ${server.total()} requests in ${seconds.toFixed(1)} s\n`);
      return r;
    };
    const first = await measure("first sync", false);
    if (first.added !== PAGES) throw new Error(`first sync added ${first.added} of ${PAGES} pages`);
    await measure("no-change reconciliation", false);
    await measure("no-change poll", true);
  } finally {
    await system.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`notion bench: ${PAGES} pages, NOTION_REQUESTS_PER_SECOND=${RPS}\n`);
  process.stdout.write(
    "| run | kind | documents read | unchanged | requests | block-children requests | seconds | requests/s |\n",
  );
  process.stdout.write("|---|---|---|---|---|---|---|---|\n");
  for (const r of rows) {
    process.stdout.write(
      `| ${r.run} | ${r.kind} | ${r.documents_read} | ${r.unchanged} | ${r.requests} | ${r.block_children_requests} | ${r.seconds} | ${r.requests_per_second} |\n`,
    );
  }
  if (args.json) process.stdout.write(`${JSON.stringify({ pages: PAGES, rps: RPS, runs: rows })}\n`);
}

main().catch((err) => {
  process.stderr.write(`notion bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
