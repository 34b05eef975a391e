import type { SyncSystem } from "../../app/sync-system.js";
import type { SyncServiceView } from "../../service/service-types.js";
import type { ApiMetrics } from "../api-metrics.js";

/** What every route plugin is registered with. */
export interface RouteDeps {
  system: SyncSystem;
  service: SyncServiceView;
  metrics: ApiMetrics;
}
