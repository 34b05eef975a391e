/** Schema-metadata key holding the id of the embedder a chunks table was built with. */
export const EMBEDDER_ID_KEY = "lancedb_sync.embedder_id";
/** Schema-metadata key holding the vector width. */
export const DIMENSIONS_KEY = "lancedb_sync.dimensions";
/** Schema- (or `doc_id` field-) metadata key holding the store's random id (see `LanceDbStore.identity`). */
export const STORE_ID_KEY = "lancedb_sync.store_id";
