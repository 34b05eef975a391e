import { SyncError } from "../errors/sync-error.js";

/** Exit codes of a command stopped by a signal: 128 + the signal's number, as shells report it. */
export const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** The signal a command listens for while it works; see {@link listenForInterrupt}. */
export interface Interrupt {
  /** Aborted (reason: a `SYNC_E_INTERRUPTED` error) at the first SIGINT or SIGTERM. */
  signal: AbortSignal;
  /** The signal received, or undefined. */
  received(): keyof typeof SIGNAL_EXIT | undefined;
  /** Stops listening (the default handlers apply again). */
  dispose(): void;
}

/**
 * Turns the first SIGINT (Ctrl-C) or SIGTERM into an abort of {@link Interrupt.signal}, so that the work stops
 * cleanly and records what it did; a second signal exits at once with 130 or 143.
 */
export function listenForInterrupt(): Interrupt {
  const controller = new AbortController();
  let got: keyof typeof SIGNAL_EXIT | undefined;
  const on = (name: keyof typeof SIGNAL_EXIT) => () => {
    if (got !== undefined) process.exit(SIGNAL_EXIT[name]);
    got = name;
    controller.abort(
      new SyncError(
        "SYNC_E_INTERRUPTED",
        `interrupted by ${name}: stopping (a second ${name} exits at once)`,
      ),
    );
  };
  const handlers = { SIGINT: on("SIGINT"), SIGTERM: on("SIGTERM") };
  process.on("SIGINT", handlers.SIGINT);
  process.on("SIGTERM", handlers.SIGTERM);
  return {
    signal: controller.signal,
    received: () => got,
    dispose() {
      process.off("SIGINT", handlers.SIGINT);
      process.off("SIGTERM", handlers.SIGTERM);
    },
  };
}
