import type { AppContext } from "../../app/app-context.js";
import type { SourceRunResult } from "../../app/run-source.js";
import { syncFolders } from "../../app/sync-folders.js";
import { describeError, isSyncError, SyncError } from "../../errors/sync-error.js";
import type { Interrupt } from "../interrupt.js";
import { plural } from "../plural.js";
import { EXIT, printJson } from "../run-command.js";
import { markShown } from "../terminal.js";

/** Options of {@link syncAll}. */
export interface SyncAllOptions {
  /** Only this user's sources; all users' when absent. */
  userId?: string;
  allowMassDelete: boolean;
  json: boolean;
  interrupt: Interrupt;
}

/**
 * `sync --all`: one full run of every registered source (of every user, or of `--user`), one after the
 * other — what a re-index after `reset --yes` needs. A source that fails does not stop the others. Exit code:
 * 1 when a source could not be synced, else 3 when deletions were held, else 2 when items failed, else 0.
 */
export async function syncAll(ctx: AppContext, options: SyncAllOptions): Promise<number> {
  const sources = ctx.journal.listSources(options.userId);
  if (sources.length === 0) {
    throw new SyncError(
      "SYNC_E_NOT_FOUND",
      `no source is registered${options.userId ? ` for user ${options.userId}` : ""}: sync a folder first`,
    );
  }
  const runs: SourceRunResult[] = [];
  const errors: { user_id: string; source: string; code: string; message: string }[] = [];
  for (const s of sources) {
    options.interrupt.signal.throwIfAborted();
    try {
      const r = await syncFolders(ctx, {
        userId: s.userId,
        sourceName: s.name,
        allowMassDelete: options.allowMassDelete,
        signal: options.interrupt.signal,
      });
      runs.push(r);
      if (!options.json) {
        process.stdout.write(
          `${s.userId}/${s.name}: ${r.added} added, ${r.updated} updated, ${r.deleted} deleted, ` +
            `${r.unchanged} unchanged, ${r.failed} failed; embedded ${plural(r.embedded_chunks, "chunk")}\n`,
        );
        for (const f of r.failures) process.stdout.write(`  failed: ${f.error} [${f.code}]\n`);
        markShown(...r.failures.map((f) => f.error), ...r.warnings);
      }
    } catch (err) {
      if (options.interrupt.received()) throw err;
      const code = isSyncError(err) ? err.code : "SYNC_E_INTERNAL";
      errors.push({ user_id: s.userId, source: s.name, code, message: describeError(err) });
      markShown(describeError(err));
      if (!options.json) process.stdout.write(`${s.userId}/${s.name}: ${code}: ${describeError(err)}\n`);
    }
  }
  const exitCode =
    errors.length > 0
      ? EXIT.FATAL
      : runs.some((r) => r.held_deletions > 0)
        ? EXIT.DELETIONS_HELD
        : runs.some((r) => r.failed > 0)
          ? EXIT.ITEMS_FAILED
          : EXIT.OK;
  if (options.json) printJson({ runs, errors, exit_code: exitCode });
  else
    process.stdout.write(`synced ${plural(runs.length, "source")}, ${errors.length} could not be synced\n`);
  return exitCode;
}
