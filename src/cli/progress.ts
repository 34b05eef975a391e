import { createRequire } from "node:module";
import type cliProgressModule from "cli-progress";

/** A progress bar on stderr when it is a terminal; a no-op otherwise. */
export interface Progress {
  update: (p: { done: number; total: number }) => void;
  stop: () => void;
}

/** Creates a {@link Progress} labelled `label`. */
export function createProgress(label: string): Progress {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  // Loaded only for a terminal: a script's run does not pay for it.
  const cliProgress = createRequire(import.meta.url)("cli-progress") as typeof cliProgressModule;
  let bar: cliProgressModule.SingleBar | undefined;
  return {
    update({ done, total }) {
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `${label} [{bar}] {value}/{total} items | {eta_formatted} left`,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0);
      }
      bar.update(done);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
