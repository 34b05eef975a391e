import { existsSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { checkEnvironment } from "../../app/check-environment.js";
import { renderEnvTemplate } from "../../config/env-template.js";
import { loadConfig } from "../../config/load-config.js";
import { SyncError } from "../../errors/sync-error.js";
import { EXIT, printJson, runPlain, warnAboutConfig } from "../run-command.js";

/** `lancedb-sync setup [--generate-config]`: write a `.env` template and check the environment. */
export function registerSetupCommand(program: Command): void {
  program
    .command("setup")
    .description("check the environment; with --generate-config write a commented .env template first")
    .option("--generate-config", "write a .env template with every variable and its default", false)
    .option("--path <file>", "the .env file to check (and, with --generate-config, to write)", ".env")
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
        warnAboutConfig(opts.path);
        const found = existsSync(opts.path);
        const checks = await checkEnvironment(loadConfig({ envFile: opts.path }));
        const ok = checks.every((c) => c.ok);
        if (opts.json) printJson({ written, env_file: opts.path, env_file_found: found, ok, checks });
        else {
          if (written) {
            process.stdout.write(
              `wrote ${written}: every setting is listed with its default, commented out; uncomment what you change\n`,
            );
          } else {
            process.stdout.write(
              found
                ? `checked the settings of ${opts.path} (and the environment); nothing was written\n`
                : `${opts.path} does not exist: checked the defaults (and the environment); nothing was written — ` +
                    `add --generate-config to write a template there\n`,
            );
          }
          for (const c of checks) process.stdout.write(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}\n`);
        }
        return ok ? EXIT.OK : EXIT.FATAL;
      });
    });
}
