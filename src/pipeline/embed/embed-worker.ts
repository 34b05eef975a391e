import { parentPort } from "node:worker_threads";
import type { EmbedRequest, EmbedResponse } from "./embed-protocol.js";
import { hashVectors } from "./hash-vector.js";

const port = parentPort;
if (port === null) throw new Error("embed-worker.js runs only as a worker thread");
port.on("message", (req: EmbedRequest) => {
  let res: EmbedResponse;
  try {
    res = { id: req.id, ok: true, vectors: hashVectors(req.texts, req.dimensions) };
  } catch (err) {
    port.postMessage({ id: req.id, ok: false, message: String(err) } satisfies EmbedResponse);
    return;
  }
  port.postMessage(res, [res.vectors.buffer as ArrayBuffer]);
});
port.postMessage({ ready: true } satisfies EmbedResponse);
