import { SyncError } from "../../errors/sync-error.js";
import type { SourceType } from "../registry.js";
import { UploadSource } from "./upload-source.js";

/**
 * `upload`: documents pushed by a host application or `lancedb-sync ingest`. Its items are the upload records
 * of the journal, their bytes in the blob store; it has no settings and no schedule.
 */
export const uploadType: SourceType = {
  type: "upload",
  scheduled: false,
  normalizeConfig(input) {
    const extra = Object.keys(input);
    if (extra.length > 0) {
      throw new SyncError(
        "SYNC_E_INVALID_ARGUMENT",
        `an upload source takes no settings (got ${extra.join(", ")}); push documents with ingest`,
      );
    }
    return {};
  },
  create(record, ctx) {
    return new UploadSource({
      name: record.name,
      userId: record.userId,
      journal: ctx.journal,
      blobs: ctx.blobs,
    });
  },
};
