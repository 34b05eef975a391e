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
 * The commands, in the order `--help` lists them; each is `./commands/<name>-command.js`, exporting one
 * `register…Command(program)`. A process loads only the module of the command it runs (a command's module loads
 * what its work needs: the API server, the AWS SDK, the parsers), so that a short command starts in a fraction
 * of the time; help, an unknown name or no command load them all.
 */
const COMMANDS = [
  "sync",
  "sources",
  "ingest",
  "documents",
  "status",
  "search",
  "demo",
  "setup",
  "compact",
  "cleanup-failed",
  "reset",
  "unlock",
  "keys",
  "serve",
  "doctor",
  "migrate",
  "backup",
  "restore",
] as const;

/** The `register…Command` function of command `name`'s module. */
async function loadCommand(name: string): Promise<(program: Command) => void> {
  const module = (await import(`./commands/${name}-command.js`)) as Record<string, unknown>;
  const register = Object.entries(module).find(([key]) => /^register\w+Command$/.test(key))?.[1];
  if (typeof register !== "function") throw new Error(`commands/${name}-command.js registers no command`);
  return register as (program: Command) => void;
}

const named = process.argv.slice(2).find((arg) => !arg.startsWith("-"));
const only = COMMANDS.find((name) => name === named);
const version = process.argv.length === 3 && ["-V", "--version"].includes(process.argv[2] ?? "");
for (const name of only ? [only] : version ? [] : COMMANDS) {
  (await loadCommand(name))(program);
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
