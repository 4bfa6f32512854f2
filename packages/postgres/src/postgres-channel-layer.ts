import {
  ChannelDiscarded,
  ChannelFull,
  type ChannelLayerStats,
  Extension,
  type GroupHistory,
  type GroupHistoryRule,
  type HistoryOffset,
  LayerClosed,
  type Message,
} from "@channel-layers/core";
import { BaseChannelLayer, instanceIdOf, MessageSerializer } from "@channel-layers/core/backend";
import pg from "pg";
import { encodeHistoryMessage, readHistory } from "./group-history.js";
import { type LayerNames, layerNames, notifyChannelOf } from "./layer-names.js";
import { NotificationListener } from "./listener.js";
import { Maintenance } from "./maintenance.js";
import { type PostgresChannelLayerOptions, type ResolvedPostgresOptions, resolvePostgresOptions } from "./options.js";
import { PostgresPresence } from "./presence-store.js";
import { Receivers } from "./receivers.js";
import { checkTables, installTables } from "./schema.js";
import type { PreparedStatement } from "./statements.js";
import { describeTarget, PostgresTransport, type Queryable } from "./transport.js";
import { WakeUps } from "./wake-ups.js";

/** send and groupSend bound to a client, so they commit or roll back with its transaction. */
export interface PostgresTransactionalSender {
  /** Queues `message` on `channel` when the transaction commits; rejects with ChannelFull when it holds `capacity` messages. */
  send(channel: string, message: Message): Promise<void>;
  /** Sends `message` to every member of `group` when the transaction commits, skipping full members. */
  groupSend(group: string, message: Message): Promise<void>;
}

/** stats(): the common counters and what this instance holds now. */
export interface PostgresChannelLayerStats extends ChannelLayerStats {
  /** Channels with local receive state (waiting receives or messages fetched for them). */
  channels: number;
  /** Whether the LISTEN connection is up. */
  listening: boolean;
}

/**
 * A channel layer on PostgreSQL. Messages are rows in `<prefix>_message` until a receive takes
 * them or they expire, so a message survives a server restart and any payload size works; NOTIFY
 * only wakes receivers, through one LISTEN connection per instance. `withClient(client)` sends
 * inside the caller's transaction. The design: docs/postgres.md.
 */
export class PostgresChannelLayer extends BaseChannelLayer {
  readonly extensions = [
    Extension.groups,
    Extension.flush,
    Extension.capacity,
    Extension.expiry,
    Extension.groupExpiry,
    Extension.buffered,
    Extension.presence,
    Extension.history,
  ] as const;
  /** The tables and NOTIFY channels this layer uses. */
  readonly names: LayerNames;
  private readonly settings: ResolvedPostgresOptions;
  private readonly transport: PostgresTransport;
  private readonly ownsPool: boolean;
  private readonly maintenance: Maintenance;
  private readonly wakeUps: WakeUps;
  private readonly receivers: Receivers;
  private readonly listener: NotificationListener;
  private readonly presences: PostgresPresence;
  /** Sends and groupSends on the pool under way: while any is, the next one batches its NOTIFY. */
  private sendsInFlight = 0;
  /** The caller's client while withClient() hands a call to the base's send or groupSend. */
  private transactionClient: pg.ClientBase | undefined;
  private knownOpen = false;

  constructor(options: PostgresChannelLayerOptions = {}) {
    // Checked before super(), which schedules the open: a layer refused here never tries to open.
    const settings = resolvePostgresOptions(options);
    super(options, "postgres");
    this.settings = settings;
    this.names = layerNames(settings.schema, settings.prefix);
    this.ownsPool = options.pool === undefined;
    const pool = options.pool ?? this.makePool(options.connectionString);
    this.transport = new PostgresTransport({
      pool,
      names: this.names,
      timeoutMs: settings.timeoutMs,
      // Nothing this layer writes holds the reserved key, so a row that does is no message of ours.
      serializer: new MessageSerializer({ maxMessageSize: this.options.maxMessageSize, allowChannelKey: false }),
      diagnostics: this.diagnostics,
      target: describeTarget(options.connectionString, options.pool),
    });
    const backoff = { initialMs: settings.retryDelayMs, maxMs: settings.maxRetryDelayMs };
    this.presences = new PostgresPresence(this.transport, this.instanceId);
    this.presenceStore = this.presences;
    this.maintenance = new Maintenance(this.transport, settings);
    this.wakeUps = new WakeUps(this.transport, backoff);
    this.receivers = new Receivers(this.transport, this.maintenance, this.diagnostics.counters, {
      pollIntervalMs: settings.pollIntervalMs,
      backoff,
    });
    this.listener = new NotificationListener(
      {
        config: options.pool ? { ...options.pool.options } : { connectionString: options.connectionString },
        channels: [this.names.notifyBase, this.ownNotifyChannel],
        applicationName: `channel-layers ${this.ownNotifyChannel}`,
        timeoutMs: settings.timeoutMs,
        backoff,
      },
      this.receivers,
      this.diagnostics,
    );
  }

  /**
   * The NOTIFY channel that wakes this instance's process-local channels; its LISTEN connection
   * shows in pg_stat_activity as application_name `channel-layers <this>`.
   */
  get ownNotifyChannel(): string {
    return notifyChannelOf(this.names, this.instanceId);
  }

  /**
   * Resolves once the layer is open (connected, tables checked or created, LISTENing); rejects
   * with BACKEND_UNAVAILABLE if it cannot be. Calls wait for this anyway: use it to fail fast at startup.
   */
  async ready(): Promise<void> {
    if (this.knownOpen) return this.assertOpen();
    // newChannel() waits for the open and does no I/O of its own here.
    await this.newChannel();
    this.knownOpen = true;
  }

  /**
   * send and groupSend through `client`, a connection inside the caller's transaction: the
   * messages are delivered only if that transaction commits (their wake-ups go out at commit),
   * and vanish with a rollback. The client must be connected to this layer's database.
   */
  withClient(client: pg.ClientBase): PostgresTransactionalSender {
    return {
      send: async (channel, message) => {
        await this.ready();
        return this.onClient(client, () => this.send(channel, message));
      },
      groupSend: async (group, message) => {
        await this.ready();
        return this.onClient(client, () => this.groupSend(group, message));
      },
    };
  }

  stats(): PostgresChannelLayerStats {
    return { ...this.commonStats(), channels: this.receivers.size, listening: this.listener.listening };
  }

  protected override async _open(): Promise<void> {
    try {
      if (this.settings.migrate) await installTables(this.transport.pool, this.names);
      else await checkTables(this.transport.pool, this.names);
      await this.listener.start();
    } catch (error) {
      throw this.transport.unavailable("open the channel layer", error);
    }
  }

  protected _send(channel: string, message: Message): Promise<void> {
    return this.sendOn(this.transactionClient ?? this.transport.pool, channel, message);
  }

  protected _receive(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    return this.receivers.take(channel, this.capacityFor(channel), signal);
  }

  protected async _groupAdd(group: string, channel: string): Promise<void> {
    const capacity = this.capacityFor(channel);
    // Whom groupSend wakes for this member: the instance that made it, or (null) every instance.
    await this.transport.run(this.transport.statements.groupAdd, "add to a group", [
      group,
      channel,
      capacity,
      this.groupExpiryMs,
      instanceIdOf(channel) ?? null,
    ]);
    this.maintenance.tick();
  }

  protected async _groupDiscard(group: string, channel: string): Promise<void> {
    await this.transport.run(this.transport.statements.groupDiscard, "discard from a group", [group, channel]);
  }

  protected _groupSend(group: string, message: Message): Promise<void> {
    const { transport } = this;
    const values = [group, transport.encode(message), this.expiryMs, this.names.notifyBase];
    const { groupSend: loud, groupSendQuiet: quiet } = transport.statements;
    return this.groupSendOn(this.transactionClient ?? transport.pool, { loud, quiet }, values);
  }

  /**
   * One statement, as a groupSend: it locks the group's history row, takes the next offset,
   * writes it into the message, keeps it (trimmed to the rule) and inserts the members' rows
   * (docs/postgres.md, "Group history"). In withClient's transaction, the lock is held until it ends.
   */
  protected override _groupSendWithHistory(group: string, message: Message, rule: GroupHistoryRule): Promise<void> {
    const db = this.transactionClient ?? this.transport.pool;
    const { payload, offsetAt } = encodeHistoryMessage(this.transport, message, group);
    const values = [
      group,
      payload,
      this.expiryMs,
      this.names.notifyBase,
      offsetAt,
      rule.maxLength,
      rule.maxAgeMs ?? null,
    ];
    const { groupSendHistory: loud, groupSendHistoryQuiet: quiet } = this.transport.statements;
    return this.groupSendOn(db, { loud, quiet }, values);
  }

  protected override _groupHistory(group: string, after: HistoryOffset, rule: GroupHistoryRule): Promise<GroupHistory> {
    return readHistory(this.transport, group, after, rule);
  }

  protected async _discardChannel(channel: string, groups: readonly string[]): Promise<void> {
    const own = this.isOwnChannel(channel);
    try {
      if (own || groups.length > 0) {
        await this.transport.run(this.transport.statements.discardChannel, "discard a channel", [channel, groups, own]);
      }
    } finally {
      // Last, so the rejections land right before this call resolves (see Receivers.stop).
      this.receivers.discard(channel, new ChannelDiscarded(channel));
    }
  }

  protected async _flush(): Promise<void> {
    this.receivers.dropBuffered();
    await this.transport.run(this.transport.statements.flush, "flush");
  }

  protected async _close(): Promise<void> {
    try {
      // The base has untracked this instance's presences by now.
      await this.presences
        .release(this.instanceId)
        .catch((error: unknown) => this.diagnostics.backgroundError(error, { work: "presence release" }));
      await this.receivers.stop();
      await this.wakeUps.close();
      await this.listener.close();
      await this.maintenance.close();
      if (this.ownsPool) await this.transport.pool.end();
    } finally {
      this.receivers.rejectAll(new LayerClosed());
    }
  }

  private makePool(connectionString: string | undefined): pg.Pool {
    const pool = new pg.Pool({
      ...(connectionString === undefined ? {} : { connectionString }),
      // JIT pays off for long analytic queries, never for these: a claim over thousands of
      // channels would spend longer compiling than running.
      ...(connectionString?.includes("options=") ? {} : { options: "-c jit=off" }),
      max: this.settings.poolSize,
      connectionTimeoutMillis: this.settings.timeoutMs,
    });
    // An idle connection the server drops emits "error" on the pool, which unhandled would end
    // the process; the next query opens a new connection.
    pool.on("error", (error) => this.diagnostics.backgroundError(error, { work: "pool" }));
    return pool;
  }

  /** Runs `call` (the base's send or groupSend, which reaches _send or _groupSend synchronously once open) on `client`. */
  private onClient(client: pg.ClientBase, call: () => Promise<void>): Promise<void> {
    this.transactionClient = client;
    try {
      return call();
    } finally {
      this.transactionClient = undefined;
    }
  }

  /**
   * A send on `db`. Alone on this instance it NOTIFYs in its own statement (one round trip);
   * overlapping other sends it commits without, and its wake-up goes out with theirs (WakeUps).
   * In the caller's transaction it always NOTIFYs itself, at that commit.
   */
  private async sendOn(db: Queryable, channel: string, message: Message): Promise<void> {
    const { transport } = this;
    const payload = transport.encode(message);
    const capacity = this.capacityFor(channel);
    const target = transport.notifyChannelFor(channel);
    const batched = db === transport.pool && (this.sendsInFlight > 0 || this.wakeUps.busy);
    this.sendsInFlight++;
    let result: pg.QueryResult;
    try {
      result = batched
        ? await transport.run(transport.statements.sendQuiet, "send", [channel, payload, this.expiryMs, capacity], db)
        : await transport.run(
            transport.statements.send,
            "send",
            [channel, payload, this.expiryMs, capacity, target],
            db,
          );
    } finally {
      this.sendsInFlight--;
    }
    if (result.rowCount === 0) {
      this.diagnostics.counters.channelFull++;
      throw new ChannelFull(channel, capacity);
    }
    this.maintenance.tick();
    if (batched) {
      this.wakeUps.add(target, channel);
      await this.wakeUps.flush();
    }
  }

  /**
   * Runs a groupSend statement (plain or history) on `db`: alone, the one that NOTIFYs itself
   * (`loud`); next to other sends, `quiet`, whose wake-ups go out with theirs, as sendOn's do.
   */
  private async groupSendOn(
    db: Queryable,
    { loud, quiet }: { loud: PreparedStatement; quiet: PreparedStatement },
    values: unknown[],
  ): Promise<void> {
    const { transport } = this;
    const batched = db === transport.pool && (this.sendsInFlight > 0 || this.wakeUps.busy);
    this.sendsInFlight++;
    try {
      if (!batched) {
        const sent = await transport.run<{ skipped: number }>(loud, "send to a group", values, db);
        this.diagnostics.counters.channelFull += sent.rows[0]?.skipped ?? 0;
        return;
      }
      const sent = await transport.run<{ skipped: number; targets: string[] | null; payloads: string[] | null }>(
        quiet,
        "send to a group",
        values,
        db,
      );
      const { skipped = 0, targets, payloads } = sent.rows[0] ?? {};
      this.diagnostics.counters.channelFull += skipped;
      for (const [i, target] of (targets ?? []).entries()) this.wakeUps.add(target, payloads?.[i] ?? "");
    } finally {
      this.sendsInFlight--;
      this.maintenance.tick();
    }
    await this.wakeUps.flush();
  }
}
