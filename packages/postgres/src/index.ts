export type { LayerNames } from "./layer-names.js";
export type { PostgresChannelLayerOptions } from "./options.js";
export {
  PostgresChannelLayer,
  type PostgresChannelLayerStats,
  type PostgresTransactionalSender,
} from "./postgres-channel-layer.js";
export { migrate, type PostgresTablesOptions, uninstall } from "./tables.js";
