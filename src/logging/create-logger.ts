import { pino } from "pino";

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: string;
  /** Also append JSON lines to this file when non-empty. */
  file?: string;
  /**
   * Where the console's lines go instead of stderr (e.g. a {@link WarningCollector} while a progress bar is
   * drawn). Lines marked {@link FILE_ONLY} never reach it.
   */
  console?: pino.DestinationStream;
  /**
   * Lowest level the console gets. Default: `level`, raised to `warn` when stderr is a terminal (people read
   * the command's own output there).
   */
  consoleLevel?: string;
}

/** Paths redacted from every log line: secrets never reach logs. */
export const REDACT_PATHS = [
  "apiKey",
  "*.apiKey",
  "*.*.apiKey",
  "secretAccessKey",
  "*.secretAccessKey",
  "*.*.secretAccessKey",
  "sessionToken",
  "*.sessionToken",
  "*.*.sessionToken",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "token",
  "*.token",
];

/**
 * Log lines with this field set to true go to the log file only, never to stderr: raw native error text
 * (LanceDB backtraces, cargo paths) that the terminal must not show.
 */
export const FILE_ONLY = "file_only";

/** pino's level names, lowest first. */
export const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** The higher (more quiet) of two level names. */
export function quieterLevel(a: string, b: string): string {
  const rank = (l: string) => LEVELS.indexOf(l as (typeof LEVELS)[number]);
  return rank(a) >= rank(b) ? a : b;
}

/**
 * A pino logger writing JSON lines to the console (stderr by default: stdout stays free for `--json`
 * output) and, when `file` is set, appending them to that file. The file gets everything at `level`; the
 * console gets lines at `consoleLevel` (see {@link LoggerOptions}) except those marked {@link FILE_ONLY}.
 */
export function createLogger(options: LoggerOptions): pino.Logger {
  const level = options.level as pino.LevelWithSilent;
  const consoleLevel = options.consoleLevel ?? (process.stderr.isTTY ? quieterLevel(level, "warn") : level);
  const streams: pino.StreamEntry[] = [
    {
      level: consoleLevel as pino.Level,
      stream: skipFileOnly(options.console ?? pino.destination({ fd: 2, sync: true })),
    },
  ];
  if (options.file) {
    const file = pino.destination({ dest: options.file, mkdir: true, sync: true });
    streams.push({ level: level as pino.Level, stream: file });
  }
  return pino(
    { level, base: { pid: process.pid }, redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    pino.multistream(streams),
  );
}

function skipFileOnly(dest: pino.DestinationStream): pino.DestinationStream {
  const marker = `"${FILE_ONLY}":true`;
  return {
    write(line: string) {
      if (!line.includes(marker)) dest.write(line);
    },
  };
}
