import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkQueue } from "../../src/service/service-types.js";
import { type EmbeddingsServer, startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { type ApiHarness, startApi } from "./api-harness.js";

/**
 * The status page in real headless Chromium against a real system and API app on 127.0.0.1: sign-in, the
 * figures, search, hostile file names shown as text, the key never in a URL, and the admin's view of all users.
 */

/** A file name that would run script if the page ever put it into the DOM as markup. */
const HOSTILE_MD = "<img src=x onerror=alert(1)>.md";
/** The same, for an item that fails (a PDF that is not one), so it reaches the failed-items table. */
const HOSTILE_PDF = "<img src=x onerror=alert(2)>.pdf";

/** Where the screenshots go; kept after the run (its path is printed) so a person can look at them. */
let shots: string;
let api: ApiHarness;
let queue: WorkQueue;
let notesDir: string;
let embeddings: EmbeddingsServer;
/** While set, the embeddings server holds requests for the "slow" source's texts until it settles. */
let hold: Promise<void> | undefined;
let releaseHold = () => {};
let browser: Browser;
let base: string;
let userKey: string;
let adminKey: string;

beforeAll(async () => {
  shots = makeTempDir("status-page-").path;
  embeddings = await startEmbeddingsServer({
    dimensions: 16,
    behaviour: async (request) => {
      if (JSON.stringify(request.body).includes("of three")) await hold;
      return "default" as const;
    },
  });
  api = await startApi({
    embeddingProvider: "openai",
    embeddingBaseUrl: embeddings.url,
    embeddingDimensions: 16,
  });
  const { system } = api;
  queue = api.service.queue;
  userKey = api.key.u1;
  adminKey = api.key.admin;
  notesDir = api.folder("notes", {
    "lighthouse.md": "# Lighthouse keeping\n\nThe keeper trims the wick of the lamp every evening at dusk.",
    [HOSTILE_MD]: "Plain notes about a zebra crossing near the harbour.",
    [HOSTILE_PDF]: "this is not a PDF at all",
  });
  const sources = {
    notes: ["u1", notesDir],
    orchard: ["u2", api.folder("orchard", { "orchard.md": "# Orchard\n\nApples ripen in late September." })],
    slow: [
      "u2",
      api.folder("slow", {
        "one.md": "# One\n\nFirst of three.",
        "two.md": "# Two\n\nSecond of three.",
        "three.md": "# Three\n\nThird of three.",
      }),
    ],
  } as const;
  for (const [sourceId, [userId, dir]] of Object.entries(sources)) {
    await system.sources.add({ userId, sourceId, type: "local_filesystem", config: { watch_paths: [dir] } });
    if (sourceId === "slow") continue; // synced by the admin test, held in progress
    const ticket = await queue.enqueue({ kind: "full", userId, sourceId, reason: "api" });
    await queue.wait(ticket.job_id);
  }

  await api.app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}/`;

  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  releaseHold(); // a failed test must not leave a run held until the shutdown deadline
  await browser?.close();
  await api?.close();
  await embeddings?.close();
});

/** A fresh context's page that records every request URL, dialog and uncaught page error. */
async function openPage(): Promise<{ page: Page; urls: string[]; dialogs: string[]; errors: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const urls: string[] = [];
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on("request", (r) => urls.push(r.url()));
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return { page, urls, dialogs, errors };
}

/** The figures of a `<dl class="figures">`, label → text. */
function figures(page: Page, id: string): Promise<Record<string, string>> {
  return page.$$eval(`#${id} > div`, (divs) =>
    Object.fromEntries(
      divs.map((d) => [d.querySelector("dt")?.textContent ?? "", d.querySelector("dd")?.textContent ?? ""]),
    ),
  );
}

/** The cell texts of a table's body rows. */
function rows(page: Page, id: string): Promise<string[][]> {
  return page.$$eval(`#${id} tbody tr`, (trs) =>
    trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
  );
}

describe("status page in headless Chromium", () => {
  it("a user signs in, sees their figures, searches, and hostile names stay text; the key is in no URL", async () => {
    const { page, urls, dialogs, errors } = await openPage();
    const response = await page.goto(base);
    expect(response?.headers()["content-security-policy"]).toContain("default-src 'self'");
    expect(response?.headers()["cache-control"]).toBe("no-cache");

    await page.fill("#key-input", "not-a-real-key");
    await page.click("#key-form button[type=submit]");
    await page.locator("#sign-in-message").waitFor({ state: "visible" });
    expect(await page.textContent("#sign-in-message")).toContain("not accepted");
    expect(await page.isVisible("#key-form")).toBe(true);

    await page.fill("#key-input", userKey);
    await page.click("#key-form button[type=submit]");
    await page.locator("#overview dt").first().waitFor();
    expect(await page.textContent("#whoami")).toBe("Signed in as user u1");
    const overview = await figures(page, "overview");
    expect(overview).toMatchObject({ Documents: "2", "Failed items": "1" });
    expect(Number(overview.Chunks)).toBeGreaterThanOrEqual(2);
    expect(await figures(page, "metrics")).toMatchObject({
      local_db_available: "yes",
      s3_sync_available: "no",
    });
    expect(Object.keys(await figures(page, "metrics"))).toEqual([
      "pending_syncs",
      "failed_syncs",
      "local_db_available",
      "s3_sync_available",
      "sources_monitored",
    ]);
    const sources = await rows(page, "sources");
    expect(sources).toHaveLength(1);
    expect(sources[0]?.slice(0, 4)).toEqual(["notes", "local_filesystem", "yes", "healthy"]);
    const recent = await rows(page, "recent");
    expect(recent[0]?.[2]).toBe("succeeded");
    expect(await page.isVisible("#tables-section")).toBe(false);

    // The failed PDF: its hostile name is a text cell, not an element.
    const failures = await rows(page, "failures");
    expect(failures.map((r) => r[1])).toEqual([join(notesDir, HOSTILE_PDF)]);

    await page.fill("#search-query", "keeper trims the wick");
    await page.click("#search-form button[type=submit]");
    await page.locator("#search-hits li").first().waitFor();
    const first = page.locator("#search-hits li").first();
    expect(await first.locator(".hit-title").textContent()).toBe("Lighthouse keeping");
    expect(await first.textContent()).toContain("trims the wick");

    await page.fill("#search-query", "zebra crossing");
    await page.selectOption("#search-mode", "vector");
    await page.click("#search-form button[type=submit]");
    await expect
      .poll(() => page.locator("#search-hits li .key").first().textContent(), { timeout: 10_000 })
      .toBe(join(notesDir, HOSTILE_MD));
    expect(await page.locator("#search-hits .hit-title").first().textContent()).toBe(HOSTILE_MD);

    expect(await page.locator("img").count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    expect(urls.length).toBeGreaterThan(3);
    expect(urls.filter((u) => u.includes(userKey))).toEqual([]);
    expect(api.logs.filter((line) => line.includes(userKey))).toEqual([]);
    const shot = join(shots, "status-page-user.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`status page (user) screenshot: ${shot}`);
    await page.context().close();
  });

  it("an admin key from the URL fragment is taken out of the address bar; the admin sees every user", async () => {
    const { page, urls, dialogs, errors } = await openPage();
    await page.goto(`${base}#key=${encodeURIComponent(adminKey)}`);
    await page.locator("#overview dt").first().waitFor();
    expect(page.url()).toBe(base);
    expect(await page.textContent("#whoami")).toBe("Signed in as admin (all users)");
    const sources = await rows(page, "sources");
    expect(sources.map((r) => [r[0], r[1]])).toEqual([
      ["u1", "notes"],
      ["u2", "orchard"],
      ["u2", "slow"],
    ]);
    expect(await page.isVisible("#tables-section")).toBe(true);
    expect((await rows(page, "tables")).length).toBeGreaterThanOrEqual(2);
    expect((await rows(page, "failures")).map((r) => r.slice(0, 3))).toEqual([
      ["u1", "notes", join(notesDir, HOSTILE_PDF)],
    ]);

    // An admin searches one user's documents at a time.
    expect(await page.isVisible("#search-user")).toBe(true);
    await page.selectOption("#search-user", "u2");
    await page.fill("#search-query", "apples ripen");
    await page.click("#search-form button[type=submit]");
    await page.locator("#search-hits li").first().waitFor();
    expect(await page.locator("#search-hits .hit-title").first().textContent()).toBe("Orchard");

    // A run held in its embedding step shows a progress bar; a second request for the source is queued.
    hold = new Promise<void>((resolve) => {
      releaseHold = resolve;
    });
    const running = await queue.enqueue({ kind: "full", userId: "u2", sourceId: "slow", reason: "api" });
    const queued = await queue.enqueue({ kind: "full", userId: "u2", sourceId: "slow", reason: "poll" });
    await expect.poll(() => queue.activity("u2").running[0]?.total, { timeout: 10_000 }).toBe(3);
    await page.locator("#running tbody progress").waitFor();
    expect(await page.getAttribute("#running tbody progress", "max")).toBe("3");
    expect((await rows(page, "running"))[0]?.slice(0, 3)).toEqual(["u2", "slow (local_filesystem)", "full"]);
    expect((await rows(page, "running"))[0]?.[4]).toMatch(/^ \d \/ 3$/);
    await expect
      .poll(async () => (await rows(page, "queued"))[0]?.slice(0, 2))
      .toEqual(["u2", "slow (local_filesystem)"]);
    const shot = join(shots, "status-page-admin.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`status page (admin) screenshot: ${shot}`);
    releaseHold();
    hold = undefined;
    await queue.wait(running.job_id);
    await queue.wait(queued.job_id);
    // The page refreshes by itself (every 2 s): the runs are gone from it.
    await expect
      .poll(async () => rows(page, "running"), { timeout: 10_000 })
      .toEqual([["Nothing is running."]]);
    expect(await rows(page, "queued")).toEqual([["Nothing is queued."]]);
    expect(await page.locator("img").count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    // The fragment is never sent: no request, not even the page's own, carries the key.
    expect(urls.filter((u) => u.includes(adminKey))).toEqual([]);
    await page.context().close();
  });
});

describe("statusPagePlugin", () => {
  it("serves the page and its assets without a key, with a strict CSP, no-cache and ETags; unknown files are 404", async () => {
    const page = await api.app.inject({ method: "GET", url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(page.headers["content-security-policy"]).not.toContain("unsafe-inline");
    expect(page.body).toContain('<script type="module" src="status-page/status-page.js">');

    const script = await api.app.inject({ method: "GET", url: "/status-page/status-page.js" });
    expect(script.statusCode).toBe(200);
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.headers["cache-control"]).toBe("no-cache");
    expect(script.body).not.toContain("innerHTML");
    const etag = String(script.headers.etag);
    const again = await api.app.inject({
      method: "GET",
      url: "/status-page/status-page.js",
      headers: { "if-none-match": etag },
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe("");

    const css = await api.app.inject({ method: "GET", url: "/status-page/status-page.css" });
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    for (const url of ["/status-page/nope.js", "/status-page/..%2Fpackage.json", "/status-page/"]) {
      const missing = await api.app.inject({ method: "GET", url });
      expect(missing.statusCode, url).toBe(404);
    }
  });
});
