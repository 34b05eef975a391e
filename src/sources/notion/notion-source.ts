import type { Client } from "@notionhq/client";
import type { Journal } from "../../core/journal.js";
import type { Logger } from "../../core/logger.js";
import type { FetchedItem, Source, SourceChanges, SourceItemRef, SourceListing } from "../../core/source.js";
import { describeError, SyncError } from "../../errors/sync-error.js";
import type { NotionClientOptions } from "./notion-client.js";
import {
  type BlockNode,
  type NotionObject,
  normalizeId,
  renderBlocks,
  renderProperties,
  type TitleLookup,
  titleOf,
} from "./notion-render.js";

/** Options of {@link NotionSource}. */
export interface NotionSourceOptions {
  name: string;
  userId: string;
  /**
   * How to make the client (made on the first request: `@notionhq/client` is loaded only by a process that
   * reads Notion), or why there is none (a token that is not set): every request then fails unavailable.
   */
  client: NotionClientOptions | string;
  /** Page, database and data source ids; empty: everything shared with the integration. */
  roots: readonly string[];
  /** The source's stored cursor (`SourceRecord.state`). */
  state?: Record<string, unknown>;
  journal: Journal;
  logger: Logger;
  /** Pages edited less than this before the previous poll are read again (default 5 minutes). */
  racyWindowMs?: number;
}

/** The client module, once a client was made (an error can be the SDK's only after that). */
let sdk: typeof import("./notion-client.js") | undefined;

/** Prefix of the keys of data sources (pages are keyed by their bare id). */
export const DATA_SOURCE_KEY = "data_source:";

/** Children below this depth are not read (a guard against a cycle of synced blocks). */
const MAX_DEPTH = 32;

/** Titles of at most this many related pages per relation property are looked up (the rest show ids). */
const MAX_RELATION_TITLES = 10;

/** At most this many child pages found in block trees but not by search are remembered for the next listing. */
const MAX_DISCOVERED = 1000;

/** The cursor of a Notion source, stored in the journal between runs. */
interface NotionCursor {
  /** Newest `last_edited_time` seen (Notion's clock). */
  watermark: string;
  /** When the last listing or poll began (this machine's clock). */
  polled_at: string;
  /** Child pages found in block trees that search did not return. */
  discovered?: string[];
}

/**
 * A Notion workspace as shared with one integration: its pages, database rows (queried through their data
 * sources) and data sources, each its own document. The fingerprint is `last_edited_time` (minute-precise)
 * and the parent id; pages edited within `racyWindowMs` of the previous run are read again. Deletion is only
 * ever confirmed by Notion itself: a page in trash (or archived), an object that answers 404
 * `object_not_found`, or, with roots, one that no longer lies under any root. A timeout, 5xx, 401 or 429
 * confirms nothing.
 */
export class NotionSource implements Source {
  readonly type = "notion";
  readonly name: string;
  readonly racyWindowMs: number;
  private readonly roots: Set<string>;
  /** Objects seen by this instance (listing, retrievals), by id. */
  private readonly objects = new Map<string, NotionObject>();
  /** Pages retrieved by `confirmGone`, handed to the `fetch` that follows (a partial run's). */
  private readonly retrieved = new Map<string, NotionObject>();
  private readonly discovered = new Set<string>();
  private listed: NotionCursor | undefined;
  private loadedClient: Promise<Client> | undefined;

  constructor(private readonly options: NotionSourceOptions) {
    this.name = options.name;
    this.racyWindowMs = options.racyWindowMs ?? 5 * 60_000;
    this.roots = new Set(options.roots.map(normalizeId));
    const prior = options.state?.discovered;
    if (Array.isArray(prior)) for (const id of prior) if (typeof id === "string") this.discovered.add(id);
  }

  async list(signal?: AbortSignal): Promise<SourceListing> {
    return this.unavailableOnError(() => this.listAll(signal), signal);
  }

  private async listAll(signal?: AbortSignal): Promise<SourceListing> {
    const started = new Date().toISOString();
    const found = new Map<string, NotionObject>();
    const warnings: string[] = [];
    await this.search(signal, (obj) => {
      found.set(normalizeId(String(obj.id)), obj);
      return true;
    });
    for (const obj of [...found.values()]) this.remember(obj);
    for (const obj of [...found.values()]) {
      if (obj.object !== "data_source" || gone(obj) || !(await this.inScope(obj, signal))) continue;
      let cursor: string | undefined;
      do {
        signal?.throwIfAborted();
        const page = (await this.call(`query data source ${String(obj.id)}`, (client) =>
          client.dataSources.query({
            data_source_id: String(obj.id),
            page_size: 100,
            start_cursor: cursor,
          }),
        )) as unknown as NotionObject;
        for (const row of list(page)) found.set(normalizeId(String(row.id)), row);
        cursor = nextCursor(page);
      } while (cursor);
    }
    for (const id of this.discovered) {
      if (found.has(id)) {
        // Search finds it after all: nothing to remember.
        this.discovered.delete(id);
        continue;
      }
      try {
        const page = await this.retrievePage(id);
        // A trashed one is listed no more (and confirmed gone); it is not looked up again.
        if (gone(page)) this.discovered.delete(id);
        found.set(id, page);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.discovered.delete(id);
      }
    }
    for (const obj of found.values()) this.remember(obj);
    const items: SourceItemRef[] = [];
    let watermark = "";
    for (const obj of found.values()) {
      if (gone(obj) || !(await this.inScope(obj, signal))) continue;
      const edited = String(obj.last_edited_time ?? "");
      if (edited > watermark) watermark = edited;
      items.push({ key: keyOf(obj), fingerprint: fingerprintOf(obj), modifiedAt: edited || undefined });
    }
    this.listed = { watermark: watermark || started, polled_at: started };
    return { items, warnings, incompletePrefixes: [], emptyRoots: [] };
  }

  listedState(): Record<string, unknown> | undefined {
    if (!this.listed) return undefined;
    return { ...this.listed, discovered: [...this.discovered].slice(0, MAX_DISCOVERED) };
  }

  async listChanges(
    state: Record<string, unknown> | undefined,
    signal?: AbortSignal,
  ): Promise<SourceChanges | undefined> {
    return this.unavailableOnError(() => this.changesSince(state, signal), signal);
  }

  private async changesSince(
    state: Record<string, unknown> | undefined,
    signal?: AbortSignal,
  ): Promise<SourceChanges | undefined> {
    const watermark = typeof state?.watermark === "string" ? Date.parse(state.watermark) : Number.NaN;
    const polledAt = typeof state?.polled_at === "string" ? Date.parse(state.polled_at) : Number.NaN;
    if (Number.isNaN(watermark) || Number.isNaN(polledAt)) return undefined;
    const started = new Date().toISOString();
    const floor = Math.min(watermark, polledAt) - this.racyWindowMs;
    const racyFrom = polledAt - this.racyWindowMs;
    const changed: NotionObject[] = [];
    let newest = state?.watermark as string;
    await this.search(
      signal,
      (obj) => {
        const edited = String(obj.last_edited_time ?? "");
        if (Date.parse(edited) < floor) return false;
        if (edited > newest) newest = edited;
        this.remember(obj);
        changed.push(obj);
        return true;
      },
      "descending",
    );
    // Rows: search may not return them all (it is not a complete index); each known data source is asked for
    // its rows edited since the floor.
    const floorIso = new Date(floor).toISOString();
    for (const key of this.options.journal.listItems(this.options.userId, this.name).keys()) {
      if (!key.startsWith(DATA_SOURCE_KEY)) continue;
      let cursor: string | undefined;
      do {
        signal?.throwIfAborted();
        const page = (await this.call(`query data source ${key}`, (client) =>
          client.dataSources.query({
            data_source_id: key.slice(DATA_SOURCE_KEY.length),
            filter: { timestamp: "last_edited_time", last_edited_time: { on_or_after: floorIso } },
            sorts: [{ timestamp: "last_edited_time", direction: "descending" }],
            page_size: 100,
            start_cursor: cursor,
          }),
        )) as unknown as NotionObject;
        for (const row of list(page)) {
          const edited = String(row.last_edited_time ?? "");
          if (edited > newest) newest = edited;
          this.remember(row);
          changed.push(row);
        }
        cursor = nextCursor(page);
      } while (cursor);
    }
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const obj of changed) {
      if (seen.has(keyOf(obj))) continue;
      seen.add(keyOf(obj));
      // A poll deletes nothing: trashed pages wait for the reconciliation, which confirms them gone.
      if (gone(obj) || !(await this.inScope(obj, signal))) continue;
      const key = keyOf(obj);
      const known = this.options.journal.getItem(this.options.userId, this.name, key);
      const racy = Date.parse(String(obj.last_edited_time)) >= racyFrom;
      if (!known || known.fingerprint !== fingerprintOf(obj) || racy) keys.push(key);
    }
    return {
      keys,
      state: {
        ...state,
        watermark: newest,
        polled_at: started,
        discovered: [...this.discovered].slice(0, MAX_DISCOVERED),
      },
    };
  }

  async fetch(ref: SourceItemRef, signal?: AbortSignal): Promise<FetchedItem> {
    try {
      if (ref.key.startsWith(DATA_SOURCE_KEY)) return await this.fetchDataSource(ref.key, signal);
      return await this.fetchPage(ref.key, signal);
    } catch (err) {
      if (err instanceof SyncError || signal?.aborted) throw err;
      if (isNotFound(err)) {
        throw new SyncError("SYNC_E_ITEM_GONE", `notion: ${ref.key} is no longer shared or was deleted`, {
          cause: err,
        });
      }
      throw new SyncError("SYNC_E_READ_FAILED", `notion: fetch ${ref.key}: ${describeError(err)}`, {
        cause: err,
      });
    }
  }

  async confirmGone(keys: readonly string[], signal?: AbortSignal): Promise<Set<string>> {
    const out = new Set<string>();
    for (const key of keys) {
      signal?.throwIfAborted();
      try {
        const obj = key.startsWith(DATA_SOURCE_KEY)
          ? await this.retrieveDataSource(key.slice(DATA_SOURCE_KEY.length))
          : await this.retrievePage(key);
        if (!key.startsWith(DATA_SOURCE_KEY)) this.retrieved.set(key, obj);
        if (gone(obj) || !(await this.inScope(obj, signal))) out.add(key);
      } catch (err) {
        if (signal?.aborted) throw err;
        if (isNotFound(err)) out.add(key);
        else {
          this.options.logger.debug(
            { source: this.name, key, err: describeError(err) },
            "notion: could not confirm an item gone; it is kept",
          );
        }
      }
    }
    return out;
  }

  private async fetchPage(id: string, signal?: AbortSignal): Promise<FetchedItem> {
    // The page as this run's listing (or `confirmGone`) saw it: a read of its blocks follows at once, and an
    // edit in between only leaves the older fingerprint recorded (the next run reads the page again).
    const seen = this.retrieved.get(id) ?? this.objects.get(id);
    const page = seen?.object === "page" ? seen : await this.retrievePage(id);
    this.retrieved.delete(id);
    if (gone(page)) throw new SyncError("SYNC_E_ITEM_GONE", `notion: page ${id} is in trash`);
    const tree = await this.readChildren(id, 0, signal);
    const rendered = renderBlocks(tree);
    for (const child of rendered.childPages) {
      if (!this.objects.has(child) && this.discovered.size < MAX_DISCOVERED) this.discovered.add(child);
    }
    const title = titleOf(page) || "Untitled";
    const parent = parentOf(page);
    const parentTitle = parent ? await this.titleOfParent(parent) : "";
    const parts = [`# ${title}`];
    if (parentTitle) parts.push(`In: ${parentTitle}`);
    await this.resolveRelations(page, signal);
    const props = renderProperties(page, this.titles());
    if (props) parts.push(props);
    if (rendered.text) parts.push(rendered.text);
    const unsupported = Object.values(rendered.unsupported).reduce((a, b) => a + b, 0);
    if (unsupported > 0) {
      this.options.logger.debug(
        { source: this.name, page: id, unsupported: rendered.unsupported },
        "notion: unsupported blocks skipped",
      );
    }
    const url = typeof page.url === "string" ? page.url : undefined;
    const metadata: Record<string, unknown> = {
      notion_page_id: id,
      notion_parent_id: parent?.id ?? null,
      notion_parent_type: parent?.type ?? "workspace",
      url: url ?? null,
      last_edited_time: page.last_edited_time ?? null,
    };
    if (parent?.dataSourceId) metadata.notion_data_source_id = parent.dataSourceId;
    if (unsupported > 0) metadata.notion_unsupported_blocks = unsupported;
    return {
      bytes: new TextEncoder().encode(`${parts.join("\n\n")}\n`),
      fileName: `${fileSlug(title)}.md`,
      displayName: `${title} (${id})`,
      fingerprint: fingerprintOf(page),
      metadata,
      url,
    };
  }

  private async fetchDataSource(key: string, _signal?: AbortSignal): Promise<FetchedItem> {
    const id = key.slice(DATA_SOURCE_KEY.length);
    const ds = await this.retrieveDataSource(id);
    if (gone(ds)) throw new SyncError("SYNC_E_ITEM_GONE", `notion: data source ${id} is in trash`);
    const title = titleOf(ds) || "Untitled database";
    const parts = [`# ${title}`];
    const description = Array.isArray(ds.description)
      ? (ds.description as NotionObject[]).map((r) => String(r.plain_text ?? "")).join("")
      : "";
    if (description) parts.push(description);
    const props = Object.keys((ds.properties ?? {}) as NotionObject);
    if (props.length > 0) parts.push(`Properties: ${props.join(", ")}`);
    const parent = parentOf(ds);
    const url = typeof ds.url === "string" ? ds.url : undefined;
    return {
      bytes: new TextEncoder().encode(`${parts.join("\n\n")}\n`),
      fileName: `${fileSlug(title)}.md`,
      displayName: `${title} (data source ${id})`,
      fingerprint: fingerprintOf(ds),
      metadata: {
        notion_data_source_id: id,
        notion_parent_id: parent?.id ?? null,
        notion_parent_type: parent?.type ?? "workspace",
        url: url ?? null,
      },
      url,
    };
  }

  /**
   * Completes truncated relation properties of a row (`has_more`: read through the page property endpoint)
   * and looks up the titles of up to {@link MAX_RELATION_TITLES} related pages per property that this
   * instance has not seen, so that a row renders the same in a full run and a partial one.
   */
  private async resolveRelations(page: NotionObject, signal?: AbortSignal): Promise<void> {
    const props = (page.properties ?? {}) as Record<string, NotionObject>;
    for (const prop of Object.values(props)) {
      if (prop?.type !== "relation") continue;
      if (prop.has_more === true && typeof prop.id === "string") {
        const all: NotionObject[] = [];
        let cursor: string | undefined;
        do {
          signal?.throwIfAborted();
          const res = (await this.call(`read relation of ${String(page.id)}`, (client) =>
            client.pages.properties.retrieve({
              page_id: String(page.id),
              property_id: String(prop.id),
              start_cursor: cursor,
            }),
          )) as unknown as NotionObject;
          for (const item of list(res)) {
            const rel = item.relation as NotionObject | undefined;
            if (rel && typeof rel.id === "string") all.push({ id: rel.id });
          }
          cursor = nextCursor(res);
        } while (cursor);
        prop.relation = all;
      }
      const ids = (Array.isArray(prop.relation) ? prop.relation : []) as NotionObject[];
      for (const r of ids.slice(0, MAX_RELATION_TITLES)) {
        const id = normalizeId(String(r.id));
        if (this.objects.has(id)) continue;
        try {
          await this.retrievePage(id);
        } catch (err) {
          if (signal?.aborted) throw err;
          this.objects.set(id, { id, object: "unreadable" });
        }
      }
    }
  }

  /** The children of a block, each with its own children read (paginated, to any depth up to the guard). */
  private async readChildren(blockId: string, depth: number, signal?: AbortSignal): Promise<BlockNode[]> {
    const nodes: BlockNode[] = [];
    let cursor: string | undefined;
    do {
      signal?.throwIfAborted();
      const page = (await this.call(`read blocks of ${blockId}`, (client) =>
        client.blocks.children.list({ block_id: blockId, page_size: 100, start_cursor: cursor }),
      )) as unknown as NotionObject;
      for (const block of list(page)) nodes.push({ block, children: [] });
      cursor = nextCursor(page);
    } while (cursor);
    for (const node of nodes) {
      const type = node.block.type;
      if (node.block.has_children !== true || type === "child_page" || type === "child_database") continue;
      if (depth + 1 >= MAX_DEPTH) continue;
      node.children = await this.readChildren(String(node.block.id), depth + 1, signal);
    }
    return nodes;
  }

  /** Runs `visit` over search results (pages and data sources), page by page, until it returns false. */
  private async search(
    signal: AbortSignal | undefined,
    visit: (obj: NotionObject) => boolean,
    direction: "ascending" | "descending" = "descending",
  ): Promise<void> {
    let cursor: string | undefined;
    do {
      signal?.throwIfAborted();
      const page = (await this.call("search", (client) =>
        client.search({
          sort: { timestamp: "last_edited_time", direction },
          page_size: 100,
          start_cursor: cursor,
        }),
      )) as unknown as NotionObject;
      for (const obj of list(page)) if (!visit(obj)) return;
      cursor = nextCursor(page);
    } while (cursor);
  }

  private async retrievePage(id: string): Promise<NotionObject> {
    const page = (await this.call(`retrieve page ${id}`, (client) =>
      client.pages.retrieve({ page_id: id }),
    )) as unknown as NotionObject;
    this.remember(page);
    return page;
  }

  private async retrieveDataSource(id: string): Promise<NotionObject> {
    const ds = (await this.call(`retrieve data source ${id}`, (client) =>
      client.dataSources.retrieve({ data_source_id: id }),
    )) as unknown as NotionObject;
    this.remember(ds);
    return ds;
  }

  /** Whether `obj` is a root or lies below one (always, without roots); parents are looked up as needed. */
  private async inScope(obj: NotionObject, signal?: AbortSignal): Promise<boolean> {
    if (this.roots.size === 0) return true;
    let current: NotionObject | undefined = obj;
    for (let depth = 0; current && depth < MAX_DEPTH; depth++) {
      if (this.roots.has(normalizeId(String(current.id)))) return true;
      const parent = parentOf(current);
      if (!parent) return false;
      if (this.roots.has(parent.id) || (parent.databaseId && this.roots.has(parent.databaseId))) return true;
      signal?.throwIfAborted();
      current = this.objects.get(parent.id) ?? (await this.retrieveParent(parent));
    }
    return false;
  }

  private async retrieveParent(parent: ParentRef): Promise<NotionObject | undefined> {
    try {
      if (parent.type === "page_id") return await this.retrievePage(parent.id);
      if (parent.type === "data_source_id") return await this.retrieveDataSource(parent.id);
      if (parent.type === "block_id") {
        const block = (await this.call(`retrieve block ${parent.id}`, (client) =>
          client.blocks.retrieve({ block_id: parent.id }),
        )) as unknown as NotionObject;
        this.remember(block);
        return block;
      }
      if (parent.type === "database_id") {
        const db = (await this.call(`retrieve database ${parent.id}`, (client) =>
          client.databases.retrieve({ database_id: parent.id }),
        )) as unknown as NotionObject;
        this.remember(db);
        return db;
      }
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return undefined;
  }

  /** The title of a page's parent, from what this instance has seen, else retrieved. */
  private async titleOfParent(parent: ParentRef): Promise<string> {
    const known = this.objects.get(parent.id);
    if (known) return titleOf(known);
    if (parent.type !== "page_id" && parent.type !== "data_source_id") return "";
    try {
      const obj = await this.retrieveParent(parent);
      return obj ? titleOf(obj) : "";
    } catch (err) {
      // The title is a nicety: a parent that cannot be read now must not fail the page.
      this.options.logger.debug({ parent: parent.id, err: describeError(err) }, "notion: parent title");
      return "";
    }
  }

  private titles(): TitleLookup {
    return (id) => {
      const obj = this.objects.get(id);
      return obj?.object === "page" ? titleOf(obj) : undefined;
    };
  }

  private remember(obj: NotionObject): void {
    if (typeof obj.id === "string") this.objects.set(normalizeId(obj.id), obj);
  }

  private client(): Promise<Client> {
    const c = this.options.client;
    if (typeof c === "string") return Promise.reject(new SyncError("SYNC_E_SOURCE_UNAVAILABLE", c));
    this.loadedClient ??= import("./notion-client.js").then((m) => {
      sdk = m;
      return m.createNotionClient(c);
    });
    return this.loadedClient;
  }

  /** `fn`, its failure (but an abort) as `SYNC_E_SOURCE_UNAVAILABLE`: the listing says nothing then. */
  private async unavailableOnError<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (signal?.aborted || (err instanceof SyncError && err.code === "SYNC_E_SOURCE_UNAVAILABLE"))
        throw err;
      throw new SyncError("SYNC_E_SOURCE_UNAVAILABLE", describeError(err), { cause: err });
    }
  }

  /** Runs one API call, prefixing a failure with what was being done (the error keeps its Notion code). */
  private async call<T>(what: string, fn: (client: Client) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.client());
    } catch (err) {
      if (err instanceof SyncError) throw err;
      if (sdk?.isNotionClientError(err)) {
        err.message = `notion: ${what}: ${err.message}${"status" in err ? ` (HTTP ${String(err.status)})` : ""}`;
      }
      throw err;
    }
  }
}

/** Where an object lives: its parent's kind and id (and, for database rows, the data source and database). */
interface ParentRef {
  type: "page_id" | "data_source_id" | "database_id" | "block_id";
  id: string;
  dataSourceId?: string;
  databaseId?: string;
}

function parentOf(obj: NotionObject): ParentRef | undefined {
  const p = obj.parent as NotionObject | undefined;
  if (!p || typeof p.type !== "string") return undefined;
  const type = p.type;
  if (type !== "page_id" && type !== "data_source_id" && type !== "database_id" && type !== "block_id")
    return undefined;
  const id = p[type];
  if (typeof id !== "string") return undefined;
  const ref: ParentRef = { type, id: normalizeId(id) };
  if (type === "data_source_id") ref.dataSourceId = ref.id;
  if (typeof p.database_id === "string") ref.databaseId = normalizeId(p.database_id);
  return ref;
}

/** In trash or archived: gone for good as far as this source is concerned. */
function gone(obj: NotionObject): boolean {
  return obj.in_trash === true || obj.archived === true || obj.is_archived === true;
}

function keyOf(obj: NotionObject): string {
  const id = normalizeId(String(obj.id));
  return obj.object === "data_source" ? `${DATA_SOURCE_KEY}${id}` : id;
}

/** `last_edited_time` and the parent: a page moved elsewhere is read again even when its text did not move. */
function fingerprintOf(obj: NotionObject): string {
  return `${String(obj.last_edited_time ?? "")}|${parentOf(obj)?.id ?? "workspace"}`;
}

function list(page: NotionObject): NotionObject[] {
  return Array.isArray(page.results) ? (page.results as NotionObject[]) : [];
}

function nextCursor(page: NotionObject): string | undefined {
  return page.has_more === true && typeof page.next_cursor === "string" ? page.next_cursor : undefined;
}

/** A 404 `object_not_found` (never a timeout, 5xx, 401 or 429). */
export function isNotFound(err: unknown): boolean {
  return sdk?.APIResponseError.isAPIResponseError(err) === true && err.code === "object_not_found";
}

function fileSlug(title: string): string {
  const slug = title
    .normalize("NFKD")
    .replace(/[^\w\- ]+/g, "")
    .trim()
    .replace(/\s+/g, "-")
    .slice(0, 80);
  return slug || "page";
}
