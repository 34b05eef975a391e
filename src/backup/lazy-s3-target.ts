import type {
  BackupBody,
  BackupCallOptions,
  BackupObjectInfo,
  BackupTarget,
  PutResult,
} from "./backup-target.js";
import type { S3ClientSettings } from "./s3-client.js";
import type { S3Target, S3TargetOptions } from "./s3-target.js";

/**
 * An S3 {@link BackupTarget} that loads the AWS SDK on its first call: building the targets from the config
 * (every CLI command does, through `SyncSystem`) costs no SDK import, which is about 0.15 s of every start.
 * Behaves exactly as the {@link S3Target} it makes; `resolve` returns that target.
 */
export class LazyS3Target implements BackupTarget {
  readonly location: string;
  private made: Promise<S3Target> | undefined;
  private target: S3Target | undefined;

  constructor(
    private readonly settings: S3ClientSettings,
    private readonly options: Omit<S3TargetOptions, "client" | "ownsClient">,
  ) {
    const prefix = options.prefix ?? "";
    this.location = `s3://${options.bucket}/${prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`}`;
  }

  /** The underlying target, created (SDK loaded, client built) on first use. */
  resolve(): Promise<S3Target> {
    this.made ??= (async () => {
      const [{ createS3Client }, { S3Target }] = await Promise.all([
        import("./s3-client.js"),
        import("./s3-target.js"),
      ]);
      this.target = new S3Target({
        ...this.options,
        client: createS3Client(this.settings),
        ownsClient: true,
      });
      return this.target;
    })();
    return this.made;
  }

  async list(prefix: string, options?: BackupCallOptions): Promise<BackupObjectInfo[]> {
    return (await this.resolve()).list(prefix, options);
  }
  async head(key: string, options?: BackupCallOptions): Promise<BackupObjectInfo> {
    return (await this.resolve()).head(key, options);
  }
  async get(key: string, options?: BackupCallOptions): Promise<Uint8Array> {
    return (await this.resolve()).get(key, options);
  }
  async download(key: string, path: string, options?: BackupCallOptions): Promise<void> {
    return (await this.resolve()).download(key, path, options);
  }
  async putIfAbsent(key: string, body: BackupBody, options?: BackupCallOptions): Promise<PutResult> {
    return (await this.resolve()).putIfAbsent(key, body, options);
  }
  async delete(key: string, options?: BackupCallOptions): Promise<void> {
    return (await this.resolve()).delete(key, options);
  }

  /** Closes the client's connections, if one was made. */
  destroy(): void {
    this.target?.destroy();
  }
}
