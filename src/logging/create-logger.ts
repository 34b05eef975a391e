import { pino } from "pino";

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: string;
  /** Also append JSON lines to this file when non-empty. */
  file?: string;
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

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/**
 * A pino logger writing JSON lines to stderr (stdout stays free for `--json` output) and, when `file` is set,
 * appending them to that file. On a terminal, stderr only shows warnings and errors (people read the
 * command's own summary there); the file and a non-terminal stderr get everything at `level`, except lines
 * marked {@link FILE_ONLY}, which only the file gets.
 */
export function createLogger(options: LoggerOptions): pino.Logger {
  const level = options.level as pino.LevelWithSilent;
  const quiet = process.stderr.isTTY && LEVELS.indexOf(level) < LEVELS.indexOf("warn");
  const streams: pino.StreamEntry[] = [
    {
      level: (quiet ? "warn" : level) as pino.Level,
      stream: skipFileOnly(pino.destination({ fd: 2, sync: true })),
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
