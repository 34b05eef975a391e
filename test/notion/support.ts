import { join } from "node:path";
import type { Logger } from "../../src/core/logger.js";
import { createSyncSystem, type SyncSystem } from "../../src/index.js";
import { localFilesystemType } from "../../src/sources/local-filesystem/local-filesystem-type.js";
import { createNotionType, type NotionTypeOptions } from "../../src/sources/notion/notion-type.js";
import { SourceRegistry } from "../../src/sources/registry.js";
import { uploadType } from "../../src/sources/upload/upload-type.js";
import { b, type FakeBlock, type FakeNotionServer, type FakeWorkspace } from "./fake-notion-server.js";

/** Ids of the standard workspace's objects. */
export interface Workspace {
  home: string;
  deep: string;
  long: string;
  toggle: string;
  child: string;
  editMe: string;
  trashMe: string;
  unshareMe: string;
  mover: string;
  databaseId: string;
  dataSourceId: string;
  rows: string[];
}

/** How many documents the standard workspace makes: 9 pages, 3 rows, 1 data source. */
export const WORKSPACE_DOCS = 13;

/**
 * The standard workspace: every block type the renderer knows, text five levels deep, a page of 250 blocks
 * and a toggle of 120 children (several pages of children each), a child page, a database with rows, and the
 * pages later edited, trashed, unshared and moved.
 */
export function buildWorkspace(ws: FakeWorkspace): Workspace {
  const home = ws.addPage({
    title: "Home",
    lastEdited: "2026-01-02T09:00:00.000Z",
    blocks: [
      b.h1("Welcome aboard"),
      b.p("The lighthouse keeper logs every storm."),
      b.columns([b.p("Left column mentions albatross.")], [b.p("Right column mentions pelican.")]),
      b.callout("Remember the tide tables."),
      b.table([
        ["Harbour", "Depth"],
        ["Northport", "twelve fathoms"],
      ]),
      b.equation("E = mc^2"),
      b.code("const keel = 'oak';"),
      b.todo("Paint the hull", true),
      b.quote("Fair winds."),
      b.link("charts and maps", "https://example.org/charts"),
      b.numbered("First mate"),
      b.unsupported("unsupported"),
      b.unsupported("breadcrumb"),
    ],
  });
  let deepest: FakeBlock = b.p("The deepest secret is marmalade.");
  deepest = b.toggle("level four toggle", [deepest]);
  for (let i = 3; i >= 1; i--) deepest = b.bullet(`level ${i}`, [deepest]);
  const deep = ws.addPage({ title: "Deep", blocks: [deepest], lastEdited: "2026-01-03T09:00:00.000Z" });
  const long = ws.addPage({
    title: "Long",
    lastEdited: "2026-01-04T09:00:00.000Z",
    blocks: Array.from({ length: 250 }, (_, i) =>
      b.p(i === 249 ? "The final paragraph names the zeppelin." : `Paragraph ${i} of the long page.`),
    ),
  });
  const toggle = ws.addPage({
    title: "Toggles",
    lastEdited: "2026-01-05T09:00:00.000Z",
    blocks: [
      b.toggle(
        "A toggle with many children",
        Array.from({ length: 120 }, (_, i) =>
          b.p(i === 119 ? "Hidden child number 120 is a walrus." : `Hidden child ${i + 1}.`),
        ),
      ),
    ],
  });
  const child = ws.addPage({
    title: "Child of Home",
    parent: { page: home },
    lastEdited: "2026-01-06T09:00:00.000Z",
    blocks: [b.p("The child page talks about quokkas.")],
  });
  const mover = ws.addPage({
    title: "Mover",
    parent: { page: child },
    lastEdited: "2026-01-06T10:00:00.000Z",
    blocks: [b.p("This page wanders between parents: nomad.")],
  });
  const { databaseId, dataSourceId } = ws.addDatabase({
    title: "Tasks",
    parentPage: home,
    lastEdited: "2026-01-07T09:00:00.000Z",
  });
  const rows = ["Caulk the deck", "Mend the sails", "Polish the bell"].map((title, i) =>
    ws.addPage({
      title,
      parent: { dataSource: dataSourceId },
      lastEdited: `2026-01-07T1${i}:00:00.000Z`,
      properties: {
        Status: { id: "st", type: "select", select: { name: i === 0 ? "Doing" : "Todo" } },
        Tags: { id: "tg", type: "multi_select", multi_select: [{ name: "deck" }, { name: "rigging" }] },
        Estimate: { id: "es", type: "number", number: i + 2 },
        Due: { id: "du", type: "date", date: { start: "2026-02-01", end: null } },
        Done: { id: "dn", type: "checkbox", checkbox: i === 2 },
        Owner: { id: "ow", type: "people", people: [{ object: "user", id: "u1", name: "Ishmael" }] },
        Link: { id: "ln", type: "url", url: "https://example.org/task" },
        Notes: {
          id: "nt",
          type: "rich_text",
          rich_text: [{ plain_text: `Row note ${i} mentions barnacles.` }],
        },
        Related: {
          id: "rl",
          type: "relation",
          relation: [{ id: deep }],
          has_more: i === 0,
          all: [{ id: deep }, { id: long }],
        },
      },
    }),
  );
  const editMe = ws.addPage({
    title: "Recipe",
    lastEdited: "2026-01-08T09:00:00.000Z",
    blocks: [b.p("Version one of the recipe uses plums.")],
  });
  const trashMe = ws.addPage({
    title: "Scratch",
    lastEdited: "2026-01-08T10:00:00.000Z",
    blocks: [b.p("Ephemeral scribbles.")],
  });
  const unshareMe = ws.addPage({
    title: "Private",
    lastEdited: "2026-01-08T11:00:00.000Z",
    blocks: [b.p("Secret plans for the regatta.")],
  });
  return {
    home,
    deep,
    long,
    toggle,
    child,
    editMe,
    trashMe,
    unshareMe,
    mover,
    databaseId,
    dataSourceId,
    rows,
  };
}

/** A logger that keeps every entry (level, fields, message). */
export function recordingLogger(): Logger & {
  entries: Array<{ level: string; obj: object; msg: string | undefined }>;
} {
  const entries: Array<{ level: string; obj: object; msg: string | undefined }> = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj, msg });
    };
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/**
 * A sync system over a temp dir whose `notion` sources talk to `server`, with the token in a private env
 * (never `process.env`), short client waits, and no rate limit unless `requestsPerSecond` says so.
 */
export function notionSystem(
  dir: string,
  server: FakeNotionServer,
  options: {
    logger?: Logger;
    notion?: NotionTypeOptions;
    requestsPerSecond?: number;
    env?: NodeJS.ProcessEnv;
  } = {},
): SyncSystem {
  const logger = options.logger ?? recordingLogger();
  const registry = new SourceRegistry()
    .register(localFilesystemType)
    .register(uploadType)
    .register(
      createNotionType({
        env: options.env ?? { NOTION_TOKEN: server.token },
        logger,
        timeoutMs: 1500,
        maxRetries: 4,
        initialRetryDelayMs: 20,
        maxRetryDelayMs: 5000,
        ...options.notion,
      }),
    );
  return createSyncSystem({
    lancedbUri: join(dir, "lancedb"),
    stateDbPath: join(dir, "state.db"),
    uploadDir: join(dir, "uploads"),
    logger,
    registry,
    notionApiBaseUrl: server.url,
    notionRequestsPerSecond: options.requestsPerSecond ?? 1000,
  });
}
