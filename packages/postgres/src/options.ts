import { type ChannelLayerOptions, InvalidOptions } from "@channel-layers/core";
import type pg from "pg";

/** Options of PostgresChannelLayer: the common ChannelLayerOptions plus where and how to connect. */
export interface PostgresChannelLayerOptions extends ChannelLayerOptions {
  /**
   * Connection string, e.g. `postgres://user@host:5432/db`. Default: pg's own defaults (the PG*
   * environment variables). Ignored when `pool` is given.
   */
  connectionString?: string;
  /**
   * A pool to run statements on instead of one the layer makes. The layer never ends it (close()
   * only detaches); its settings also open the layer's one LISTEN connection.
   */
  pool?: pg.Pool;
  /** Connections in the pool the layer makes (not with `pool`). Default 10. */
  poolSize?: number;
  /**
   * Names the tables, `<prefix>_message` and `<prefix>_membership`: layers with the same prefix,
   * schema and database are one layer. 1 to 40 ASCII letters, digits, `_`, `-` or `.`. Default "asgi".
   */
  prefix?: string;
  /** Schema of the tables; created if missing. Default "public". */
  schema?: string;
  /**
   * Create the tables on first use. Default true. With false, run `migrate()` beforehand (e.g. at
   * deploy time, as a role allowed to create tables) and the layer only uses them.
   */
  migrate?: boolean;
  /**
   * Seconds between this instance's removals of expired messages and lapsed group memberships,
   * done in passing by whichever call comes due (no timer, no cron job). Default 10.
   */
  cleanupInterval?: number;
  /**
   * Messages this instance receives between its VACUUMs of the message table (without TRUNCATE,
   * skipped when another is running). 0 leaves it all to autovacuum, which on a busy layer is
   * too rare: dead rows pile up and slow every send and receive. Needs the table's owner (else
   * PostgreSQL skips it with a warning). Default 10,000.
   */
  vacuumThreshold?: number;
  /**
   * Seconds between re-checks of named channels this instance waits on. A wake-up is only missed
   * when another process dies while holding a message it claimed, which then reappears with no
   * NOTIFY; this bounds how long it waits. Default 5.
   */
  pollInterval?: number;
  /**
   * Seconds a call waits for the server: for a pool connection (a pool the layer makes), and for
   * each statement's reply. Past it the call rejects with BACKEND_UNAVAILABLE (a send may then
   * have gone through or not). The LISTEN connection is checked this often too, so a silently
   * dead one is noticed and replaced. Default 30.
   */
  timeout?: number;
  /** Milliseconds before the first attempt to reconnect the LISTEN connection; doubled per failure. Default 100. */
  reconnectDelay?: number;
  /** Longest wait between reconnect attempts, in milliseconds. Default 5000. */
  maxReconnectDelay?: number;
}

/** The PostgreSQL-specific options with defaults applied and values checked. */
export interface ResolvedPostgresOptions {
  readonly prefix: string;
  readonly schema: string;
  readonly migrate: boolean;
  readonly poolSize: number;
  readonly cleanupIntervalMs: number;
  readonly vacuumThreshold: number;
  readonly pollIntervalMs: number;
  readonly timeoutMs: number;
  readonly reconnectDelayMs: number;
  readonly maxReconnectDelayMs: number;
}

export const DEFAULT_PREFIX = "asgi";
export const DEFAULT_SCHEMA = "public";

const PREFIX = /^[A-Za-z0-9_.-]{1,40}$/;

function positive(name: string, value: unknown, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new InvalidOptions(`${name} must be a positive ${integer ? "integer" : "number"}; got ${String(value)}`);
  }
  return value;
}

export function resolvePostgresOptions(options: PostgresChannelLayerOptions): ResolvedPostgresOptions {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new InvalidOptions(
      `prefix must be 1 to 40 ASCII letters, digits, underscores, hyphens or periods (it names tables); got ${JSON.stringify(prefix)}`,
    );
  }
  const schema = options.schema ?? DEFAULT_SCHEMA;
  if (typeof schema !== "string" || schema.length === 0 || Buffer.byteLength(schema) > 63 || schema.includes("\0")) {
    throw new InvalidOptions(`schema must be a PostgreSQL identifier of 1 to 63 bytes; got ${JSON.stringify(schema)}`);
  }
  if (options.pool !== undefined && options.connectionString !== undefined) {
    throw new InvalidOptions("Give either pool or connectionString, not both: the pool already says where to connect");
  }
  return {
    prefix,
    schema,
    migrate: options.migrate ?? true,
    poolSize: positive("poolSize", options.poolSize, 10, true),
    cleanupIntervalMs: positive("cleanupInterval", options.cleanupInterval, 10) * 1000,
    vacuumThreshold:
      options.vacuumThreshold === 0 ? 0 : positive("vacuumThreshold", options.vacuumThreshold, 10_000, true),
    pollIntervalMs: positive("pollInterval", options.pollInterval, 5) * 1000,
    timeoutMs: positive("timeout", options.timeout, 30) * 1000,
    reconnectDelayMs: positive("reconnectDelay", options.reconnectDelay, 100),
    maxReconnectDelayMs: positive("maxReconnectDelay", options.maxReconnectDelay, 5000),
  };
}
