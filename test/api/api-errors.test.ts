import { readFileSync, writeFileSync } from "node:fs";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiApp } from "../../src/api/create-api-app.js";
import { toApiError } from "../../src/api/error-handler.js";
import { SyncError } from "../../src/errors/sync-error.js";
import { type ApiHarness, startApi } from "./api-harness.js";

let h: ApiHarness;

beforeAll(async () => {
  h = await startApi();
});
afterAll(async () => h.close());

describe("error mapping", () => {
  it("maps SyncErrors to their status, hides internals of anything else", () => {
    expect(toApiError(new SyncError("SYNC_E_SOURCE_BUSY", "busy now"))).toEqual({
      status: 409,
      body: { error: { code: "SYNC_E_SOURCE_BUSY", message: "busy now" } },
    });
    const internal = toApiError(new Error("ECONNRESET at /srv/secret/path.ts:12"));
    expect(internal.status).toBe(500);
    expect(internal.body.error.code).toBe("SYNC_E_INTERNAL");
    expect(internal.body.error.message).not.toContain("/srv");
    const wrapped = toApiError(new SyncError("SYNC_E_INTERNAL", "TypeError: x is undefined at foo.ts:3"));
    expect(wrapped.body.error.message).not.toContain("foo.ts");
  });

  it("a malformed keys file fails keyed routes closed (500 SYNC_E_CONFIG_INVALID), /health still answers", async () => {
    const file = h.system.config.api.keysFile;
    const good = readFileSync(file, "utf8");
    writeFileSync(file, "{ broken");
    try {
      const r = await h.call("u1", { method: "GET", url: "/api/v1/me" });
      expect(r.statusCode).toBe(500);
      expect(r.json().error.code).toBe("SYNC_E_CONFIG_INVALID");
      expect(r.json().error.message).toContain("API_KEYS_FILE");
      expect((await h.call("u1", { method: "GET", url: "/health" })).statusCode).toBe(200);
    } finally {
      writeFileSync(file, good);
    }
    expect((await h.call("u1", { method: "GET", url: "/api/v1/me" })).statusCode).toBe(200);
  });

  it("closing an app removes its listeners from the system's events", async () => {
    const before = h.system.events.listenerCount("run-finished");
    const app = await createApiApp({
      system: h.system,
      service: h.service,
      keys: h.keys,
      logger: pino({ level: "silent" }),
    });
    await app.ready();
    expect(h.system.events.listenerCount("run-finished")).toBe(before + 1);
    await app.close();
    expect(h.system.events.listenerCount("run-finished")).toBe(before);
  });
});
