import { type ChannelLayerOptions, InvalidOptions } from "@channel-layers/core";
import type pg from "pg";

/**
 * Options of PostgresChannelLayer: the common ChannelLayerOptions (Channels' own, in seconds) plus
 * where and how to connect. Every other duration is in milliseconds and its name ends in `Ms`.
 */
export interface PostgresChannelLayerOptions extends ChannelLayerOptions {
  /**
   * pg's connection string, e.g. `postgres://user:password@host:5432/db?sslmode=verify-full`.
   * Default: pg's own defaults (the PG* environment variables). Not with `pool`.
   */
  connectionString?: string;
  /**
   * A pool to run statements on instead of one the layer makes. The layer never ends it (close()
   * only detaches); its settings (ssl, password...) also open the layer's one LISTEN connection.
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
   * Create (or upgrade) the tables when the layer opens. Default true. With false, run `migrate()`
   * beforehand (e.g. at deploy time, as a role allowed to create tables) and the layer only checks them.
   */
  migrate?: boolean;
  /**
   * Milliseconds between this instance's removals of expired messages and lapsed group
   * memberships, done in passing by whichever call comes due (no timer, no cron job). Default 10,000.
   */
  cleanupIntervalMs?: number;
  /**
   * Messages this instance receives between its VACUUMs of the message table. 0 leaves it all to
   * autovacuum, which on a busy layer comes too rarely. Needs the table's owner. Default 10,000.
   */
  vacuumThreshold?: number;
  /**
   * Milliseconds between re-checks of named channels this instance waits on: a message whose
   * claimer died reappears with no NOTIFY, and this bounds how long it waits. Default 5000.
   */
  pollIntervalMs?: number;
  /**
   * Milliseconds a call waits for the server: to connect, and for each statement's reply. Past it
   * the call rejects with BACKEND_UNAVAILABLE (a send may then have gone through or not). The
   * LISTEN connection is asked a `SELECT 1` this often too, so a silently dead one is replaced.
   * Default 30,000.
   */
  timeoutMs?: number;
  /**
   * Milliseconds before the first retry of anything that failed in the background (the LISTEN
   * connection, claims, receipts, wake-ups); doubled per failure up to `maxRetryDelayMs`. Default 100.
   */
  retryDelayMs?: number;
  /** Longest wait between retries, in milliseconds. Default 5000. */
  maxRetryDelayMs?: number;
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
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
}

const DEFAULT_PREFIX = "asgi";
const DEFAULT_SCHEMA = "public";

const PREFIX = /^[A-Za-z0-9_.-]{1,40}$/;

/** Options of earlier versions, in seconds or without `Ms`: refused by name rather than ignored. */
const RENAMED: Record<string, string> = {
  cleanupInterval: "cleanupIntervalMs (milliseconds)",
  pollInterval: "pollIntervalMs (milliseconds)",
  timeout: "timeoutMs (milliseconds)",
  reconnectDelay: "retryDelayMs",
  maxReconnectDelay: "maxRetryDelayMs",
};

function positive(name: string, value: unknown, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new InvalidOptions(`${name} must be a positive ${integer ? "integer" : "number"}; got ${String(value)}`);
  }
  return value;
}

export function resolvePostgresOptions(options: PostgresChannelLayerOptions): ResolvedPostgresOptions {
  for (const [old, now] of Object.entries(RENAMED)) {
    if ((options as Record<string, unknown>)[old] !== undefined)
      throw new InvalidOptions(`The option ${old} is now ${now}`);
  }
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
  const retryDelayMs = positive("retryDelayMs", options.retryDelayMs, 100);
  const maxRetryDelayMs = positive("maxRetryDelayMs", options.maxRetryDelayMs, Math.max(5000, retryDelayMs));
  if (maxRetryDelayMs < retryDelayMs) {
    throw new InvalidOptions(`maxRetryDelayMs (${maxRetryDelayMs}) must not be below retryDelayMs (${retryDelayMs})`);
  }
  return {
    prefix,
    schema,
    migrate: options.migrate ?? true,
    poolSize: positive("poolSize", options.poolSize, 10, true),
    cleanupIntervalMs: positive("cleanupIntervalMs", options.cleanupIntervalMs, 10_000),
    vacuumThreshold:
      options.vacuumThreshold === 0 ? 0 : positive("vacuumThreshold", options.vacuumThreshold, 10_000, true),
    pollIntervalMs: positive("pollIntervalMs", options.pollIntervalMs, 5000),
    timeoutMs: positive("timeoutMs", options.timeoutMs, 30_000),
    retryDelayMs,
    maxRetryDelayMs,
  };
}
