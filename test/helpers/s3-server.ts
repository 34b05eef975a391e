import type { Server } from "node:http";
import { join } from "node:path";
import S3rver from "s3rver";
import { makeTempDir } from "./temp-dir.js";

/** s3rver's fixed account: every client of the test server must pass these explicitly. */
export const S3_TEST_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
/** The region s3rver signs for. */
export const S3_TEST_REGION = "us-east-1";

/** A running s3rver (S3 protocol, SigV4) on 127.0.0.1 with its own temporary directory. */
export interface S3TestServer {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly port: number;
  /** The buckets created at start (the first one is `env.S3_BUCKET`). */
  readonly buckets: readonly string[];
  /** Where s3rver keeps the objects (`<dir>/<bucket>/<key>._S3rver_object`): tests may corrupt them there. */
  readonly directory: string;
  /**
   * Environment for a CLI child process or `loadConfig`: `S3_ENDPOINT`, `S3_BUCKET`, `S3_FORCE_PATH_STYLE`,
   * `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_EC2_METADATA_DISABLED=true`.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Stops the server at once, dropping open connections (as a crash would); objects stay on disk. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory, with everything stored before. */
  restart(): Promise<void>;
  /** Stops it (if running) and removes its directory: call in afterAll/afterEach. */
  close(): Promise<void>;
}

/** Options of {@link startS3Server}. */
export interface StartS3ServerOptions {
  /** Buckets to create; default `["backup"]`. */
  buckets?: string[];
}

/**
 * Starts s3rver on 127.0.0.1, port 0, in a fresh temporary directory, with the given buckets. Nothing here
 * talks to anything but 127.0.0.1; clients must pass `endpoint` and {@link S3_TEST_CREDENTIALS} explicitly.
 */
export async function startS3Server(options: StartS3ServerOptions = {}): Promise<S3TestServer> {
  const buckets = options.buckets ?? ["backup"];
  const tmp = makeTempDir("lancedb-sync-s3rver-");
  const directory = join(tmp.path, "s3");
  const make = (port: number) =>
    new S3rver({
      port,
      address: "127.0.0.1",
      silent: true,
      directory,
      configureBuckets: buckets.map((name) => ({ name })),
    });
  let server: S3rver | undefined = make(0);
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    const running = server;
    server = undefined;
    if (!running) return;
    const http = (running as unknown as { httpServer?: Server }).httpServer;
    const closed = running.close();
    http?.closeAllConnections();
    await closed;
  };

  return {
    endpoint,
    port,
    buckets,
    directory,
    env: {
      S3_ENDPOINT: endpoint,
      S3_BUCKET: buckets[0] ?? "",
      S3_FORCE_PATH_STYLE: "true",
      AWS_REGION: S3_TEST_REGION,
      AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: "true",
    },
    stop,
    async restart() {
      if (server) return;
      // The port was ours a moment ago; another process may grab it in between, so retry briefly.
      for (let attempt = 0; ; attempt++) {
        const next = make(port);
        try {
          await next.run();
          server = next;
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async close() {
      await stop();
      tmp.cleanup();
    },
  };
}
