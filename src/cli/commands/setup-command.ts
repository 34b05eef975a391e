import { existsSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { checkEnvironment } from "../../app/check-environment.js";
import { renderEnvTemplate } from "../../config/env-template.js";
import { loadConfig } from "../../config/load-config.js";
import { SyncError } from "../../errors/sync-error.js";
import { EXIT, printJson, runPlain } from "../run-command.js";

/** `lancedb-sync setup [--generate-config]`: write a `.env` template and check the environment. */
export function registerSetupCommand(program: Command): void {
  program
    .command("setup")
    .description("check the environment; with --generate-config write a commented .env template first")
    .option("--generate-config", "write a .env template with every variable and its default", false)
    .option("--path <file>", "where to write the template", ".env")
    .option("--force", "overwrite an existing file", false)
    .option("--json", "print one JSON object", false)
    .action(async (opts) => {
      await runPlain(opts.json, async () => {
        let written: string | null = null;
        if (opts.generateConfig) {
          if (existsSync(opts.path) && !opts.force) {
            throw new SyncError("SYNC_E_ALREADY_EXISTS", `${opts.path} exists; pass --force to overwrite it`);
          }
          writeFileSync(opts.path, renderEnvTemplate());
          written = opts.path;
        }
        const checks = await checkEnvironment(loadConfig({ envFile: opts.path }));
        const ok = checks.every((c) => c.ok);
        if (opts.json) printJson({ written, ok, checks });
        else {
          if (written) process.stdout.write(`wrote ${written}\n`);
          for (const c of checks) process.stdout.write(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}\n`);
        }
        return ok ? EXIT.OK : EXIT.FATAL;
      });
    });
}
