import cliProgress from "cli-progress";

/** A progress bar on stderr when it is a terminal; a no-op otherwise. */
export interface Progress {
  update: (p: { done: number; total: number }) => void;
  stop: () => void;
}

/** Creates a {@link Progress} labelled `label`. */
export function createProgress(label: string): Progress {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  let bar: cliProgress.SingleBar | undefined;
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
