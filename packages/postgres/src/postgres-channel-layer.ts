import { debuglog } from "node:util";
import { ChannelDiscarded, ChannelFull, Extension, LayerClosed, type Message } from "@channel-layers/core";
import {
  assertChannelName,
  assertGroupName,
  BaseChannelLayer,
  MessageSerializer,
  validateMessage,
} from "@channel-layers/core/backend";
import pg from "pg";
import { backendUnavailable } from "./errors.js";
import { NotificationListener } from "./listener.js";
import { Maintenance } from "./maintenance.js";
import { type PostgresChannelLayerOptions, type ResolvedPostgresOptions, resolvePostgresOptions } from "./options.js";
import { Receipts } from "./receipts.js";
import { type ClaimedMessage, type ClaimRow, type ReadRow, Receivers } from "./receivers.js";
import { installTables } from "./schema.js";
import {
  buildStatements,
  type LayerNames,
  layerNames,
  notifyTarget,
  type PreparedStatement,
  type Statements,
} from "./sql.js";
import { WakeUps } from "./wake-ups.js";

const debug = debuglog("channel-layers-postgres");

/** Where a statement runs: the layer's pool, or a client inside the caller's transaction. */
type Queryable = pg.Pool | pg.ClientBase;

/** send and groupSend bound to a client, so they commit or roll back with its transaction. */
export interface PostgresTransactionalSender {
  /** Queues `message` on `channel` when the transaction commits; rejects with ChannelFull when it holds `capacity` messages. */
  send(channel: string, message: Message): Promise<void>;
  /** Sends `message` to every member of `group` when the transaction commits, skipping full members. */
  groupSend(group: string, message: Message): Promise<void>;
}

const RESOLVED = Promise.resolve();
/**
 * Channels from which a claim scans all of their messages in one index scan rather than probing
 * each for its oldest: probing costs a fixed overhead per channel, the scan one per message, and
 * a channel holds at most its capacity. A claim this wide is a groupSend's members coming back.
 */
const WIDE_CLAIM = 64;

/**
 * A channel layer on PostgreSQL. Messages are rows in `<prefix>_message` until a receive takes
 * them or they expire, so a message survives a server restart and any payload size works;
 * NOTIFY only wakes receivers. Each instance holds one LISTEN connection, outside the pool, that
 * reconnects on its own and then looks at the table again, so nothing sent meanwhile is lost.
 * `withClient(client)` sends inside the caller's transaction: delivered only if it commits.
 */
export class PostgresChannelLayer extends BaseChannelLayer {
  readonly extensions = [
    Extension.groups,
    Extension.flush,
    Extension.capacity,
    Extension.expiry,
    Extension.groupExpiry,
    Extension.buffered,
  ] as const;
  readonly postgresOptions: ResolvedPostgresOptions;
  /** The tables and NOTIFY channels this layer uses. */
  readonly names: LayerNames;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly statements: Statements;
  private readonly serializer: MessageSerializer;
  private readonly listener: NotificationListener;
  private readonly receivers: Receivers;
  private started = false;
  private starting: Promise<void> | undefined;
  private readonly maintenance: Maintenance;
  private readonly wakeUps: WakeUps;
  /** Sends and groupSends on the pool under way: while any is, the next one batches its NOTIFY. */
  private sendsInFlight = 0;

  constructor(options: PostgresChannelLayerOptions = {}) {
    super(options);
    const resolved = resolvePostgresOptions(options);
    this.postgresOptions = resolved;
    this.names = layerNames(resolved.schema, resolved.prefix);
    this.statements = buildStatements(this.names);
    this.serializer = new MessageSerializer({ maxMessageSize: this.options.maxMessageSize });
    let listenConfig: pg.ClientConfig;
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
      listenConfig = { ...options.pool.options };
    } else {
      listenConfig = options.connectionString === undefined ? {} : { connectionString: options.connectionString };
      // JIT compilation pays off for long analytic queries, never for these: a claim over
      // thousands of channels crosses jit_above_cost and would spend longer compiling than running.
      const sessionOptions = options.connectionString?.includes("options=") ? {} : { options: "-c jit=off" };
      this.pool = new pg.Pool({
        ...listenConfig,
        ...sessionOptions,
        max: resolved.poolSize,
        connectionTimeoutMillis: resolved.timeoutMs,
      });
      this.ownsPool = true;
      // An idle pooled connection the server drops emits "error" on the pool; without a handler
      // that would end the process. The next query simply opens a new connection.
      this.pool.on("error", (error) => debug("pooled connection dropped: %s", error.message));
    }
    this.listener = new NotificationListener(
      listenConfig,
      {
        channels: [this.names.notifyBase, this.ownNotifyChannel],
        applicationName: `channel-layers ${this.ownNotifyChannel}`,
        reconnectDelayMs: resolved.reconnectDelayMs,
        maxReconnectDelayMs: resolved.maxReconnectDelayMs,
        heartbeatMs: resolved.timeoutMs,
      },
      {
        notified: (channel, payload) => this.wake(channel, payload),
        reconnected: () => this.receivers.recheckAll(),
      },
    );
    this.maintenance = new Maintenance({
      pool: this.pool,
      cleanup: this.statements.cleanup,
      messageTable: this.names.messageTable,
      cleanupIntervalMs: resolved.cleanupIntervalMs,
      vacuumThreshold: resolved.vacuumThreshold,
    });
    this.wakeUps = new WakeUps(
      async (targets, payloads) => {
        await this.run(this.pool, this.statements.notify, "notify", [targets, payloads]);
      },
      resolved.reconnectDelayMs,
      resolved.maxReconnectDelayMs,
    );
    const receipts = new Receipts(
      async (rows, ids) => {
        const result = await this.pool.query(this.config(this.statements.receipt, [rows, ids]));
        return result.rowCount ?? 0;
      },
      (count) => {
        this.maintenance.received(count);
        this.maintenance.tick();
      },
      resolved.reconnectDelayMs,
      resolved.maxReconnectDelayMs,
    );
    this.receivers = new Receivers({
      claim: (channels, counts) => this.claim(channels, counts),
      read: async (channels, counts) => {
        const result = await this.pool.query<ReadRow>(this.config(this.statements.read, [channels, counts]));
        return result.rows;
      },
      readRange: async (lows, highs, limit) => {
        const result = await this.pool.query<ReadRow>(this.config(this.statements.readRange, [lows, highs, limit]));
        return result.rows;
      },
      receipts,
      capacityFor: (channel) => this.capacityFor(channel),
      putBack: (messages) => this.putBack(messages),
      pollIntervalMs: resolved.pollIntervalMs,
      retryDelayMs: resolved.reconnectDelayMs,
      maxRetryDelayMs: resolved.maxReconnectDelayMs,
    });
  }

  /**
   * The NOTIFY channel that wakes this instance's process-local channels; its LISTEN connection
   * shows in pg_stat_activity as application_name `channel-layers <this>`.
   */
  get ownNotifyChannel(): string {
    return `${this.names.notifyBase}_${this.instanceId}`;
  }

  /**
   * Creates the tables if needed and opens the LISTEN connection. Every call does this on first
   * use; call it at startup to fail fast (BackendUnavailable) when the database is unreachable.
   */
  ready(): Promise<void> {
    this.assertOpen();
    if (this.started) return RESOLVED;
    this.starting ??= this.start().then(
      () => {
        this.started = true;
      },
      (error: unknown) => {
        this.starting = undefined;
        throw backendUnavailable("start the channel layer", error);
      },
    );
    return this.starting;
  }

  /**
   * send and groupSend through `client`, a connection inside the caller's transaction: the
   * messages are delivered only if that transaction commits (and their wake-ups go out at
   * commit), and vanish with a rollback. The client must be connected to this layer's database.
   */
  withClient(client: pg.ClientBase): PostgresTransactionalSender {
    return {
      send: async (channel, message) => {
        this.assertOpen();
        assertChannelName(channel);
        validateMessage(message);
        const payload = this.serializer.encode(message);
        await this.ready();
        return this.sendEncoded(client, channel, payload);
      },
      groupSend: async (group, message) => {
        this.assertOpen();
        assertGroupName(group);
        validateMessage(message);
        const payload = this.serializer.encode(message);
        await this.ready();
        return this.groupSendEncoded(client, group, payload);
      },
    };
  }

  /** A claimed message's payload, decoded. */
  private readonly decode = (claimed: ClaimedMessage): Message => this.serializer.decode(claimed.payload);

  /** Channels with local receive state (waiting receives or claimed messages); for leak checks. */
  get localChannels(): number {
    return this.receivers.size;
  }

  protected _send(channel: string, message: Message): Promise<void> {
    const payload = this.serializer.encode(message);
    if (!this.started) return this.ready().then(() => this.sendEncoded(this.pool, channel, payload));
    return this.sendEncoded(this.pool, channel, payload);
  }

  protected _receive(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    if (!this.started) {
      return this.ready().then(() => {
        this.assertOpen();
        return this._receive(channel, signal);
      });
    }
    return this.receivers.take(channel, signal, this.decode);
  }

  protected async _groupAdd(group: string, channel: string): Promise<void> {
    await this.ready();
    await this.run(this.pool, this.statements.groupAdd, "add to a group", [
      group,
      channel,
      this.capacityFor(channel),
      this.groupExpiryMs,
    ]);
    this.maintenance.tick();
  }

  protected async _groupDiscard(group: string, channel: string): Promise<void> {
    await this.ready();
    await this.run(this.pool, this.statements.groupDiscard, "discard from a group", [group, channel]);
  }

  protected _groupSend(group: string, message: Message): Promise<void> {
    const payload = this.serializer.encode(message);
    if (!this.started) return this.ready().then(() => this.groupSendEncoded(this.pool, group, payload));
    return this.groupSendEncoded(this.pool, group, payload);
  }

  protected async _discardChannel(channel: string, groups: readonly string[]): Promise<void> {
    const own = this.isOwnChannel(channel);
    try {
      if (own || groups.length > 0) {
        await this.ready();
        await this.run(this.pool, this.statements.discardChannel, "discard a channel", [channel, groups, own]);
      }
    } finally {
      // Last, so the rejections land right before this call resolves (see Receivers.stop).
      this.receivers.discard(channel, new ChannelDiscarded(channel));
    }
  }

  protected async _flush(): Promise<void> {
    await this.ready();
    this.receivers.dropBuffered();
    await this.run(this.pool, this.statements.flush, "flush");
  }

  protected async _close(): Promise<void> {
    try {
      await this.starting?.catch(() => undefined);
      await this.receivers.stop();
      await this.wakeUps.close();
      await this.listener.close();
      await this.maintenance.close();
      if (this.ownsPool) await this.pool.end();
    } finally {
      this.receivers.rejectAll(new LayerClosed());
    }
  }

  private async start(): Promise<void> {
    if (this.postgresOptions.migrate) await installTables(this.pool, this.names);
    await this.listener.start();
  }

  /**
   * A send on `db`. Alone on this instance it NOTIFYs in its own statement (one round trip, the
   * lowest latency); overlapping other sends it commits without, and its wake-up goes out with
   * theirs (see WakeUps). In the caller's transaction it always NOTIFYs itself, at that commit.
   */
  private async sendEncoded(db: Queryable, channel: string, payload: Buffer): Promise<void> {
    const capacity = this.capacityFor(channel);
    const target = notifyTarget(this.names, channel);
    const batched = db === this.pool && (this.sendsInFlight > 0 || this.wakeUps.busy);
    this.sendsInFlight++;
    let result: pg.QueryResult;
    try {
      result = batched
        ? await this.run(db, this.statements.sendQuiet, "send", [channel, payload, this.expiryMs, capacity])
        : await this.run(db, this.statements.send, "send", [channel, payload, this.expiryMs, capacity, target]);
    } finally {
      this.sendsInFlight--;
    }
    if (result.rowCount === 0) throw new ChannelFull(channel, capacity);
    this.maintenance.tick();
    if (batched) {
      this.wakeUps.add(target, channel);
      await this.wakeUps.flush();
    }
  }

  private async groupSendEncoded(db: Queryable, group: string, payload: Buffer): Promise<void> {
    const batched = db === this.pool && (this.sendsInFlight > 0 || this.wakeUps.busy);
    const values = [group, payload, this.expiryMs, this.names.notifyBase];
    this.sendsInFlight++;
    try {
      if (!batched) {
        await this.run(db, this.statements.groupSend, "send to a group", values);
        return;
      }
      const wakes = await this.run<{ target: string; payload: string }>(
        db,
        this.statements.groupSendQuiet,
        "send to a group",
        values,
      );
      for (const wake of wakes.rows) this.wakeUps.add(wake.target, wake.payload);
    } finally {
      this.sendsInFlight--;
      this.maintenance.tick();
    }
    await this.wakeUps.flush();
  }

  /** A NOTIFY arrived: its payload lists the channels it is for, or is empty for "all of them". */
  private wake(notifyChannel: string, payload: string): void {
    if (payload === "") {
      this.receivers.notifiedAll(notifyChannel === this.names.notifyBase);
    } else if (payload.includes(" ")) {
      for (const channel of payload.split(" ")) this.receivers.notified(channel);
    } else {
      this.receivers.notified(payload);
    }
  }

  private async claim(channels: string[], counts: number[]): Promise<ClaimRow[]> {
    const statement = channels.length >= WIDE_CLAIM ? this.statements.claimWide : this.statements.claim;
    const result = await this.pool.query<ClaimRow>(this.config(statement, [channels, counts]));
    this.maintenance.received(result.rowCount ?? 0);
    this.maintenance.tick();
    return result.rows;
  }

  /** Returns claimed messages nobody took to the table, in the background (close() waits for it). */
  private putBack(messages: ClaimedMessage[]): void {
    const work = (async () => {
      for (const message of messages) {
        await this.run(this.pool, this.statements.putBack, "put a message back", [
          message.id,
          message.channel,
          message.expiresAt,
          message.payload,
          notifyTarget(this.names, message.channel),
        ]);
      }
    })().catch((error: unknown) => debug("could not put claimed messages back: %s", (error as Error).message));
    this.maintenance.track(work);
  }

  /** A statement's query config, with a reply timeout (pg's `query_timeout`, missing from @types/pg). */
  private config(statement: PreparedStatement, values: unknown[]): pg.QueryConfig {
    const config: pg.QueryConfig = { name: statement.name, text: statement.text, values };
    return Object.assign(config, { query_timeout: this.postgresOptions.timeoutMs });
  }

  private async run<R extends pg.QueryResultRow = pg.QueryResultRow>(
    db: Queryable,
    statement: PreparedStatement,
    action: string,
    values: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    try {
      return await db.query<R>(this.config(statement, values));
    } catch (error) {
      throw backendUnavailable(action, error);
    }
  }
}
