import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import type { Logger as PinoLogger } from "pino";
import { ApiKeyStore } from "../../api/api-keys.js";
import { createApiApp } from "../../api/create-api-app.js";
import { type SyncSystem, systemOn } from "../../app/sync-system.js";
import { isSyncError, SyncError } from "../../errors/sync-error.js";
import { createSyncService } from "../../service/sync-service.js";
import { EXIT, runCommand } from "../run-command.js";
import { SAMPLES_DIR } from "./demo-command.js";

/** `lancedb-sync serve`: the long-running service — schedules, watchers, the REST API and the status page. */
export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run the service: keep every source current, serve the REST API, /docs and the status page")
    .option("--host <address>", "address to listen on (default API_HOST, 127.0.0.1)")
    .option("--port <port>", "port to listen on (default API_PORT, 8000; 0: any free port)")
    .option("--demo", "also register the bundled samples for user 'demo' and keep a demo admin key", false)
    .action(async (opts) => {
      await runCommand(
        false,
        async (ctx) => {
          const { config, logger } = ctx;
          const host: string = opts.host ?? config.api.host;
          const port = parsePort(opts.port ?? String(config.api.port));
          const keys = new ApiKeyStore(config.api.keysFile);
          const noKeys = await keys.isEmpty();
          if (!isLoopback(host) && noKeys) {
            throw new SyncError(
              "SYNC_E_CONFIG_INVALID",
              `invalid configuration: API_HOST=${JSON.stringify(host)}: refusing to listen beyond loopback with no API ` +
                `keys in ${config.api.keysFile}: create one first (lancedb-sync keys create --admin) or listen on 127.0.0.1`,
            );
          }
          const system = systemOn(ctx);
          await system.start();
          if (opts.demo) await registerSamples(system);
          const shownKey = opts.demo
            ? await demoKey(keys, config.stateDbPath)
            : noKeys
              ? (await keys.create({ admin: true }, "created on first start")).key
              : undefined;
          const service = createSyncService({ system, logger });
          const https =
            config.api.tlsCertFile && config.api.tlsKeyFile
              ? { cert: readFileSync(config.api.tlsCertFile), key: readFileSync(config.api.tlsKeyFile) }
              : undefined;
          const app = await createApiApp({ system, service, keys, logger: logger as PinoLogger, https });
          const signal = shutdownSignal();
          let address: string;
          try {
            address = await app.listen({ host, port });
          } catch (err) {
            await app.close();
            throw new SyncError(
              "SYNC_E_CONFIG_INVALID",
              `cannot listen on ${host}:${port}: ${(err as Error).message}`,
              {
                cause: err,
              },
            );
          }
          await service.start();
          const base = address.replace("[::1]", "localhost");
          const lines = [
            `lancedb-sync service listening on ${base}`,
            `  status page  ${base}/`,
            `  API docs     ${base}/docs`,
            `  metrics      ${base}/metrics (admin key)`,
          ];
          if (shownKey) {
            lines.push(
              opts.demo
                ? `  demo admin key (kept in ${demoKeyFile(config.stateDbPath)}): ${shownKey}`
                : `  admin key (shown once; only its hash is stored in ${config.api.keysFile}): ${shownKey}`,
              `  open ${base}/#key=${shownKey}   (the key stays in the page, never in a request URL)`,
            );
          }
          lines.push(
            `monitoring ${config.enableSourceMonitoring ? "on" : "off"}; stop with Ctrl-C or SIGTERM`,
          );
          process.stdout.write(`${lines.join("\n")}\n`);
          const name = await signal;
          process.stdout.write(
            `${name}: stopping (runs in flight get up to ${config.shutdownTimeoutSeconds} s)\n`,
          );
          // A second signal, or a stop that overruns the deadline, ends the process at once.
          process.once("SIGINT", () => process.exit(130));
          process.once("SIGTERM", () => process.exit(143));
          setTimeout(
            () => {
              logger.error(
                { deadline: config.shutdownTimeoutSeconds },
                "stop overran SHUTDOWN_TIMEOUT; exiting",
              );
              process.exit(EXIT.FATAL);
            },
            (config.shutdownTimeoutSeconds + 10) * 1000,
          ).unref();
          // Requests still open at the deadline (a client trickling an upload in) are cut: app.close() waits for them.
          const cut = setTimeout(
            () => app.server.closeAllConnections(),
            config.shutdownTimeoutSeconds * 1000,
          );
          cut.unref();
          await service.stop();
          await Promise.all([app.close(), system.stop()]);
          clearTimeout(cut);
          process.stdout.write("stopped\n");
          return EXIT.OK;
        },
        { service: true },
      );
    });
}

/** Resolves with the first SIGINT or SIGTERM. */
function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(s);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65_535) {
    throw new SyncError(
      "SYNC_E_INVALID_ARGUMENT",
      `--port ${JSON.stringify(value)}: expected a port number 0..65535`,
    );
  }
  return Number(value);
}

/** Loopback addresses: the only ones `serve` listens on while no API key exists. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The bundled samples as source `samples` of user `demo` (what `lancedb-sync demo` syncs). */
async function registerSamples(system: SyncSystem): Promise<void> {
  try {
    await system.sources.get({ userId: "demo", sourceId: "samples" });
  } catch (err) {
    if (!isSyncError(err, "SYNC_E_NOT_FOUND")) throw err;
    await system.sources.add({
      userId: "demo",
      sourceId: "samples",
      type: "local_filesystem",
      config: { watch_paths: [SAMPLES_DIR] },
    });
  }
}

function demoKeyFile(stateDbPath: string): string {
  return join(dirname(stateDbPath), "demo-admin.key");
}

/**
 * The demo's admin key, kept in plain text beside the journal so that every `npm start` can print it (a demo
 * convenience: a real deployment keeps only hashes). A key that was revoked is replaced.
 */
async function demoKey(keys: ApiKeyStore, stateDbPath: string): Promise<string> {
  const file = demoKeyFile(stateDbPath);
  try {
    const kept = readFileSync(file, "utf8").trim();
    if ((await keys.verify(kept))?.kind === "admin") return kept;
  } catch {
    // none kept yet
  }
  const { key } = await keys.create({ admin: true }, "demo");
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}
