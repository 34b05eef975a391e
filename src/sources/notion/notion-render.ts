/**
 * Rendering of Notion objects (as the API returns them, 2025-09-03) to Markdown-like text. Pure functions over
 * plain JSON: no requests.
 */

/** A Notion API object as JSON. */
export type NotionObject = Record<string, unknown>;

/** The title of a page by its (dashed) id, when known. */
export type TitleLookup = (id: string) => string | undefined;

/** One block with the children read for it (none for child pages and databases: they are documents). */
export interface BlockNode {
  block: NotionObject;
  children: BlockNode[];
}

/** What rendering a block tree gave. */
export interface RenderedBlocks {
  text: string;
  /** Blocks of a type this renderer does not know, skipped (by type). */
  unsupported: Record<string, number>;
  /** Ids of child pages and child databases found in the tree (their own documents). */
  childPages: string[];
  childDatabases: string[];
}

/** Plain text of a rich-text array: annotations dropped, links keep their text, mentions their shown text. */
export function plainText(rich: unknown): string {
  if (!Array.isArray(rich)) return "";
  return rich
    .map((r) => {
      const o = r as NotionObject;
      if (typeof o.plain_text === "string") return o.plain_text;
      const text = o.text as NotionObject | undefined;
      if (typeof text?.content === "string") return text.content;
      const eq = o.equation as NotionObject | undefined;
      if (typeof eq?.expression === "string") return eq.expression;
      return "";
    })
    .join("");
}

/** The title of a page (its `title` property) or data source / database (`title` rich text). */
export function titleOf(obj: NotionObject): string {
  if (Array.isArray(obj.title)) return plainText(obj.title).trim();
  const props = obj.properties as Record<string, NotionObject> | undefined;
  for (const p of Object.values(props ?? {})) {
    if (p?.type === "title") return plainText(p.title).trim();
  }
  return "";
}

/**
 * One property value as readable text: title, rich text, select, multi-select, status, number, date,
 * checkbox, people, URL, e-mail, phone, relation (titles when `titles` knows them, else ids), formula,
 * rollup, timestamps and users. Unknown or empty values give "".
 */
export function propertyText(prop: NotionObject, titles?: TitleLookup): string {
  const type = String(prop.type ?? "");
  const v = prop[type] as unknown;
  switch (type) {
    case "title":
    case "rich_text":
      return plainText(v).trim();
    case "select":
    case "status":
      return String((v as NotionObject | null)?.name ?? "");
    case "multi_select":
      return Array.isArray(v) ? v.map((o) => String((o as NotionObject).name ?? "")).join(", ") : "";
    case "number":
      return v === null || v === undefined ? "" : String(v);
    case "checkbox":
      return v === true ? "yes" : "no";
    case "date": {
      const d = v as NotionObject | null;
      if (!d) return "";
      return d.end ? `${String(d.start)} → ${String(d.end)}` : String(d.start ?? "");
    }
    case "people":
      return Array.isArray(v) ? v.map((p) => personName(p as NotionObject)).join(", ") : "";
    case "created_by":
    case "last_edited_by":
      return personName(v as NotionObject);
    case "url":
    case "email":
    case "phone_number":
    case "created_time":
    case "last_edited_time":
      return typeof v === "string" ? v : "";
    case "relation":
      return Array.isArray(v)
        ? v
            .map((r) => {
              const id = String((r as NotionObject).id ?? "");
              return titles?.(normalizeId(id)) || id;
            })
            .join(", ")
        : "";
    case "formula": {
      const f = v as NotionObject | null;
      if (!f) return "";
      const inner = f[String(f.type)];
      if (inner === null || inner === undefined) return "";
      return typeof inner === "object" ? String((inner as NotionObject).start ?? "") : String(inner);
    }
    case "rollup": {
      const r = v as NotionObject | null;
      if (!r) return "";
      if (r.type === "array" && Array.isArray(r.array)) {
        return r.array.map((x) => propertyText(x as NotionObject, titles)).join(", ");
      }
      const inner = r[String(r.type)];
      return inner === null || inner === undefined ? "" : String(inner);
    }
    case "unique_id": {
      const u = v as NotionObject | null;
      return u ? `${u.prefix ? `${String(u.prefix)}-` : ""}${String(u.number ?? "")}` : "";
    }
    default:
      return "";
  }
}

function personName(p: NotionObject | null | undefined): string {
  if (!p) return "";
  return String(p.name ?? (p.person as NotionObject | undefined)?.email ?? p.id ?? "");
}

/** `Name: value` lines of a row's properties (the title excluded), in the API's order, empty ones skipped. */
export function renderProperties(page: NotionObject, titles?: TitleLookup): string {
  const props = (page.properties ?? {}) as Record<string, NotionObject>;
  const lines: string[] = [];
  for (const [name, prop] of Object.entries(props)) {
    if (prop?.type === "title") continue;
    const text = propertyText(prop, titles);
    if (text !== "") lines.push(`${name}: ${text}`);
  }
  return lines.join("\n");
}

const PREFIX: Record<string, string> = {
  heading_1: "# ",
  heading_2: "## ",
  heading_3: "### ",
  heading_4: "#### ",
  bulleted_list_item: "- ",
  numbered_list_item: "1. ",
  quote: "> ",
  paragraph: "",
  toggle: "",
  template: "",
};

/** Block types whose only content is their children. */
const CONTAINERS = new Set(["column_list", "column", "synced_block", "table_row_container"]);

/** Blocks with nothing to index (files are not downloaded; their caption is kept). */
const MEDIA = new Set(["image", "video", "audio", "file", "pdf"]);

/** Renders a block tree (children already read) to Markdown-like text. */
export function renderBlocks(nodes: readonly BlockNode[]): RenderedBlocks {
  const out: RenderedBlocks = { text: "", unsupported: {}, childPages: [], childDatabases: [] };
  const lines: string[] = [];
  walk(nodes, "", lines, out);
  out.text = lines.join("\n");
  return out;
}

function walk(nodes: readonly BlockNode[], indent: string, lines: string[], out: RenderedBlocks): void {
  for (const { block, children } of nodes) {
    const type = String(block.type ?? "");
    const body = (block[type] ?? {}) as NotionObject;
    const text = plainText(body.rich_text);
    const inner = `${indent}  `;
    if (type in PREFIX) {
      if (text !== "" || type !== "paragraph") lines.push(`${indent}${PREFIX[type]}${text}`);
      walk(children, type === "paragraph" || type.startsWith("heading") ? indent : inner, lines, out);
    } else if (type === "to_do") {
      lines.push(`${indent}- [${body.checked === true ? "x" : " "}] ${text}`);
      walk(children, inner, lines, out);
    } else if (type === "callout") {
      const icon = (body.icon as NotionObject | undefined)?.emoji;
      lines.push(`${indent}> ${typeof icon === "string" ? `${icon} ` : ""}${text}`);
      walk(children, inner, lines, out);
    } else if (type === "code") {
      lines.push(`${indent}\`\`\`${String(body.language ?? "")}`, ...text.split("\n").map((l) => indent + l));
      lines.push(`${indent}\`\`\``);
    } else if (type === "equation") {
      lines.push(`${indent}$$${String(body.expression ?? "")}$$`);
    } else if (type === "divider") {
      lines.push(`${indent}---`);
    } else if (type === "table") {
      children.forEach((row, i) => {
        const cells = ((row.block.table_row as NotionObject | undefined)?.cells ?? []) as unknown[];
        lines.push(`${indent}| ${cells.map((c) => plainText(c).replace(/\|/g, "\\|")).join(" | ")} |`);
        if (i === 0) lines.push(`${indent}|${cells.map(() => " --- |").join("")}`);
      });
    } else if (CONTAINERS.has(type)) {
      walk(children, indent, lines, out);
    } else if (type === "child_page") {
      out.childPages.push(normalizeId(String(block.id)));
      lines.push(`${indent}[page: ${String(body.title ?? "")}]`);
    } else if (type === "child_database") {
      out.childDatabases.push(normalizeId(String(block.id)));
      lines.push(`${indent}[database: ${String(body.title ?? "")}]`);
    } else if (type === "bookmark" || type === "embed" || type === "link_preview") {
      const caption = plainText(body.caption);
      lines.push(`${indent}${caption ? `${caption} ` : ""}<${String(body.url ?? "")}>`);
    } else if (MEDIA.has(type)) {
      const caption = plainText(body.caption);
      if (caption) lines.push(`${indent}${caption}`);
    } else {
      out.unsupported[type || "unknown"] = (out.unsupported[type || "unknown"] ?? 0) + 1;
    }
  }
}

/** A Notion id in its dashed, lower-case form (ids are accepted with or without dashes). */
export function normalizeId(id: string): string {
  const hex = id.replace(/-/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return id.toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
