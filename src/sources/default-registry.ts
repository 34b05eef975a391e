import { localFilesystemType } from "./local-filesystem/local-filesystem-type.js";
import { migratedType } from "./migrated/migrated-type.js";
import { notionType } from "./notion/notion-type.js";
import { SourceRegistry } from "./registry.js";
import { uploadType } from "./upload/upload-type.js";

/** A registry of the built-in source types: `local_filesystem` (alias `fs`), `upload`, `notion` and `migrated`. */
export function defaultRegistry(): SourceRegistry {
  return new SourceRegistry()
    .register(localFilesystemType)
    .register(uploadType)
    .register(notionType)
    .register(migratedType);
}
