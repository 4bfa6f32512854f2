import { BackendUnavailable } from "@channel-layers/core";
import { instanceIdOf } from "@channel-layers/core/backend";
import type pg from "pg";
import { type LayerNames, quoteIdentifier } from "./layer-names.js";

/**
 * Written as the message table's comment, for a later version to know what to migrate. 4: the
 * history and presence tables; 3: the membership table records each member's instance id; 2:
 * channel columns in collation "C".
 */
export const SCHEMA_VERSION = "channel-layers 4";

/**
 * A queue table is all churn: vacuum after a fixed number of dead rows (not 20% of a table that is
 * nearly empty between bursts), and never truncate, because a plan cached while the file is empty
 * scans the whole table long after it has filled again (docs/postgres.md, "Keeping the tables small").
 */
const QUEUE_TABLE_STORAGE =
  "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0, " +
  "vacuum_truncate = false";

/** Rows written and deleted once in a new message table, so the planner never sees an empty file. */
const BALLAST_ROWS = 4000;

type Queryable = pg.Pool | pg.ClientBase;

function createStatements(names: LayerNames): string[] {
  return [
    // The primary key is the one index: a channel's messages in send order. Collation "C" compares
    // bytes and keeps each instance's process-local channels one range of it (see readRange).
    `CREATE TABLE IF NOT EXISTS ${names.messageTable} (
       id bigint GENERATED ALWAYS AS IDENTITY,
       channel text COLLATE "C" NOT NULL,
       expires_at timestamptz NOT NULL,
       payload bytea NOT NULL,
       PRIMARY KEY (channel, id)
     ) WITH (${QUEUE_TABLE_STORAGE})`,
    // capacity: the member's, as the instance that added it saw it (groupSend cannot know the
    // rules); instance_id: whom to wake for it (null for a named channel, which every instance may receive).
    `CREATE TABLE IF NOT EXISTS ${names.membershipTable} (
       group_name text COLLATE "C" NOT NULL,
       channel text COLLATE "C" NOT NULL,
       capacity integer NOT NULL,
       expires_at timestamptz NOT NULL,
       instance_id text COLLATE "C",
       PRIMARY KEY (group_name, channel)
     )`,
    // Version 2 tables lack it; their process-local members are woken through the shared channel until filled in.
    `ALTER TABLE ${names.membershipTable} ADD COLUMN IF NOT EXISTS instance_id text COLLATE "C"`,
    ...historyTables(names),
    ...presenceTables(names),
    `COMMENT ON TABLE ${names.messageTable} IS '${SCHEMA_VERSION}'`,
  ];
}

/**
 * Group histories (version 4). A history group's row is locked by each of its sends, which so
 * number its messages one at a time: `sent_count` is the newest one's position (contiguous per
 * group, the primary key of the kept ones), `last_offset` and `prev_offset` are the offsets of the
 * newest and the one before, from a sequence no flush or restart resets. A kept message's `prev_offset`
 * lets a read tell whether anything between a caller's offset and the oldest kept one is missing.
 */
function historyTables(names: LayerNames): string[] {
  return [
    `CREATE SEQUENCE IF NOT EXISTS ${names.historyOffsetSequence} AS bigint MAXVALUE ${Number.MAX_SAFE_INTEGER}`,
    `CREATE TABLE IF NOT EXISTS ${names.historyGroupTable} (
       group_name text COLLATE "C" NOT NULL PRIMARY KEY,
       last_offset bigint NOT NULL,
       prev_offset bigint,
       sent_count bigint NOT NULL,
       expires_at timestamptz NOT NULL
     )`,
    `CREATE TABLE IF NOT EXISTS ${names.historyTable} (
       group_name text COLLATE "C" NOT NULL,
       position bigint NOT NULL,
       history_offset bigint NOT NULL,
       prev_offset bigint,
       expires_at timestamptz NOT NULL,
       payload bytea NOT NULL,
       PRIMARY KEY (group_name, position)
     )`,
    // So a cleanup reads only what lapsed, not every group's history ('infinity' without maxAgeMs).
    `CREATE INDEX IF NOT EXISTS ${names.historyByExpiryIndex} ON ${names.historyTable} (expires_at)`,
  ];
}

/**
 * Presence (version 4): a row per track, its key and meta in `entry` (MessagePack: keys may hold
 * any character, NUL included, which text cannot), and a row per instance whose `expires_at` its
 * heartbeat extends; a sweep removes a lapsed instance's row with its tracks.
 */
function presenceTables(names: LayerNames): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${names.presenceTable} (
       group_name text COLLATE "C" NOT NULL,
       ref text COLLATE "C" NOT NULL,
       channel text COLLATE "C" NOT NULL,
       instance_id text COLLATE "C" NOT NULL,
       entry bytea NOT NULL,
       PRIMARY KEY (group_name, ref)
     )`,
    `CREATE INDEX IF NOT EXISTS ${names.presenceByInstanceIndex} ON ${names.presenceTable} (instance_id)`,
    `CREATE TABLE IF NOT EXISTS ${names.presenceInstanceTable} (
       instance_id text COLLATE "C" NOT NULL PRIMARY KEY,
       expires_at timestamptz NOT NULL
     )`,
  ];
}

/** Advisory lock key (two int4) for migrations in one schema: they are serialised, never raced. */
const MIGRATION_LOCK_CLASS = 0x636c6179; // "clay"

/** Whether every table exists in the shape this version uses. */
async function tablesReady(db: Queryable, names: LayerNames): Promise<boolean> {
  const result = await db.query<{ ready: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AND EXISTS (
       SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($2) AND attname = 'instance_id' AND NOT attisdropped
     ) AND (SELECT bool_and(to_regclass(name) IS NOT NULL) FROM unnest($3::text[]) AS name) AS ready`,
    [names.messageTable, names.membershipTable, versionFourRelations(names)],
  );
  return result.rows[0]?.ready === true;
}

/** What version 4 added: the history and presence relations. */
function versionFourRelations(names: LayerNames): string[] {
  return [
    names.historyOffsetSequence,
    names.historyGroupTable,
    names.historyTable,
    names.presenceTable,
    names.presenceInstanceTable,
  ];
}

/**
 * Creates the schema (if missing) and the layer's tables, or brings older ones up to date.
 * Safe from several processes at once: the work runs under a transaction-scoped advisory lock per
 * schema, after a check that needs no lock.
 */
export async function installTables(pool: pg.Pool, names: LayerNames): Promise<void> {
  if (await tablesReady(pool, names)) return;
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))", [
      MIGRATION_LOCK_CLASS,
      names.schema,
    ]);
    // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists.
    const schema = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [names.schema]);
    if (schema.rowCount === 0) await client.query(`CREATE SCHEMA ${quoteIdentifier(names.schema)}`);
    const existed = (await client.query("SELECT to_regclass($1) AS found", [names.messageTable])).rows[0]?.found;
    for (const statement of createStatements(names)) await client.query(statement);
    if (existed === null) {
      // Channel "" is no valid channel name, so no probe ever looks at these rows.
      await client.query(
        `INSERT INTO ${names.messageTable} (channel, expires_at, payload)
         SELECT '', '-infinity', '\\x' FROM generate_series(1, ${BALLAST_ROWS})`,
      );
      await client.query(`DELETE FROM ${names.messageTable} WHERE channel = ''`);
    } else {
      await fillInstanceIds(client, names);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Memberships written by version 2: their instance ids, from core's reading of the channel names. */
async function fillInstanceIds(client: pg.ClientBase, names: LayerNames): Promise<void> {
  const { rows } = await client.query<{ channel: string }>(
    `SELECT DISTINCT channel FROM ${names.membershipTable} WHERE instance_id IS NULL`,
  );
  const channels: string[] = [];
  const ids: string[] = [];
  for (const { channel } of rows) {
    const id = instanceIdOf(channel);
    if (id === undefined) continue;
    channels.push(channel);
    ids.push(id);
  }
  if (channels.length === 0) return;
  await client.query(
    `UPDATE ${names.membershipTable} m SET instance_id = filled.id
     FROM unnest($1::text[], $2::text[]) AS filled(channel, id) WHERE m.channel = filled.channel`,
    [channels, ids],
  );
}

/** For `migrate: false`: rejects, saying what to do, unless the tables are there in this version's shape. */
export async function checkTables(pool: pg.Pool, names: LayerNames): Promise<void> {
  if (await tablesReady(pool, names)) return;
  throw new BackendUnavailable(
    `The channel layer's tables (${names.messageTable}, ${names.membershipTable} and their history and presence tables) are missing or older than this version: run migrate() (or leave the migrate option on)`,
  );
}

/** Drops the layer's tables and sequence (and so all of its messages, groups, histories and presences); its schema stays. */
export async function dropTables(db: Queryable, names: LayerNames): Promise<void> {
  await db.query(
    `DROP TABLE IF EXISTS ${names.messageTable}, ${names.membershipTable}, ${names.historyTable}, ${names.historyGroupTable}, ${names.presenceTable}, ${names.presenceInstanceTable}`,
  );
  await db.query(`DROP SEQUENCE IF EXISTS ${names.historyOffsetSequence}`);
}
