import { localFilesystemType } from "./local-filesystem/local-filesystem-type.js";
import { SourceRegistry } from "./registry.js";
import { uploadType } from "./upload/upload-type.js";

/** A registry of the built-in source types: `local_filesystem` (alias `fs`) and `upload`. */
export function defaultRegistry(): SourceRegistry {
  return new SourceRegistry().register(localFilesystemType).register(uploadType);
}
