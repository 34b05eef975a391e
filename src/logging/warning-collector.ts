/** One collected log line: its pino level name and message. */
export interface CollectedLine {
  level: "warn" | "error" | "fatal";
  msg: string;
}

/**
 * A pino destination that keeps the messages of the lines written to it instead of printing them, so that a
 * terminal shows no JSON while a progress bar is drawn; the command prints them, readably, when it is done.
 * The same message logged twice is kept once.
 */
export class WarningCollector {
  private readonly lines = new Map<string, CollectedLine>();

  /** pino's destination contract: one JSON line per call. Lines that do not parse are kept as they are. */
  write(line: string): void {
    let level: CollectedLine["level"] = "warn";
    let msg = line.trim();
    try {
      const parsed = JSON.parse(line) as { level?: number; msg?: unknown; err?: unknown };
      level = (parsed.level ?? 40) >= 60 ? "fatal" : (parsed.level ?? 40) >= 50 ? "error" : "warn";
      msg = typeof parsed.msg === "string" ? parsed.msg : msg;
      if (typeof parsed.err === "string" && !msg.includes(parsed.err)) msg = `${msg}: ${parsed.err}`;
    } catch {
      // Not JSON: keep the raw text.
    }
    if (msg !== "" && !this.lines.has(msg)) this.lines.set(msg, { level, msg });
  }

  /** The lines collected since the last call, oldest first, and forgets them. */
  take(): CollectedLine[] {
    const out = [...this.lines.values()];
    this.lines.clear();
    return out;
  }
}
