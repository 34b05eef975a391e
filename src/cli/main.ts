#!/usr/bin/env node
import { Command, type CommanderError } from "commander";
import { registerBackupCommand } from "./commands/backup-command.js";
import { registerCleanupFailedCommand } from "./commands/cleanup-failed-command.js";
import { registerCompactCommand } from "./commands/compact-command.js";
import { registerDemoCommand } from "./commands/demo-command.js";
import { registerDoctorCommand } from "./commands/doctor-command.js";
import { registerDocumentsCommand } from "./commands/documents-command.js";
import { registerIngestCommand } from "./commands/ingest-command.js";
import { registerKeysCommand } from "./commands/keys-command.js";
import { registerMigrateCommand } from "./commands/migrate-command.js";
import { registerResetCommand } from "./commands/reset-command.js";
import { registerRestoreCommand } from "./commands/restore-command.js";
import { registerSearchCommand } from "./commands/search-command.js";
import { registerServeCommand } from "./commands/serve-command.js";
import { registerSetupCommand } from "./commands/setup-command.js";
import { registerSourcesCommand } from "./commands/sources-command.js";
import { registerStatusCommand } from "./commands/status-command.js";
import { registerSyncCommand } from "./commands/sync-command.js";
import { registerUnlockCommand } from "./commands/unlock-command.js";

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
for (const register of [
  registerSyncCommand,
  registerSourcesCommand,
  registerIngestCommand,
  registerDocumentsCommand,
  registerStatusCommand,
  registerSearchCommand,
  registerDemoCommand,
  registerSetupCommand,
  registerCompactCommand,
  registerCleanupFailedCommand,
  registerResetCommand,
  registerUnlockCommand,
  registerKeysCommand,
  registerServeCommand,
  registerDoctorCommand,
  registerMigrateCommand,
  registerBackupCommand,
  registerRestoreCommand,
]) {
  register(program);
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
