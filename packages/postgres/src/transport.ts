import type { ChannelLayerError, LogDetails, Message } from "@channel-layers/core";
import { instanceIdOf, type LayerDiagnostics, type MessageSerializer, redactUrl } from "@channel-layers/core/backend";
import type pg from "pg";
import { backendUnavailable } from "./errors.js";
import { type LayerNames, notifyChannelOf } from "./layer-names.js";
import { buildStatements, type PreparedStatement, type Statements } from "./statements.js";

/** Where a statement runs: the layer's pool, or a client inside the caller's transaction. */
export type Queryable = pg.Pool | pg.ClientBase;

/** What the transport is made from (see PostgresTransport). */
export interface TransportParts {
  pool: pg.Pool;
  names: LayerNames;
  /** Reply timeout of every statement, in ms. */
  timeoutMs: number;
  serializer: MessageSerializer;
  diagnostics: LayerDiagnostics;
  /** Where the layer connects, for messages (credentials redacted). */
  target: string;
}

/**
 * One layer instance's way to its database, handed to every helper: the pool, the statements,
 * pg errors mapped to the layer's, and the decoding of what peers wrote.
 */
export class PostgresTransport {
  readonly pool: pg.Pool;
  readonly names: LayerNames;
  readonly statements: Statements;
  readonly diagnostics: LayerDiagnostics;
  /** Where the layer connects, for messages (credentials redacted). */
  readonly target: string;
  private readonly timeoutMs: number;
  private readonly serializer: MessageSerializer;

  constructor(parts: TransportParts) {
    this.pool = parts.pool;
    this.names = parts.names;
    this.statements = buildStatements(parts.names);
    this.diagnostics = parts.diagnostics;
    this.target = parts.target;
    this.timeoutMs = parts.timeoutMs;
    this.serializer = parts.serializer;
  }

  /** Runs `statement` on `db`; rejects with BackendUnavailable saying what the layer was doing. */
  async run<R extends pg.QueryResultRow = pg.QueryResultRow>(
    statement: PreparedStatement,
    action: string,
    values: unknown[] = [],
    db: Queryable = this.pool,
  ): Promise<pg.QueryResult<R>> {
    try {
      return await db.query<R>(this.config(statement, values));
    } catch (error) {
      throw this.unavailable(action, error);
    }
  }

  /** Runs `statement` on the pool and rejects with pg's own error, for loops that retry what is transient. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    statement: PreparedStatement,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(this.config(statement, values));
  }

  /** pg's error as BackendUnavailable, naming `action`. */
  unavailable(action: string, error: unknown): ChannelLayerError {
    return backendUnavailable(action, error, this.target);
  }

  /** The NOTIFY channel that wakes whoever can receive `channel`: its instance, or every instance. */
  notifyChannelFor(channel: string): string {
    return notifyChannelOf(this.names, instanceIdOf(channel));
  }

  /** A message as the table stores it; rejects a message over maxMessageSize with MESSAGE_TOO_LARGE. */
  encode(message: Message): Buffer {
    return this.serializer.encode(message);
  }

  /**
   * A payload from a table as a message, or undefined once it is counted and logged as
   * undecodable; `where` names the row (a channel's message, a group's history, a presence).
   */
  decode(payload: Buffer, where: string | LogDetails): Message | undefined {
    return this.diagnostics.decodeOrDrop(
      this.serializer,
      payload,
      typeof where === "string" ? { channel: where } : where,
    );
  }

  /** A statement's query config, with a reply timeout (pg's `query_timeout`, missing from @types/pg). */
  private config(statement: PreparedStatement, values: unknown[]): pg.QueryConfig {
    const config: pg.QueryConfig = { name: statement.name, text: statement.text, values };
    return Object.assign(config, { query_timeout: this.timeoutMs });
  }
}

/** Where a layer connects, for messages: its connection string with credentials redacted, or what the pool says. */
export function describeTarget(connectionString: string | undefined, pool: pg.Pool | undefined): string {
  if (connectionString !== undefined) return redactUrl(connectionString);
  const options = (pool?.options ?? {}) as pg.PoolConfig;
  if (options.connectionString !== undefined) return redactUrl(options.connectionString);
  const host = options.host ?? process.env.PGHOST ?? "localhost";
  const port = options.port ?? process.env.PGPORT ?? 5432;
  const database = options.database ?? process.env.PGDATABASE ?? "";
  return `${host}:${port}/${database}`;
}
