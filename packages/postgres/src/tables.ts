import pg from "pg";
import { layerNames } from "./layer-names.js";
import { resolvePostgresOptions } from "./options.js";
import { dropTables, installTables } from "./schema.js";

/** Which layer's tables, and where: the same fields as PostgresChannelLayerOptions. */
export interface PostgresTablesOptions {
  /** Connection string; default pg's PG* environment variables. Not with `pool`. */
  connectionString?: string;
  /** A pool to use; it is left open. */
  pool?: pg.Pool;
  /** The layer's prefix. Default "asgi". */
  prefix?: string;
  /** The layer's schema. Default "public". */
  schema?: string;
}

async function withPool(options: PostgresTablesOptions, work: (pool: pg.Pool) => Promise<void>): Promise<void> {
  if (options.pool) return work(options.pool);
  const pool = new pg.Pool({ connectionString: options.connectionString, max: 1 });
  try {
    await work(pool);
  } finally {
    await pool.end();
  }
}

/**
 * Creates a layer's schema and tables if they do not exist, or upgrades older ones, e.g. at deploy
 * time as a role allowed to create tables (then give the layer `migrate: false`). Safe to run from
 * several processes at once.
 */
export async function migrate(options: PostgresTablesOptions = {}): Promise<void> {
  const { schema, prefix } = resolvePostgresOptions({ prefix: options.prefix, schema: options.schema });
  await withPool(options, (pool) => installTables(pool, layerNames(schema, prefix)));
}

/** Drops a layer's tables with every message and group in them; other prefixes and the schema stay. */
export async function uninstall(options: PostgresTablesOptions = {}): Promise<void> {
  const { schema, prefix } = resolvePostgresOptions({ prefix: options.prefix, schema: options.schema });
  await withPool(options, (pool) => dropTables(pool, layerNames(schema, prefix)));
}
