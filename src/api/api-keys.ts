import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { describeError, isSyncError, SyncError } from "../errors/sync-error.js";
import { validateId } from "../storage/filter.js";

/** Who a request acts as: one user (sees only that user's data) or an administrator (sees all). */
export type Principal =
  | { kind: "user"; userId: string; keyHash: string }
  | { kind: "admin"; keyHash: string };

/** One entry of the keys file, as stored (operators may write entries by hand: only `key_hash` and a role). */
export interface ApiKeyEntry {
  /** sha256 of the key, lowercase hex. The key itself is never stored. */
  key_hash: string;
  user_id?: string;
  role?: "admin";
  /** Short id for `list`/`revoke`; default: the first 12 hex digits of the hash. */
  id?: string;
  created_at?: string;
  label?: string;
}

/** A key as {@link ApiKeyStore.list} shows it: never the key, never the full hash. */
export interface ApiKeyView {
  id: string;
  role: "user" | "admin";
  user_id: string | null;
  created_at: string | null;
  label: string | null;
}

/** What {@link ApiKeyStore.create} returns: the view plus the plaintext key, shown this once. */
export interface CreatedApiKey extends ApiKeyView {
  key: string;
}

const ENTRY = z
  .strictObject({
    key_hash: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "key_hash must be 64 hex digits (sha256 of the key)")
      .transform((h) => h.toLowerCase()),
    user_id: z.string().optional(),
    role: z.literal("admin").optional(),
    id: z.string().min(1).max(64).optional(),
    created_at: z.string().optional(),
    label: z.string().max(200).optional(),
  })
  .refine((e) => (e.user_id === undefined) !== (e.role === undefined), {
    message: 'each entry needs exactly one of user_id or role: "admin"',
  });

const FILE = z.array(ENTRY);

/** Prefix of every key this store makes (keys written by hand may have any form). */
export const API_KEY_PREFIX = "lsk_";

/** sha256 hex of a key: what the file stores and what rate limits are counted by. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/**
 * API keys over a JSON file (`API_KEYS_FILE`): a list of `{ key_hash, user_id }` or `{ key_hash, role:
 * "admin" }` entries (optionally `id`, `created_at`, `label`). Only hashes are stored; the file is written
 * atomically (temp file + rename) with mode 0600, and re-read whenever it changed on disk (its mtime, size or
 * inode), so a hand edit or a `keys revoke` from the CLI takes effect on the next request. A missing file
 * holds no keys. A malformed one is `SYNC_E_CONFIG_INVALID` naming API_KEYS_FILE and the problem, on every
 * call until it is fixed (the store fails closed: a revoked key must not stay valid because of a typo).
 * Not in the contract: locking between processes (two writers at the same moment may lose one's change).
 */
export class ApiKeyStore {
  private entries: ApiKeyEntry[] = [];
  private byHash = new Map<string, ApiKeyEntry>();
  private stamp: string | undefined;
  private loading: Promise<void> | undefined;

  constructor(readonly file: string) {}

  /** The principal of a presented key, or undefined when it is unknown (or empty). */
  async verify(key: string): Promise<Principal | undefined> {
    if (typeof key !== "string" || key === "") return undefined;
    await this.refresh();
    const keyHash = hashApiKey(key);
    const entry = this.byHash.get(keyHash);
    if (!entry) return undefined;
    return entry.role === "admin"
      ? { kind: "admin", keyHash }
      : { kind: "user", userId: entry.user_id as string, keyHash };
  }

  /** Every key: id, role, user, creation time and label; never keys or full hashes. */
  async list(): Promise<ApiKeyView[]> {
    await this.refresh();
    return this.entries.map(view);
  }

  /** True when the file holds no key (or does not exist). */
  async isEmpty(): Promise<boolean> {
    await this.refresh();
    return this.entries.length === 0;
  }

  /**
   * Makes a key for a user (`{ userId }`, checked like every user id) or an administrator (`{ admin: true }`),
   * stores its hash and returns the plaintext key: it cannot be shown again.
   */
  async create(owner: { userId: string } | { admin: true }, label?: string): Promise<CreatedApiKey> {
    const userId = "userId" in owner ? validateId("user id", owner.userId) : undefined;
    if (label !== undefined && (typeof label !== "string" || label.length > 200)) {
      throw new SyncError("SYNC_E_INVALID_ARGUMENT", "label: expected a string of at most 200 characters");
    }
    await this.refresh(true);
    const key = `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
    const keyHash = hashApiKey(key);
    const entry: ApiKeyEntry = {
      id: keyHash.slice(0, 12),
      key_hash: keyHash,
      ...(userId !== undefined ? { user_id: userId } : { role: "admin" as const }),
      created_at: new Date().toISOString(),
      ...(label !== undefined ? { label } : {}),
    };
    await this.save([...this.entries, entry]);
    return { ...view(entry), key };
  }

  /** Removes the key with this id (as `list` shows it); `SYNC_E_NOT_FOUND` when there is none. */
  async revoke(id: string): Promise<ApiKeyView> {
    await this.refresh(true);
    const found = this.entries.find((e) => idOf(e) === id);
    if (!found) throw new SyncError("SYNC_E_NOT_FOUND", `no API key has the id ${JSON.stringify(id)}`);
    await this.save(this.entries.filter((e) => e !== found));
    return view(found);
  }

  /**
   * For a first start: when the file holds no administrator key, creates one and returns the plaintext key
   * (to be shown once); undefined when one exists.
   */
  async ensureAdminKey(): Promise<string | undefined> {
    await this.refresh(true);
    if (this.entries.some((e) => e.role === "admin")) return undefined;
    return (await this.create({ admin: true }, "created on first start")).key;
  }

  /** Re-reads the file when it changed on disk (always, with `force`). */
  private async refresh(force = false): Promise<void> {
    // Concurrent requests share one read.
    while (this.loading) await this.loading;
    const stamp = await this.statStamp();
    if (!force && stamp === this.stamp) return;
    this.loading = this.load(stamp).finally(() => {
      this.loading = undefined;
    });
    await this.loading;
  }

  private async statStamp(): Promise<string> {
    try {
      const s = await stat(this.file);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
      throw this.invalid(`cannot read it: ${describeError(err)}`, err);
    }
  }

  private async load(stamp: string): Promise<void> {
    let entries: ApiKeyEntry[] = [];
    if (stamp !== "missing") {
      let text: string;
      try {
        text = await readFile(this.file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
          throw this.invalid(`cannot read it: ${describeError(err)}`, err);
        }
        text = "[]";
      }
      entries = this.parse(text);
    }
    this.set(entries);
    this.stamp = stamp;
  }

  private parse(text: string): ApiKeyEntry[] {
    let json: unknown;
    try {
      json = text.trim() === "" ? [] : JSON.parse(text);
    } catch (err) {
      throw this.invalid(`not valid JSON (${(err as Error).message})`, err);
    }
    const parsed = FILE.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `entry ${issue.path.join(".")}: ` : "";
      throw this.invalid(`${where}${issue?.message ?? "expected a list of key entries"}`);
    }
    const entries = parsed.data as ApiKeyEntry[];
    const seen = new Set<string>();
    entries.forEach((e, i) => {
      if (e.user_id !== undefined) {
        try {
          validateId("user id", e.user_id);
        } catch (err) {
          throw this.invalid(`entry ${i}: ${isSyncError(err) ? err.message : describeError(err)}`, err);
        }
      }
      if (seen.has(e.key_hash)) throw this.invalid(`entry ${i}: key_hash appears twice`);
      seen.add(e.key_hash);
    });
    return entries;
  }

  private set(entries: ApiKeyEntry[]): void {
    this.entries = entries;
    this.byHash = new Map(entries.map((e) => [e.key_hash, e]));
  }

  /** Writes the list atomically with mode 0600 and adopts it. */
  private async save(entries: ApiKeyEntry[]): Promise<void> {
    const dir = dirname(this.file);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${basename(this.file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    try {
      await writeFile(tmp, `${JSON.stringify(entries, null, 2)}\n`, { mode: 0o600, flag: "wx" });
      await chmod(tmp, 0o600);
      await rename(tmp, this.file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new SyncError(
        "SYNC_E_CONFIG_INVALID",
        `API_KEYS_FILE ${this.file}: cannot write it: ${describeError(err)}`,
        { cause: err },
      );
    }
    this.set(entries);
    this.stamp = await this.statStamp();
  }

  private invalid(problem: string, cause?: unknown): SyncError {
    return new SyncError("SYNC_E_CONFIG_INVALID", `API_KEYS_FILE ${this.file}: ${problem}`, { cause });
  }
}

function idOf(e: ApiKeyEntry): string {
  return e.id ?? e.key_hash.slice(0, 12);
}

function view(e: ApiKeyEntry): ApiKeyView {
  return {
    id: idOf(e),
    role: e.role === "admin" ? "admin" : "user",
    user_id: e.user_id ?? null,
    created_at: e.created_at ?? null,
    label: e.label ?? null,
  };
}
