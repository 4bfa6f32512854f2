export type { PostgresChannelLayerOptions, ResolvedPostgresOptions } from "./options.js";
export { PostgresChannelLayer, type PostgresTransactionalSender } from "./postgres-channel-layer.js";
export type { LayerNames } from "./sql.js";
export { migrate, type PostgresTablesOptions, uninstall } from "./tables.js";
