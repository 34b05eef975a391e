import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local server speaking the parts of the Notion API (2025-09-03) the `notion` source uses, over a
 * workspace built in code: search, pages, page properties, data sources (retrieve, query), databases, blocks
 * and block children — paginated like Notion (page_size ≤ 100, opaque cursors). It counts requests per route
 * and per object, checks the bearer token, and injects faults (429 + Retry-After, 500, 503, a hang).
 */

type Json = Record<string, unknown>;

/** A block as a test builds it: its type, the body of that type, and children. */
export interface FakeBlock {
  id?: string;
  type: string;
  body?: Json;
  children?: FakeBlock[];
}

interface StoredBlock {
  id: string;
  type: string;
  body: Json;
  parent: { type: "page_id" | "block_id"; id: string };
  children: string[];
}

export interface FakePage {
  id: string;
  title: string;
  parent: Json;
  lastEdited: string;
  inTrash: boolean;
  /** No longer shared with the integration: every route answers 404. */
  unshared: boolean;
  /** Served everywhere but search (Notion's search index is not complete). */
  searchHidden?: boolean;
  /** Row properties besides the title (Notion property values). */
  properties: Record<string, Json>;
  /** Top-level block ids. */
  blocks: string[];
}

export interface FakeDataSource {
  id: string;
  databaseId: string;
  title: string;
  lastEdited: string;
  inTrash: boolean;
  schema: Record<string, Json>;
}

/** One injected fault: the next `times` matching requests get it. */
export interface Fault {
  /** `METHOD /v1/route/:id/...` as in {@link FakeNotionServer.counts}. */
  route: string;
  /** Only requests about this object id. */
  id?: string;
  status?: 429 | 500 | 503 | 401;
  /** Seconds, for 429. */
  retryAfter?: number;
  /** Never answer (the client times out). */
  hang?: boolean;
  times: number;
}

let counter = 0;

/** A fresh Notion-like id (dashed UUID form). */
export function newId(): string {
  counter++;
  const hex = counter.toString(16).padStart(12, "0");
  return `0000abcd-0000-4000-8000-${hex}`;
}

/** A rich-text array of one plain run (annotations and a link when given). */
export function rich(text: string, link?: string): Json[] {
  return [
    {
      type: "text",
      text: { content: text, link: link ? { url: link } : null },
      annotations: { bold: true, italic: false, code: false, color: "default" },
      plain_text: text,
      href: link ?? null,
    },
  ];
}

/** Block builders. */
export const b = {
  p: (text: string, children?: FakeBlock[]): FakeBlock => ({
    type: "paragraph",
    body: { rich_text: rich(text) },
    children,
  }),
  h1: (text: string): FakeBlock => ({ type: "heading_1", body: { rich_text: rich(text) } }),
  h2: (text: string): FakeBlock => ({ type: "heading_2", body: { rich_text: rich(text) } }),
  bullet: (text: string, children?: FakeBlock[]): FakeBlock => ({
    type: "bulleted_list_item",
    body: { rich_text: rich(text) },
    children,
  }),
  numbered: (text: string): FakeBlock => ({ type: "numbered_list_item", body: { rich_text: rich(text) } }),
  todo: (text: string, checked: boolean): FakeBlock => ({
    type: "to_do",
    body: { rich_text: rich(text), checked },
  }),
  quote: (text: string): FakeBlock => ({ type: "quote", body: { rich_text: rich(text) } }),
  callout: (text: string): FakeBlock => ({
    type: "callout",
    body: { rich_text: rich(text), icon: { type: "emoji", emoji: "💡" } },
  }),
  code: (text: string, language = "typescript"): FakeBlock => ({
    type: "code",
    body: { rich_text: rich(text), language },
  }),
  toggle: (text: string, children: FakeBlock[]): FakeBlock => ({
    type: "toggle",
    body: { rich_text: rich(text) },
    children,
  }),
  equation: (expression: string): FakeBlock => ({ type: "equation", body: { expression } }),
  link: (text: string, url: string): FakeBlock => ({
    type: "paragraph",
    body: { rich_text: rich(text, url) },
  }),
  table: (rows: string[][]): FakeBlock => ({
    type: "table",
    body: { table_width: rows[0]?.length ?? 0, has_column_header: true, has_row_header: false },
    children: rows.map((cells) => ({ type: "table_row", body: { cells: cells.map((c) => rich(c)) } })),
  }),
  columns: (...columns: FakeBlock[][]): FakeBlock => ({
    type: "column_list",
    body: {},
    children: columns.map((c) => ({ type: "column", body: {}, children: c })),
  }),
  unsupported: (type = "unsupported"): FakeBlock => ({ type, body: {} }),
};

/** The workspace a {@link FakeNotionServer} serves; tests change it between syncs. */
export class FakeWorkspace {
  readonly pages = new Map<string, FakePage>();
  readonly dataSources = new Map<string, FakeDataSource>();
  readonly databases = new Map<string, { id: string; title: string; parent: Json; lastEdited: string }>();
  readonly blocks = new Map<string, StoredBlock>();
  /** Whether search returns database rows too (Notion's does; off, rows are found by data source queries only). */
  searchIncludesRows = false;

  /** Adds a page (under `parent`, a page or data source id, or the workspace) with its block tree. */
  addPage(input: {
    title: string;
    parent?: { page?: string; dataSource?: string };
    blocks?: FakeBlock[];
    lastEdited?: string;
    properties?: Record<string, Json>;
    id?: string;
  }): string {
    const id = input.id ?? newId();
    let parent: Json = { type: "workspace", workspace: true };
    if (input.parent?.page) parent = { type: "page_id", page_id: input.parent.page };
    if (input.parent?.dataSource) {
      const ds = this.dataSources.get(input.parent.dataSource);
      parent = {
        type: "data_source_id",
        data_source_id: input.parent.dataSource,
        database_id: ds?.databaseId,
      };
    }
    const page: FakePage = {
      id,
      title: input.title,
      parent,
      lastEdited: input.lastEdited ?? "2026-01-05T10:00:00.000Z",
      inTrash: false,
      unshared: false,
      properties: input.properties ?? {},
      blocks: [],
    };
    this.pages.set(id, page);
    page.blocks = this.storeBlocks(input.blocks ?? [], { type: "page_id", id });
    if (input.parent?.page) this.appendChildPageBlock(input.parent.page, id);
    return id;
  }

  /** Adds a database with one data source (and a child_database block when under a page). */
  addDatabase(input: { title: string; parentPage?: string; lastEdited?: string }): {
    databaseId: string;
    dataSourceId: string;
  } {
    const databaseId = newId();
    const dataSourceId = newId();
    const lastEdited = input.lastEdited ?? "2026-01-05T10:00:00.000Z";
    const parent: Json = input.parentPage
      ? { type: "page_id", page_id: input.parentPage }
      : { type: "workspace", workspace: true };
    this.databases.set(databaseId, { id: databaseId, title: input.title, parent, lastEdited });
    this.dataSources.set(dataSourceId, {
      id: dataSourceId,
      databaseId,
      title: input.title,
      lastEdited,
      inTrash: false,
      schema: {
        Name: { id: "title", name: "Name", type: "title", title: {} },
        Status: { id: "st", name: "Status", type: "select", select: {} },
      },
    });
    if (input.parentPage) {
      const page = this.page(input.parentPage);
      const [blockId] = this.storeBlocks(
        [{ id: databaseId, type: "child_database", body: { title: input.title } }],
        { type: "page_id", id: page.id },
      );
      if (blockId) page.blocks.push(blockId);
    }
    return { databaseId, dataSourceId };
  }

  page(id: string): FakePage {
    const page = this.pages.get(id);
    if (!page) throw new Error(`no page ${id}`);
    return page;
  }

  /** Replaces a page's blocks and moves its `last_edited_time`. */
  editPage(id: string, blocks: FakeBlock[], lastEdited: string): void {
    const page = this.page(id);
    const keep = page.blocks.filter((bid) => {
      const t = this.blocks.get(bid)?.type;
      return t === "child_page" || t === "child_database";
    });
    page.blocks = [...this.storeBlocks(blocks, { type: "page_id", id }), ...keep];
    page.lastEdited = lastEdited;
  }

  /** Moves a page under another page (its own `last_edited_time` unchanged, like Notion). */
  movePage(id: string, newParent: string, lastEdited: string): void {
    const page = this.page(id);
    const old = page.parent.type === "page_id" ? String(page.parent.page_id) : undefined;
    if (old) {
      const op = this.page(old);
      op.blocks = op.blocks.filter((bid) => bid !== id);
      op.lastEdited = lastEdited;
    }
    page.parent = { type: "page_id", page_id: newParent };
    this.appendChildPageBlock(newParent, id);
    this.page(newParent).lastEdited = lastEdited;
  }

  private appendChildPageBlock(parentId: string, childId: string): void {
    const parent = this.page(parentId);
    this.blocks.set(childId, {
      id: childId,
      type: "child_page",
      body: { title: this.page(childId).title },
      parent: { type: "page_id", id: parentId },
      children: [],
    });
    parent.blocks.push(childId);
  }

  private storeBlocks(blocks: FakeBlock[], parent: StoredBlock["parent"]): string[] {
    return blocks.map((blk) => {
      const id = blk.id ?? newId();
      const stored: StoredBlock = { id, type: blk.type, body: blk.body ?? {}, parent, children: [] };
      this.blocks.set(id, stored);
      stored.children = this.storeBlocks(blk.children ?? [], { type: "block_id", id });
      return id;
    });
  }

  pageJson(page: FakePage): Json {
    const titleProp = page.parent.type === "data_source_id" ? "Name" : "title";
    return {
      object: "page",
      id: page.id,
      created_time: "2026-01-01T00:00:00.000Z",
      last_edited_time: page.lastEdited,
      in_trash: page.inTrash,
      archived: page.inTrash,
      parent: page.parent,
      url: `https://www.notion.so/${page.title.replace(/\W+/g, "-")}-${page.id.replace(/-/g, "")}`,
      properties: {
        [titleProp]: { id: "title", type: "title", title: rich(page.title) },
        ...page.properties,
      },
    };
  }

  dataSourceJson(ds: FakeDataSource): Json {
    return {
      object: "data_source",
      id: ds.id,
      title: rich(ds.title),
      description: [],
      parent: { type: "database_id", database_id: ds.databaseId },
      last_edited_time: ds.lastEdited,
      in_trash: ds.inTrash,
      archived: ds.inTrash,
      properties: ds.schema,
      url: `https://www.notion.so/${ds.databaseId.replace(/-/g, "")}`,
    };
  }

  blockJson(blk: StoredBlock): Json {
    return {
      object: "block",
      id: blk.id,
      type: blk.type,
      parent:
        blk.parent.type === "page_id"
          ? { type: "page_id", page_id: blk.parent.id }
          : { type: "block_id", block_id: blk.parent.id },
      has_children: blk.type === "child_page" ? true : blk.children.length > 0,
      in_trash: false,
      [blk.type]: blk.body,
    };
  }

  /** Whether a page is served (not unshared; its ancestors neither). */
  visible(page: FakePage): boolean {
    return !page.unshared;
  }
}

/** A running fake Notion API. */
export class FakeNotionServer {
  readonly workspace = new FakeWorkspace();
  /** Requests by route (`GET /v1/blocks/:id/children`) and by route and object (`… <id>`). */
  readonly counts = new Map<string, number>();
  /** Every request in order: route and object id. */
  readonly log: Array<{ route: string; id: string | undefined }> = [];
  readonly faults: Fault[] = [];
  /** Notion-Version headers seen. */
  readonly versions = new Set<string>();
  private server: Server | undefined;
  private readonly hanging = new Set<ServerResponse>();
  url = "";

  constructor(readonly token = "secret_test_token_0123456789") {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  /** Requests seen on `route` (optionally about object `id`). */
  count(route: string, id?: string): number {
    return this.counts.get(id === undefined ? route : `${route} ${id}`) ?? 0;
  }

  /** Total requests seen. */
  total(): number {
    return this.log.length;
  }

  resetCounts(): void {
    this.counts.clear();
    this.log.length = 0;
  }

  /** Object ids whose block children were read since the last reset. */
  childrenRead(): Set<string> {
    return new Set(this.log.filter((l) => l.route === "GET /v1/blocks/:id/children").map((l) => l.id ?? ""));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const body = raw ? (JSON.parse(raw) as Json) : {};
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const { route, id, sub } = routeOf(req.method ?? "GET", url.pathname);
    this.counts.set(route, (this.counts.get(route) ?? 0) + 1);
    if (id) this.counts.set(`${route} ${id}`, (this.counts.get(`${route} ${id}`) ?? 0) + 1);
    this.log.push({ route, id });
    const version = req.headers["notion-version"];
    if (typeof version === "string") this.versions.add(version);

    const fault = this.faults.find((f) => f.times > 0 && f.route === route && (!f.id || f.id === id));
    if (fault) {
      fault.times--;
      if (fault.hang) {
        this.hanging.add(res);
        return;
      }
      const status = fault.status ?? 500;
      const code = {
        429: "rate_limited",
        500: "internal_server_error",
        503: "service_unavailable",
        401: "unauthorized",
      }[status];
      const headers: Record<string, string> = {};
      if (status === 429) headers["retry-after"] = String(fault.retryAfter ?? 1);
      return send(res, status, { object: "error", status, code, message: `injected ${status}` }, headers);
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return send(res, 401, {
        object: "error",
        status: 401,
        code: "unauthorized",
        message: "API token is invalid.",
      });
    }
    const ws = this.workspace;
    const notFound = () =>
      send(res, 404, {
        object: "error",
        status: 404,
        code: "object_not_found",
        message: `Could not find object with ID: ${id}. Make sure the relevant pages and databases are shared with your integration.`,
      });

    switch (route) {
      case "POST /v1/search": {
        const objects: Json[] = [];
        for (const page of ws.pages.values()) {
          if (!ws.visible(page) || page.inTrash || page.searchHidden) continue;
          if (page.parent.type === "data_source_id" && !ws.searchIncludesRows) continue;
          objects.push(ws.pageJson(page));
        }
        for (const ds of ws.dataSources.values()) if (!ds.inTrash) objects.push(ws.dataSourceJson(ds));
        const sort = body.sort as Json | undefined;
        const dir = sort?.direction === "ascending" ? 1 : -1;
        objects.sort(
          (a, c) =>
            dir * String(a.last_edited_time).localeCompare(String(c.last_edited_time)) ||
            String(a.id).localeCompare(String(c.id)),
        );
        return send(res, 200, paginate(objects, body.start_cursor, body.page_size, "page_or_data_source"));
      }
      case "GET /v1/pages/:id": {
        const page = ws.pages.get(id ?? "");
        if (!page || !ws.visible(page)) return notFound();
        return send(res, 200, ws.pageJson(page));
      }
      case "GET /v1/pages/:id/properties/:pid": {
        const page = ws.pages.get(id ?? "");
        if (!page || !ws.visible(page)) return notFound();
        const prop = Object.values(page.properties).find((p) => p.id === sub);
        if (!prop) return notFound();
        if (prop.type === "relation") {
          const all = ((prop.all ?? prop.relation) as Json[]).map((r) => ({
            object: "property_item",
            type: "relation",
            id: prop.id,
            relation: { id: r.id },
          }));
          return send(res, 200, {
            ...paginate(
              all,
              url.searchParams.get("start_cursor"),
              url.searchParams.get("page_size"),
              "property_item",
            ),
            property_item: { id: prop.id, type: "relation", relation: {} },
          });
        }
        return send(res, 200, { object: "property_item", ...prop });
      }
      case "GET /v1/data_sources/:id": {
        const ds = ws.dataSources.get(id ?? "");
        if (!ds) return notFound();
        return send(res, 200, ws.dataSourceJson(ds));
      }
      case "POST /v1/data_sources/:id/query": {
        const ds = ws.dataSources.get(id ?? "");
        if (!ds || ds.inTrash) return notFound();
        const rows = [...ws.pages.values()]
          .filter(
            (p) =>
              p.parent.type === "data_source_id" &&
              p.parent.data_source_id === ds.id &&
              ws.visible(p) &&
              !p.inTrash,
          )
          .filter((p) => {
            const f = body.filter as Json | undefined;
            const since = (f?.last_edited_time as Json | undefined)?.on_or_after;
            return f?.timestamp !== "last_edited_time" || typeof since !== "string" || p.lastEdited >= since;
          })
          .map((p) => ws.pageJson(p));
        return send(res, 200, paginate(rows, body.start_cursor, body.page_size, "page_or_data_source"));
      }
      case "GET /v1/databases/:id": {
        const db = ws.databases.get(id ?? "");
        if (!db) return notFound();
        const sources = [...ws.dataSources.values()].filter((d) => d.databaseId === db.id);
        return send(res, 200, {
          object: "database",
          id: db.id,
          title: rich(db.title),
          parent: db.parent,
          last_edited_time: db.lastEdited,
          in_trash: false,
          data_sources: sources.map((d) => ({ id: d.id, name: d.title })),
        });
      }
      case "GET /v1/blocks/:id": {
        const blk = ws.blocks.get(id ?? "");
        if (!blk) return notFound();
        return send(res, 200, ws.blockJson(blk));
      }
      case "GET /v1/blocks/:id/children": {
        const page = ws.pages.get(id ?? "");
        let children: string[] | undefined;
        if (page) {
          if (!ws.visible(page)) return notFound();
          children = page.blocks;
        } else children = ws.blocks.get(id ?? "")?.children;
        if (!children) return notFound();
        const blocks = children.flatMap((cid) => {
          const blk = ws.blocks.get(cid);
          return blk ? [ws.blockJson(blk)] : [];
        });
        return send(
          res,
          200,
          paginate(blocks, url.searchParams.get("start_cursor"), url.searchParams.get("page_size"), "block"),
        );
      }
      default:
        return send(res, 400, {
          object: "error",
          status: 400,
          code: "invalid_request_url",
          message: `fake: no route ${route}`,
        });
    }
  }
}

function routeOf(method: string, path: string): { route: string; id?: string; sub?: string } {
  const parts = path.split("/").filter(Boolean);
  // /v1/<kind>/<id>/<rest...>
  const [, kind, id, rest, sub] = parts;
  if (!kind) return { route: `${method} ${path}` };
  if (id === undefined) return { route: `${method} /v1/${kind}` };
  if (rest === undefined) return { route: `${method} /v1/${kind}/:id`, id };
  if (kind === "pages" && rest === "properties")
    return { route: `${method} /v1/pages/:id/properties/:pid`, id, sub };
  return { route: `${method} /v1/${kind}/:id/${rest}`, id };
}

function paginate(all: Json[], cursor: unknown, size: unknown, type: string): Json {
  const start = typeof cursor === "string" && cursor !== "" ? Number(cursor.replace("cursor-", "")) : 0;
  const n = Math.min(100, Math.max(1, Number(size ?? 100) || 100));
  const results = all.slice(start, start + n);
  const more = start + n < all.length;
  return {
    object: "list",
    results,
    next_cursor: more ? `cursor-${start + n}` : null,
    has_more: more,
    type,
    [type]: {},
  };
}

function send(res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(text);
}
