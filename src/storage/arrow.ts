import { createRequire } from "node:module";

/**
 * The apache-arrow module instance that `@lancedb/lancedb` (a CommonJS package) uses. Importing
 * apache-arrow as ESM would load a second copy whose classes fail LanceDB's `instanceof` checks and
 * Arrow's own type visitors (the dual-package hazard), so all Arrow values we hand to LanceDB come from here.
 */
export const arrow: typeof import("apache-arrow") = createRequire(import.meta.url)("apache-arrow");
