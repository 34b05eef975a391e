import { parentPort } from "node:worker_threads";
import { ERROR_CODES } from "../../errors/codes.js";
import { isSyncError } from "../../errors/sync-error.js";
import { chunkText } from "../chunk-text.js";
import { extractDetected } from "../extract/extract-document.js";
import type { ParseRequest, ParseResponse } from "./parse-protocol.js";

/** The error fields of a {@link ParseResponse} for anything a parser threw. */
function failure(err: unknown, fileName: string): { code: string; message: string } {
  if (isSyncError(err)) return { code: err.code, message: err.message };
  const message = `${fileName}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
  if (err instanceof RangeError && /call stack/i.test(message)) {
    return { code: "SYNC_E_PARSE_LIMIT", message };
  }
  return { code: "SYNC_E_INTERNAL", message };
}

// A parser's console output must never reach stdout, where `--json` prints its one JSON document. (Piping
// the worker's stdout in the parent instead would keep the process alive.)
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

const port = parentPort;
if (port === null) throw new Error("parse-worker.js runs only as a worker thread");
port.on("message", async (req: ParseRequest) => {
  let res: ParseResponse;
  try {
    const doc = await extractDetected(req.bytes, req.fileName, req.type, {
      maxExtractedBytes: req.maxExtractedBytes,
    });
    res =
      req.chunking === undefined
        ? { id: req.id, ok: true, doc }
        : { id: req.id, ok: true, doc, chunks: chunkText(doc.text, req.chunking) };
  } catch (err) {
    const f = failure(err, req.fileName);
    res = {
      id: req.id,
      ok: false,
      code: f.code in ERROR_CODES ? f.code : "SYNC_E_INTERNAL",
      message: f.message,
    };
  }
  port.postMessage(res);
});
port.postMessage({ ready: true } satisfies ParseResponse);
