import type pg from "pg";
import { type LayerNames, quoteIdentifier } from "./sql.js";

/**
 * Written as the message table's comment; a later version can read it to know what to migrate.
 * 2: channel columns in collation "C" (1 had the database's default; such tables still work, but
 * range reads of process-local channels cannot use the index on them).
 */
export const SCHEMA_VERSION = "channel-layers 2";

/**
 * A queue table churns: every message is inserted once and deleted once. Vacuuming after a fixed
 * number of dead rows (not PostgreSQL's default 20% of the table, which for a table that is
 * nearly empty between bursts means almost never) lets the freed space be reused, so the table
 * stays the size of its busiest moment instead of the size of its history.
 *
 * vacuum_truncate = false keeps VACUUM from giving the emptied file back. The planner prices a
 * sequential scan by the file's size, and a plan is cached: planned while the file is empty,
 * every channel probe (a send's capacity check, a claim, a groupSend per member) becomes a scan
 * of the whole table, run long after the table has filled up again. A file that keeps its pages
 * keeps those probes index scans.
 */
const QUEUE_TABLE_STORAGE =
  "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0, " +
  "vacuum_truncate = false";

/**
 * Rows written and deleted once when the message table is made, so that the new file already has
 * a few dozen pages: from the start, the planner sees a table whose full scan costs more than an
 * index probe (see QUEUE_TABLE_STORAGE).
 */
const BALLAST_ROWS = 4000;

function createStatements(names: LayerNames): string[] {
  return [
    // The primary key is the one index: a channel's messages in send order, for the claim, and
    // the key the claim deletes by. ids come from one sequence, so order holds across senders.
    // Channel names are ASCII and only compared for equality and by prefix: collation "C"
    // compares bytes (cheaper than a locale's rules on every index step) and keeps each
    // instance's process-local channels (`<prefix>.<instance id>!...`) one range of the index,
    // which a read for many of them scans at once.
    `CREATE TABLE IF NOT EXISTS ${names.messageTable} (
       id bigint GENERATED ALWAYS AS IDENTITY,
       channel text COLLATE "C" NOT NULL,
       expires_at timestamptz NOT NULL,
       payload bytea NOT NULL,
       PRIMARY KEY (channel, id)
     ) WITH (${QUEUE_TABLE_STORAGE})`,
    // capacity is the member channel's capacity as the instance that added it saw it, so that
    // groupSend can skip full members in one statement without knowing the capacity rules.
    `CREATE TABLE IF NOT EXISTS ${names.membershipTable} (
       group_name text COLLATE "C" NOT NULL,
       channel text COLLATE "C" NOT NULL,
       capacity integer NOT NULL,
       expires_at timestamptz NOT NULL,
       PRIMARY KEY (group_name, channel)
     )`,
    `COMMENT ON TABLE ${names.messageTable} IS '${SCHEMA_VERSION}'`,
  ];
}

/** Advisory lock key (two int4) for migrations in one schema: they are serialised, never raced. */
const MIGRATION_LOCK_CLASS = 0x636c6179; // "clay"

async function tablesExist(db: pg.Pool | pg.ClientBase, names: LayerNames): Promise<boolean> {
  const result = await db.query<{ ready: boolean }>(
    "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS ready",
    [names.messageTable, names.membershipTable],
  );
  return result.rows[0]?.ready === true;
}

/**
 * Creates the schema (if missing) and the layer's two tables. Safe to run from several processes
 * at once: the work happens under a transaction-scoped advisory lock per schema, and an existing
 * installation is detected before any lock is taken.
 */
export async function installTables(pool: pg.Pool, names: LayerNames): Promise<void> {
  if (await tablesExist(pool, names)) return;
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))", [
      MIGRATION_LOCK_CLASS,
      names.schema,
    ]);
    // CREATE SCHEMA IF NOT EXISTS still needs the CREATE privilege on the database; skip it when
    // the schema exists, so a role that may only create tables in it can install.
    const schema = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [names.schema]);
    if (schema.rowCount === 0) await client.query(`CREATE SCHEMA ${quoteIdentifier(names.schema)}`);
    const existed = await tablesExist(client, names);
    for (const statement of createStatements(names)) await client.query(statement);
    if (!existed) {
      // Channel "" is no valid channel name, so no probe ever looks at these rows.
      await client.query(
        `INSERT INTO ${names.messageTable} (channel, expires_at, payload)
         SELECT '', '-infinity', '\\x' FROM generate_series(1, ${BALLAST_ROWS})`,
      );
      await client.query(`DELETE FROM ${names.messageTable} WHERE channel = ''`);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Drops the layer's two tables (and so all of its messages and groups); its schema stays. */
export async function dropTables(db: pg.Pool | pg.ClientBase, names: LayerNames): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${names.messageTable}, ${names.membershipTable}`);
}
