import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddingsServer, startEmbeddingsServer } from "../helpers/embeddings-server.js";
import { runCli } from "../helpers/run-cli.js";
import { envFor, show, suiteTempDir } from "./support.js";

describe("an embedding server that accepts connections and never answers", () => {
  const tmp = suiteTempDir("lancedb-sync-deadline-");
  let server: EmbeddingsServer;

  beforeAll(async () => {
    tmp.create();
    server = await startEmbeddingsServer({ dimensions: 16, behaviour: () => "hang" });
    mkdirSync(join(tmp.path, "docs"));
    writeFileSync(join(tmp.path, "docs", "note.md"), "# Note\n\nThe harbour beacon flashes twice.\n");
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  it("fails the sync (exit 1) once EMBEDDING_DEADLINE_MS passes, naming both limits", async () => {
    const env = envFor(tmp.path, {
      EMBEDDING_PROVIDER: "openai",
      EMBEDDING_BASE_URL: server.url,
      EMBEDDING_DIMENSIONS: "16",
      EMBEDDING_TIMEOUT_MS: "1000",
      EMBEDDING_DEADLINE_MS: "1500",
    });
    const started = Date.now();
    const r = await runCli(["sync", join(tmp.path, "docs"), "--user", "alice", "--json"], {
      cwd: tmp.path,
      env,
    });
    const elapsed = Date.now() - started;
    expect(r.code, show(r)).toBe(1);
    expect(r.json.error.code).toBe("SYNC_E_EMBEDDING_FAILED");
    expect(r.json.error.message).toContain("1500 ms deadline");
    expect(r.json.error.message).toContain("1000 ms");
    expect(elapsed).toBeLessThan(5000);
    expect(server.requests.length).toBeGreaterThan(0);
  });
});
