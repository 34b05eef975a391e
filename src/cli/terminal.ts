import type { LoggerOptions } from "../logging/create-logger.js";
import { quieterLevel } from "../logging/create-logger.js";
import { WarningCollector } from "../logging/warning-collector.js";

/**
 * The console of one CLI process. On a terminal (stderr is a TTY) log lines are collected, never written
 * while a progress bar is drawn, and {@link flushWarnings} prints them once, readably, when the command is
 * done — minus those the command's own output already showed ({@link markShown}). Off a terminal, log lines
 * go to stderr as JSON.
 */
const collector = process.stderr.isTTY ? new WarningCollector() : undefined;
const shown = new Set<string>();

/**
 * The console options of a one-shot command's logger at `level`. stderr gets warnings and errors only,
 * unless `level` is `debug` or `trace` (info lines repeat what the command prints, and a successful run
 * writes nothing to stderr); `LOG_FILE` gets everything at `level`. Long-running commands (`serve`) keep
 * the logger's defaults.
 */
export function consoleLogging(level: string): Pick<LoggerOptions, "console" | "consoleLevel"> {
  const consoleLevel = level === "debug" || level === "trace" ? level : quieterLevel(level, "warn");
  if (collector) return { console: collector, consoleLevel: quieterLevel(level, "warn") };
  return { consoleLevel };
}

/** Notes messages the command printed itself (failures, warnings of its summary): not repeated after it. */
export function markShown(...messages: string[]): void {
  for (const m of messages) shown.add(m);
}

/** Prints the collected log lines (terminal only) that the command did not show, once each, on stderr. */
export function flushWarnings(): void {
  if (!collector) return;
  const lines = collector.take().filter((l) => ![...shown].some((s) => s.includes(l.msg)));
  for (const l of lines) process.stderr.write(`${l.level === "warn" ? "warning" : l.level}: ${l.msg}\n`);
}
