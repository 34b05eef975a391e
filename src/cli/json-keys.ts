import type { TableHealth } from "../core/document-store.js";

/** A table's health as the CLI prints it with `--json`: every key in snake_case, as in every other output. */
export interface TableHealthJson {
  name: string;
  rows: number;
  version: number;
  versions: number;
  fragments: number;
  small_fragments: number;
  /** Present when the chunks table has passed `VECTOR_INDEX_THRESHOLD` rows: whether `compact` should (re)build its vector index. */
  needs_vector_index?: boolean;
}

/** {@link TableHealth} with snake_case keys (`smallFragments` → `small_fragments`). */
export function tableHealthJson(t: TableHealth): TableHealthJson {
  return {
    name: t.name,
    rows: t.rows,
    version: t.version,
    versions: t.versions,
    fragments: t.fragments,
    small_fragments: t.smallFragments,
    ...(t.needsVectorIndex === undefined ? {} : { needs_vector_index: t.needsVectorIndex }),
  };
}
