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
  "authorization",
  "*.authorization",
  "headers.authorization",
  "token",
  "*.token",
];

/** A pino logger writing JSON lines to stderr (stdout stays free for `--json` output) and optionally a file. */
export function createLogger(options: LoggerOptions): pino.Logger {
  const streams: pino.StreamEntry[] = [{ stream: pino.destination({ fd: 2, sync: true }) }];
  if (options.file)
    streams.push({ stream: pino.destination({ dest: options.file, mkdir: true, sync: false }) });
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    },
    pino.multistream(streams),
  );
}
