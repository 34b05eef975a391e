// The lancedb-sync status page: plain DOM, no framework, no build step.
// Every value from the API reaches the page as a text node (append/textContent), never as markup: file
// names, titles and error messages are user-controlled. The API key lives in sessionStorage and travels only
// in the Authorization header of fetch.

const KEY_STORAGE = "lancedb-sync.api-key";
const REFRESH_MS = 2000;
const SNIPPET_CHARS = 300;

takeKeyFromFragment();

/** A key in the address bar (`#key=…`) is stored for this tab and removed from the URL and history entry. */
function takeKeyFromFragment() {
  if (!location.hash.startsWith("#")) return;
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has("key")) return;
  const key = (params.get("key") ?? "").trim();
  history.replaceState(history.state, "", location.pathname + location.search);
  if (key !== "") sessionStorage.setItem(KEY_STORAGE, key);
}

const $ = (id) => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`status page: #${id} is missing`);
  return node;
};

/** An element with a few properties (never markup) and children (strings become text nodes). */
function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null) continue;
    if (name === "class") node.className = value;
    else if (name === "title" || name === "max" || name === "value" || name === "colSpan") node[name] = value;
    else if (name === "href") node.href = value;
    else throw new Error(`h: unsupported property ${name}`);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls `/api/v1/<path>` with the stored key; throws ApiError with the API's `{ error: { code, message } }`. */
async function api(path, init = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE) ?? "";
  // fetch refuses other header values; say what is wrong instead of "the service could not be reached"
  if (!/^[\x21-\x7e]+$/.test(key)) {
    throw new ApiError(401, "", "an API key has only printable ASCII characters, without spaces");
  }
  const headers = { Accept: "application/json", Authorization: `Bearer ${key}` };
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(new URL(`api/v1/${path}`, document.baseURI), {
      ...init,
      headers,
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch (err) {
    throw new ApiError(0, "NETWORK", `the service could not be reached (${err.message})`);
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const error = body?.error ?? {};
    throw new ApiError(res.status, error.code ?? `HTTP_${res.status}`, error.message ?? res.statusText);
  }
  return body;
}

// ---- formatting -------------------------------------------------------------------------------------------

function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return h("time", { title: iso }, date.toLocaleString());
}

function badge(ok, yes, no) {
  return h("span", { class: ok ? "badge ok" : "badge bad" }, ok ? yes : no);
}

/** A flag (true/false, or a 0/1 gauge) as a yes/no badge. */
function yesNo(value) {
  if (value === 0 || value === 1) return badge(value === 1, "yes", "no");
  return typeof value === "boolean" ? badge(value, "yes", "no") : String(value ?? "—");
}

function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

function errorText(err) {
  if (err instanceof ApiError && err.code) return `${err.message} (${err.code})`;
  return String(err?.message ?? err);
}

/** Renders `rows` into `table`: a header of the visible columns, then one row per item, or one `empty` row. */
function renderTable(table, columns, rows, empty) {
  const visible = columns.filter((c) => c.when !== false);
  const head = h(
    "thead",
    null,
    h(
      "tr",
      null,
      visible.map((c) => h("th", null, c.label)),
    ),
  );
  const body = h(
    "tbody",
    null,
    rows.length === 0
      ? h("tr", null, h("td", { colSpan: visible.length, class: "muted" }, empty))
      : rows.map((row) =>
          h(
            "tr",
            null,
            visible.map((c) => h("td", { class: c.class }, c.cell(row))),
          ),
        ),
  );
  table.replaceChildren(head, body);
}

function renderFigures(dl, pairs) {
  dl.replaceChildren(
    ...pairs.map(([label, value]) => h("div", null, h("dt", null, label), h("dd", null, value))),
  );
}

// ---- the dashboard ----------------------------------------------------------------------------------------

let me = null;
/** Bumped on sign-in and sign-out, so a refresh loop of an earlier session stops. */
let session = 0;

function render(status, sync, sources) {
  const admin = me?.role === "admin";
  const user = { label: "User", cell: (r) => r.user_id, when: admin };
  const service = status.service ?? {};
  const store = status.store ?? {};

  renderFigures($("overview"), [
    ["Documents", status.documents],
    ["Chunks", status.chunks],
    ["Pending items", status.pending],
    ["Failed items", status.failed],
    ["Embedder", status.embedder],
    [
      "Store",
      h("span", null, badge(store.state === "ok", store.state, store.state), " ", store.detail ?? ""),
    ],
    ["Service started", time(service.started_at)],
    ["Monitoring", service.monitoring ? "on" : "off"],
  ]);
  const m = status.metrics ?? {};
  renderFigures($("metrics"), [
    ["pending_syncs", m.pending_syncs],
    ["failed_syncs", m.failed_syncs],
    ["local_db_available", yesNo(m.local_db_available)],
    ["s3_sync_available", yesNo(m.s3_sync_available)],
    ["sources_monitored", m.sources_monitored],
  ]);
  const last = status.last_run;
  $("last-run").replaceChildren(
    ...(last
      ? [
          `Last run #${last.run_id} of ${admin ? `${last.user_id}/` : ""}${last.source}: ${last.status}, started `,
          time(last.started_at),
          last.error ? ` — ${last.error}` : "",
        ]
      : ["No run yet."]),
  );

  const monitors = new Map(
    (status.monitors ?? []).map((mon) => [`${mon.user_id}\u0000${mon.source_id}`, mon]),
  );
  renderTable(
    $("sources"),
    [
      user,
      { label: "Source", cell: (s) => s.source_id },
      { label: "Type", cell: (s) => s.type },
      { label: "Enabled", cell: (s) => yesNo(s.enabled) },
      {
        label: "Health",
        cell: (s) => [
          badge(s.healthy, "healthy", "unhealthy"),
          s.last_error ? h("div", { class: "error" }, s.last_error) : null,
        ],
      },
      { label: "Last run", cell: (s) => time(s.last_run_at) },
      { label: "Poll", cell: (s) => `every ${s.poll_interval} s` },
      {
        label: "Monitor",
        cell: (s) => monitorCell(monitors.get(`${s.user_id}\u0000${s.source_id}`), service.monitoring),
      },
    ],
    sources.sources ?? [],
    "No sources yet.",
  );

  renderTable(
    $("running"),
    [
      user,
      { label: "Source", cell: (r) => `${r.source_id} (${r.source_type})` },
      { label: "Kind", cell: (r) => r.kind },
      { label: "Started", cell: (r) => time(r.started_at) },
      { label: "Progress", class: "progress", cell: progressCell },
    ],
    sync.running ?? [],
    "Nothing is running.",
  );
  renderTable(
    $("queued"),
    [
      user,
      { label: "Source", cell: (r) => `${r.source_id} (${r.source_type})` },
      { label: "Kind", cell: (r) => (r.keys === null ? r.kind : `${r.kind}: ${plural(r.keys, "key")}`) },
      { label: "Queued", cell: (r) => time(r.queued_at) },
    ],
    sync.queued ?? [],
    "Nothing is queued.",
  );
  renderTable(
    $("recent"),
    [
      user,
      { label: "Source", cell: (j) => j.source_id },
      { label: "Kind", cell: (j) => `${j.kind} (${j.reason})` },
      { label: "State", cell: (j) => badge(j.state === "succeeded", j.state, j.state) },
      { label: "Finished", cell: (j) => time(j.finished_at) },
      { label: "Outcome", cell: outcomeCell },
    ],
    sync.recent ?? [],
    "No jobs since the service started.",
  );
  renderTable(
    $("failures"),
    [
      user,
      { label: "Source", cell: (f) => f.source },
      { label: "Item", class: "key", cell: (f) => f.key },
      { label: "Code", cell: (f) => f.code },
      { label: "Error", class: "error", cell: (f) => f.error },
      { label: "Attempts", cell: (f) => f.attempts },
    ],
    status.failures ?? [],
    "No failed items.",
  );

  if (admin) renderSearchUsers(sources.sources ?? []);

  const tables = status.tables ?? [];
  $("tables-section").hidden = !admin;
  renderTable(
    $("tables"),
    [
      { label: "Table", cell: (t) => t.name },
      { label: "Rows", cell: (t) => t.rows },
      { label: "Version", cell: (t) => t.version },
      { label: "Versions", cell: (t) => t.versions },
      { label: "Fragments", cell: (t) => t.fragments },
      { label: "Small fragments", cell: (t) => t.smallFragments },
    ],
    tables,
    "No tables yet.",
  );
}

function monitorCell(mon, monitoring) {
  if (!monitoring) return h("span", { class: "muted" }, "monitoring off");
  if (!mon) return h("span", { class: "muted" }, "not monitored");
  if (!mon.enabled) return h("span", { class: "muted" }, "disabled");
  return h(
    "span",
    null,
    mon.watching ? "watching" : "polling",
    mon.next_poll_at ? [", next poll ", time(mon.next_poll_at)] : null,
    mon.last_event_at ? [", last event ", time(mon.last_event_at)] : null,
    mon.watch_error ? h("div", { class: "error" }, `watch: ${mon.watch_error}`) : null,
  );
}

function progressCell(run) {
  if (!run.total) return [h("progress", null), " listing…"];
  return [h("progress", { max: run.total, value: run.done }), ` ${run.done} / ${run.total}`];
}

function outcomeCell(job) {
  if (job.error) return h("span", { class: "error" }, `${job.error.code}: ${job.error.message}`);
  const r = job.result;
  if (!r) return "";
  const parts = ["added", "updated", "moved", "deleted", "unchanged", "failed"]
    .filter((k) => r[k] > 0)
    .map((k) => `${r[k]} ${k}`);
  return parts.length > 0 ? parts.join(", ") : "no changes";
}

async function refresh(mine) {
  if (mine !== session) return;
  // A tab in the background asks nothing; it catches up within REFRESH_MS of being shown again.
  if (document.hidden) {
    setTimeout(() => refresh(mine), REFRESH_MS);
    return;
  }
  try {
    const [status, sync, sources] = await Promise.all([api("status"), api("sync/status"), api("sources")]);
    if (mine !== session) return;
    render(status, sync, sources);
    $("load-error").hidden = true;
    $("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
    $("updated").hidden = false;
  } catch (err) {
    if (mine !== session) return;
    if (err instanceof ApiError && err.status === 401) {
      signOut(`The API key is no longer accepted: ${errorText(err)}`);
      return;
    }
    $("load-error").textContent =
      `Could not refresh (retrying every ${REFRESH_MS / 1000} s): ${errorText(err)}`;
    $("load-error").hidden = false;
  }
  setTimeout(() => refresh(mine), REFRESH_MS);
}

async function signIn() {
  const mine = ++session;
  try {
    me = await api("me");
  } catch (err) {
    if (mine !== session) return;
    const why =
      err instanceof ApiError && err.status === 401
        ? `That API key was not accepted. Check it and try again. (${errorText(err)})`
        : `Could not sign in: ${errorText(err)}`;
    signOut(why);
    return;
  }
  if (mine !== session) return;
  $("whoami").replaceChildren(
    me.role === "admin" ? "Signed in as admin (all users)" : `Signed in as user ${me.user_id}`,
  );
  $("whoami").hidden = false;
  $("sign-out").hidden = false;
  $("sign-in").hidden = true;
  $("dashboard").hidden = false;
  await refresh(mine);
}

function signOut(message) {
  session++;
  me = null;
  sessionStorage.removeItem(KEY_STORAGE);
  $("dashboard").hidden = true;
  $("whoami").hidden = true;
  $("updated").hidden = true;
  $("sign-out").hidden = true;
  $("search-hits").replaceChildren();
  $("search-message").hidden = true;
  $("search-user").replaceChildren();
  $("search-user").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-message").textContent = message ?? "";
  $("sign-in-message").hidden = !message;
  $("key-input").value = "";
  $("key-input").focus();
}

// ---- search -----------------------------------------------------------------------------------------------

/** An admin searches one user's documents at a time: the users that have sources, the choice kept. */
function renderSearchUsers(sources) {
  const select = $("search-user");
  const users = [...new Set(sources.map((s) => s.user_id))].sort();
  const chosen = select.value;
  const current = [...select.options].map((o) => o.value);
  if (current.join("\u0000") !== users.join("\u0000")) {
    select.replaceChildren(...users.map((u) => h("option", { value: u }, u)));
    if (users.includes(chosen)) select.value = chosen;
  }
  select.hidden = false;
}

function hitNode(hit) {
  const text = String(hit.text ?? "")
    .replace(/\s+/g, " ")
    .trim();
  const snippet = text.length > SNIPPET_CHARS ? `${text.slice(0, SNIPPET_CHARS)}…` : text;
  return h(
    "li",
    { class: "hit" },
    h("div", { class: "hit-title" }, safeLink(hit.url, hit.title || hit.item_key)),
    h(
      "div",
      { class: "muted" },
      `${hit.source_id} · `,
      h("span", { class: "key" }, hit.item_key),
      ` · score ${Number(hit.score).toFixed(3)}`,
    ),
    h("p", { class: "snippet" }, snippet),
  );
}

/** A link only for http(s) URLs (a `javascript:` URL must never become clickable); plain text otherwise. */
function safeLink(url, label) {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "http:" || parsed.protocol === "https:")
      return h("a", { href: parsed.href }, label);
  } catch {
    // not a URL: show the label alone
  }
  return label;
}

async function search(event) {
  event.preventDefault();
  const query = $("search-query").value.trim();
  const mode = $("search-mode").value;
  const message = $("search-message");
  const list = $("search-hits");
  if (query === "") return;
  message.textContent = "Searching…";
  message.hidden = false;
  const mine = session;
  try {
    const body = { query, mode, limit: 10 };
    if (me?.role === "admin") {
      if (!$("search-user").value) throw new Error("no user has documents yet");
      body.user_id = $("search-user").value;
    }
    const { hits } = await api("search", { method: "POST", body: JSON.stringify(body) });
    if (mine !== session) return;
    list.replaceChildren(...hits.map(hitNode));
    message.textContent = hits.length === 0 ? "No hits." : plural(hits.length, "hit");
  } catch (err) {
    if (mine !== session) return;
    if (err instanceof ApiError && err.status === 401)
      return signOut(`The API key is no longer accepted: ${errorText(err)}`);
    list.replaceChildren();
    message.textContent = `Search failed: ${errorText(err)}`;
  }
}

// ---- wiring -----------------------------------------------------------------------------------------------

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (key === "") return;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("key-input").value = "";
  $("sign-in-message").hidden = true;
  signIn();
});
$("sign-out").addEventListener("click", () => signOut("The key was forgotten."));
$("search-form").addEventListener("submit", search);
window.addEventListener("hashchange", () => {
  const before = sessionStorage.getItem(KEY_STORAGE);
  takeKeyFromFragment();
  const after = sessionStorage.getItem(KEY_STORAGE);
  if (after && after !== before) signIn();
});

if (sessionStorage.getItem(KEY_STORAGE)) signIn();
else signOut();
