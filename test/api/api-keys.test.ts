import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyStore, hashApiKey } from "../../src/api/api-keys.js";
import { isSyncError } from "../../src/errors/sync-error.js";
import { rejection } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";

let tmp: ReturnType<typeof makeTempDir>;
let file: string;

beforeEach(() => {
  tmp = makeTempDir("keys-");
  file = join(tmp.path, "state", "api-keys.json");
});
afterEach(() => tmp.cleanup());

describe("ApiKeyStore", () => {
  it("creates keys shown once, stores only their hashes (mode 0600), verifies, lists and revokes them", async () => {
    const store = new ApiKeyStore(file);
    expect(await store.isEmpty()).toBe(true);
    const user = await store.create({ userId: "auth0|abc" }, "laptop");
    const admin = await store.create({ admin: true });
    expect(user.key).toMatch(/^lsk_[A-Za-z0-9_-]{43}$/);
    expect(user).toMatchObject({ role: "user", user_id: "auth0|abc", label: "laptop" });
    expect(admin).toMatchObject({ role: "admin", user_id: null });

    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(user.key);
    expect(text).toContain(hashApiKey(user.key));
    expect(statSync(file).mode & 0o777).toBe(0o600);

    expect(await store.verify(user.key)).toEqual({
      kind: "user",
      userId: "auth0|abc",
      keyHash: hashApiKey(user.key),
    });
    expect(await store.verify(admin.key)).toMatchObject({ kind: "admin" });
    expect(await store.verify(`${user.key}x`)).toBeUndefined();
    expect(await store.verify("")).toBeUndefined();

    const listed = await store.list();
    expect(listed.map((k) => k.id)).toEqual([user.id, admin.id]);
    expect(user.id).toBe(hashApiKey(user.key).slice(0, 12));
    expect(JSON.stringify(listed)).not.toContain(hashApiKey(user.key));

    await store.revoke(user.id);
    expect(await store.verify(user.key)).toBeUndefined();
    const err = await rejection(store.revoke(user.id));
    expect(isSyncError(err, "SYNC_E_NOT_FOUND")).toBe(true);
    expect(await store.isEmpty()).toBe(false);
  });

  it("sees changes made on disk by another process or by hand without a restart", async () => {
    const server = new ApiKeyStore(file);
    const cli = new ApiKeyStore(file);
    const k = await cli.create({ userId: "u1" });
    expect(await server.verify(k.key)).toMatchObject({ userId: "u1" });
    await cli.revoke(k.id);
    expect(await server.verify(k.key)).toBeUndefined();

    // An operator writes an entry by hand: only the hash and a role.
    writeFileSync(file, JSON.stringify([{ key_hash: hashApiKey("my-own-key"), role: "admin" }]));
    expect(await server.verify("my-own-key")).toMatchObject({ kind: "admin" });
    expect((await server.list())[0]).toMatchObject({
      id: hashApiKey("my-own-key").slice(0, 12),
      role: "admin",
    });
  });

  it("refuses a malformed file with SYNC_E_CONFIG_INVALID naming API_KEYS_FILE and the problem", async () => {
    const store = new ApiKeyStore(file);
    await store.create({ userId: "u1" });
    const cases: Array<[string, RegExp]> = [
      ["{not json", /not valid JSON/],
      [JSON.stringify({ keys: [] }), /expected array/i],
      [JSON.stringify([{ key_hash: "abc", user_id: "u1" }]), /entry 0\.key_hash: key_hash must be 64 hex/],
      [JSON.stringify([{ key_hash: hashApiKey("a") }]), /exactly one of user_id or role/],
      [JSON.stringify([{ key_hash: hashApiKey("a"), user_id: "u1", colour: 1 }]), /entry 0/],
      [JSON.stringify([{ key_hash: hashApiKey("a"), user_id: "a/b" }]), /entry 0: user id/],
      [
        JSON.stringify([
          { key_hash: hashApiKey("a"), user_id: "u1" },
          { key_hash: hashApiKey("a"), role: "admin" },
        ]),
        /entry 1: key_hash appears twice/,
      ],
    ];
    for (const [text, problem] of cases) {
      writeFileSync(file, text);
      const err = await rejection(store.verify("anything"));
      expect(isSyncError(err, "SYNC_E_CONFIG_INVALID")).toBe(true);
      expect((err as Error).message).toContain(`API_KEYS_FILE ${file}`);
      expect((err as Error).message).toMatch(problem);
    }
  });

  it("ensureAdminKey creates an admin key only when there is none; user ids are validated", async () => {
    const store = new ApiKeyStore(file);
    await store.create({ userId: "u1" });
    const first = await store.ensureAdminKey();
    expect(first).toMatch(/^lsk_/);
    expect(await store.verify(first as string)).toMatchObject({ kind: "admin" });
    expect(await store.ensureAdminKey()).toBeUndefined();
    const err = await rejection(store.create({ userId: "../etc" }));
    expect(isSyncError(err, "SYNC_E_INVALID_ID")).toBe(true);
  });
});
