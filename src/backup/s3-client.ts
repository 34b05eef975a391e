import { S3Client } from "@aws-sdk/client-s3";

/** Explicit S3 credentials (secrets: never logged, never stored in the journal or a backup). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Options of {@link createS3Client}. */
export interface S3ClientSettings {
  /** Any non-empty region name (`us-east-1`, or `auto` and the like for S3-compatible stores). */
  region: string;
  /** Endpoint of an S3-compatible store; empty or absent: AWS S3. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`); default: true when `endpoint` is set, else false. */
  forcePathStyle?: boolean;
  /** Explicit credentials; absent: the SDK's default chain (environment, profile, SSO, IAM role). */
  credentials?: S3Credentials;
  /** Attempts per request, the first included (standard retry mode, with backoff); default 3. */
  maxAttempts?: number;
  /** Time to establish a connection (ms); default 5,000. */
  connectTimeoutMs?: number;
  /** A socket idle this long fails the request (ms); default 120,000. */
  socketTimeoutMs?: number;
}

/**
 * The one place an `S3Client` is made (backup targets, lifecycle, `setup`'s check). With an `endpoint`
 * (S3-compatible stores) checksums are computed and validated only when an operation requires them
 * (`WHEN_REQUIRED`): with the SDK's default, such stores keep a streamed upload with its checksum chunk
 * framing, i.e. corrupted. Retries are bounded ({@link S3ClientSettings.maxAttempts}). The caller owns the
 * client and calls `destroy()` when done.
 */
export function createS3Client(settings: S3ClientSettings): S3Client {
  const endpoint = settings.endpoint || undefined;
  return quietly(
    () =>
      new S3Client({
        region: settings.region,
        ...(endpoint
          ? {
              endpoint,
              requestChecksumCalculation: "WHEN_REQUIRED",
              responseChecksumValidation: "WHEN_REQUIRED",
            }
          : {}),
        forcePathStyle: settings.forcePathStyle ?? Boolean(endpoint),
        ...(settings.credentials ? { credentials: { ...settings.credentials } } : {}),
        maxAttempts: settings.maxAttempts ?? 3,
        retryMode: "standard",
        requestHandler: {
          connectionTimeout: settings.connectTimeoutMs ?? 5_000,
          socketTimeout: settings.socketTimeoutMs ?? 120_000,
        },
      }),
  );
}

/**
 * Makes the client without the SDK's `NodeVersionSupportWarning` ("versions published after January 2027
 * will require node >=22"): it concerns SDK releases newer than the pinned one, so on Node 20 it is noise
 * (issue 12). The SDK checks `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED` once, when the first client
 * is constructed, and then never warns again in this process; the variable is set only for that moment, so
 * the environment is left as it was. Every other warning still shows.
 */
function quietly(make: () => S3Client): S3Client {
  const name = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED";
  const before = process.env[name];
  process.env[name] = "true";
  try {
    return make();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

/** `endpoint` without user info or query (safe for messages and status), or `AWS` when empty. */
export function describeEndpoint(endpoint: string | undefined): string {
  if (!endpoint) return "AWS";
  try {
    const url = new URL(endpoint);
    return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
  } catch {
    return "(invalid endpoint)";
  }
}
