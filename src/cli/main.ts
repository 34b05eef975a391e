#!/usr/bin/env node
import { Command, type CommanderError } from "commander";

// LanceDB's native log: hybrid queries print a deprecation warning we cannot avoid in 0.31.0.
process.env.LANCEDB_LOG ??= "error";
// `lancedb-sync search … | head`: a reader that stops reading ends the output, not with a stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

const program = new Command()
  .name("lancedb-sync")
  .description("Keep a LanceDB knowledge base in step with your documents.")
  .version("0.1.0")
  .configureOutput({ outputError: (text, write) => write(argumentErrorLine(text)) })
  .exitOverride((err) => {
    if (err.exitCode !== 0) reportArgumentError(err);
    process.exit(err.exitCode === 0 ? 0 : 1);
  });
/**
 * Each command's module, in the order `--help` lists them. A process loads only the module of the command it
 * runs (a command's module loads what its work needs: the API server, the AWS SDK, the parsers), so that a
 * short command starts in a fraction of the time; help, an unknown name or no command load them all.
 */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<(program: Command) => void>]> = [
  ["sync", async () => (await import("./commands/sync-command.js")).registerSyncCommand],
  ["sources", async () => (await import("./commands/sources-command.js")).registerSourcesCommand],
  ["ingest", async () => (await import("./commands/ingest-command.js")).registerIngestCommand],
  ["documents", async () => (await import("./commands/documents-command.js")).registerDocumentsCommand],
  ["status", async () => (await import("./commands/status-command.js")).registerStatusCommand],
  ["search", async () => (await import("./commands/search-command.js")).registerSearchCommand],
  ["demo", async () => (await import("./commands/demo-command.js")).registerDemoCommand],
  ["setup", async () => (await import("./commands/setup-command.js")).registerSetupCommand],
  ["compact", async () => (await import("./commands/compact-command.js")).registerCompactCommand],
  [
    "cleanup-failed",
    async () => (await import("./commands/cleanup-failed-command.js")).registerCleanupFailedCommand,
  ],
  ["reset", async () => (await import("./commands/reset-command.js")).registerResetCommand],
  ["unlock", async () => (await import("./commands/unlock-command.js")).registerUnlockCommand],
  ["keys", async () => (await import("./commands/keys-command.js")).registerKeysCommand],
  ["serve", async () => (await import("./commands/serve-command.js")).registerServeCommand],
  ["doctor", async () => (await import("./commands/doctor-command.js")).registerDoctorCommand],
  ["migrate", async () => (await import("./commands/migrate-command.js")).registerMigrateCommand],
  ["backup", async () => (await import("./commands/backup-command.js")).registerBackupCommand],
  ["restore", async () => (await import("./commands/restore-command.js")).registerRestoreCommand],
];
const named = process.argv.slice(2).find((arg) => !arg.startsWith("-"));
const only = COMMANDS.find(([name]) => name === named);
const version = process.argv.length === 3 && ["-V", "--version"].includes(process.argv[2] ?? "");
for (const [, load] of only ? [only] : version ? [] : COMMANDS) {
  (await load())(program);
}
await program.parseAsync(process.argv);

/** commander's `error: …` line in the CLI's own form: `lancedb-sync: SYNC_E_INVALID_ARGUMENT: …`. */
function argumentErrorLine(text: string): string {
  return `lancedb-sync: SYNC_E_INVALID_ARGUMENT: ${text.replace(/^error: /, "")}`;
}

/** With `--json` anywhere on the command line, an argument error is also `{"error":{…}}` on stdout. */
function reportArgumentError(err: CommanderError): void {
  if (!process.argv.slice(2).includes("--json")) return;
  const message = err.message.replace(/^error: /, "");
  process.stdout.write(`${JSON.stringify({ error: { code: "SYNC_E_INVALID_ARGUMENT", message } })}\n`);
}
