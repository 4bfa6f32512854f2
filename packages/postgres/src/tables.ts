import pg from "pg";
import { backendUnavailable } from "./errors.js";
import { layerNames } from "./layer-names.js";
import { resolvePostgresOptions } from "./options.js";
import { dropTables, installTables } from "./schema.js";
import { describeTarget } from "./transport.js";

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

/** Runs `work` on the given pool or a short-lived one; pg's errors become BACKEND_UNAVAILABLE saying `action`. */
async function withPool(
  options: PostgresTablesOptions,
  action: string,
  work: (pool: pg.Pool) => Promise<void>,
): Promise<void> {
  const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: 1 });
  try {
    await work(pool);
  } catch (error) {
    throw backendUnavailable(action, error, describeTarget(options.connectionString, options.pool));
  } finally {
    if (pool !== options.pool) await pool.end();
  }
}

/**
 * Creates a layer's schema and tables if they do not exist, or upgrades older ones, e.g. at deploy
 * time as a role allowed to create tables (then give the layer `migrate: false`). Safe to run from
 * several processes at once.
 */
export async function migrate(options: PostgresTablesOptions = {}): Promise<void> {
  const { schema, prefix } = resolvePostgresOptions({ prefix: options.prefix, schema: options.schema });
  await withPool(options, "create the layer's tables", (pool) => installTables(pool, layerNames(schema, prefix)));
}

/** Drops a layer's tables with every message and group in them; other prefixes and the schema stay. */
export async function uninstall(options: PostgresTablesOptions = {}): Promise<void> {
  const { schema, prefix } = resolvePostgresOptions({ prefix: options.prefix, schema: options.schema });
  await withPool(options, "drop the layer's tables", (pool) => dropTables(pool, layerNames(schema, prefix)));
}
