import { buildApp } from "./app.js";

const port = Number(process.env.PORT ?? 3000);
const dataDir = process.env.DATA_DIR ?? "./data/host-app";
const app = buildApp({ dataDir, logger: true });

let closing = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, "closing");
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, "close failed");
        process.exit(1);
      },
    );
  });
}

try {
  await app.listen({ port, host: process.env.HOST ?? "127.0.0.1" });
} catch (err) {
  app.log.error({ err }, "could not start");
  process.exit(1);
}
