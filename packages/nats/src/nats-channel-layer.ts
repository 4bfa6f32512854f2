import { BackendUnavailable, ChannelDiscarded, ChannelFull, LayerClosed, type Message } from "@channel-layers/core";
import { ALL_EXTENSIONS, BaseChannelLayer, isProcessLocal, MessageSerializer } from "@channel-layers/core/backend";
import { connect } from "@nats-io/transport-node";
import { LocalChannels } from "./local-channels.js";
import { type NatsChannelLayerOptions, type ResolvedNatsOptions, resolveNatsOptions } from "./options.js";
import { Session } from "./session.js";
import { ownerOf, SubjectMap } from "./subjects.js";

/** Counters and table sizes of one layer instance: for leak checks and for counting loss in faults. */
export interface NatsChannelLayerStats {
  /** Process-local channels holding messages or waiting receives. */
  localChannels: number;
  /** Groups with members among this instance's channels (one subscription each). */
  groups: number;
  /** Memberships of this instance's channels. */
  memberships: number;
  /** Named channels this instance has received on. */
  durableChannels: number;
  /**
   * Sends to other instances' process-local channels that the owner's own count shows it never
   * got (lost in a crash or disconnect on the way, though the send had resolved).
   */
  lostSends: number;
  /**
   * Sends to other instances' process-local channels not yet accounted for because their owner
   * has not answered since (a timeout): maybe lost. Falls back to 0 once the owner answers again,
   * the lost ones then counted in `lostSends`.
   */
  unconfirmedSends: number;
  /** Sends to a process-local channel whose instance was gone: dropped, as nobody could receive them. */
  undeliverable: number;
  /** Group messages a member of this instance missed because its buffer was full. */
  skippedFull: number;
  /** Large messages dropped because a chunk went missing. */
  incompleteTransfers: number;
  /** Durable messages dropped on arrival because they had outlived expiry. */
  expiredOnArrival: number;
  /**
   * Durable messages redelivered after a server crash lost their acknowledgement, and dropped
   * because this instance had already received them.
   */
  duplicatesDropped: number;
  /** Times the connection came back after a loss. */
  reconnects: number;
}

const RESOLVED = Promise.resolve();

/**
 * A channel layer on NATS. Process-local channels (newChannel's) ride core NATS: each instance
 * has one subscription, and holds its channels' buffers, capacity and expiry in memory, as the
 * in-memory layer does. Named channels are durable: a JetStream work-queue stream each, so their
 * messages survive a server restart and go to exactly one receiver. Groups are one publish per
 * groupSend on the group's subject; every instance with members fans out to its own. See
 * docs/nats.md for the design and the guarantees of each kind of channel.
 */
export class NatsChannelLayer extends BaseChannelLayer {
  readonly extensions = ALL_EXTENSIONS;
  readonly prefix: string;
  private readonly nats: ResolvedNatsOptions;
  private readonly subjects: SubjectMap;
  private readonly serializer: MessageSerializer;
  private readonly local: LocalChannels;
  private session: Session | undefined;
  private connecting: Promise<Session> | undefined;
  private undeliverable = 0;

  constructor(options: NatsChannelLayerOptions = {}) {
    super(options);
    this.nats = resolveNatsOptions(options);
    this.prefix = this.nats.prefix;
    this.subjects = new SubjectMap(this.nats.prefix);
    this.serializer = new MessageSerializer({ maxMessageSize: this.options.maxMessageSize });
    this.local = new LocalChannels(this.expiryMs, (channel) => this.capacityFor(channel));
  }

  get stats(): NatsChannelLayerStats {
    this.local.mailboxes.sweep();
    const session = this.session;
    return {
      localChannels: this.local.mailboxes.size,
      groups: this.local.groupCount,
      memberships: this.local.membershipCount,
      durableChannels: session?.durable.channelCount ?? 0,
      lostSends: session?.remote.lost ?? 0,
      unconfirmedSends: session?.remote.unconfirmed ?? 0,
      undeliverable: this.undeliverable + (session?.remote.undeliverable ?? 0),
      skippedFull: this.local.skippedFull,
      incompleteTransfers: session?.chunks.incomplete ?? 0,
      expiredOnArrival: session?.durable.expired ?? 0,
      duplicatesDropped: session?.durable.duplicatesDropped ?? 0,
      reconnects: session?.reconnects ?? 0,
    };
  }

  protected override async _newChannel(): Promise<void> {
    // Others can send to the name only once this instance's subscription is in place.
    await this.ready();
  }

  protected _send(channel: string, message: Message): Promise<void> {
    const body = this.serializer.encode(message);
    if (isProcessLocal(channel)) {
      if (this.isOwnChannel(channel)) {
        // Our own channel: straight into its buffer, a copy so the sender keeps its object.
        if (this.local.deliver(channel, this.serializer.decode(body), false) >= 0) return RESOLVED;
        return Promise.reject(new ChannelFull(channel, this.capacityFor(channel)));
      }
      const owner = ownerOf(channel);
      if (owner === undefined) {
        // A `!` name no layer made: nobody can ever receive on it.
        this.undeliverable++;
        return RESOLVED;
      }
      const session = this.session;
      if (session) return session.sendToInstance(channel, owner, body);
      return this.ready().then((ready) => ready.sendToInstance(channel, owner, body));
    }
    return this.ready().then((session) => session.durable.publish(channel, body));
  }

  protected _receive(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    if (isProcessLocal(channel)) return this.local.mailboxes.take(channel, signal);
    const session = this.session;
    if (session) return session.durable.receive(channel, signal);
    return this.ready().then((ready) => ready.durable.receive(channel, signal));
  }

  protected async _groupAdd(group: string, channel: string): Promise<void> {
    const session = await this.ready();
    if (!isProcessLocal(channel)) return session.memberships.add(group, channel);
    if (this.isOwnChannel(channel)) {
      this.local.join(group, channel, Date.now() + this.groupExpiryMs);
      return session.groups.subscribe(group);
    }
    const owner = ownerOf(channel);
    if (owner !== undefined) await session.join(owner, group, channel);
  }

  protected async _groupDiscard(group: string, channel: string): Promise<void> {
    const session = await this.ready();
    if (!isProcessLocal(channel)) return session.memberships.remove(group, channel);
    if (this.isOwnChannel(channel)) {
      if (this.local.leave(group, channel)) session.groups.unsubscribe(group);
      return;
    }
    const owner = ownerOf(channel);
    if (owner !== undefined) await session.leave(owner, group, channel);
  }

  protected async _groupSend(group: string, message: Message): Promise<void> {
    const body = this.serializer.encode(message);
    const session = this.session ?? (await this.ready());
    // Our own members first and at once, so a send after this groupSend never overtakes it.
    if (this.local.hasGroup(group)) this.local.fanOut(group, this.serializer.decode(body));
    session.publishToGroup(group, body);
    const named = await session.memberships.members(group);
    if (named.length === 0) return;
    const outcomes = await Promise.allSettled(named.map((channel) => session.durable.publish(channel, body)));
    for (const outcome of outcomes) {
      if (outcome.status === "rejected" && !(outcome.reason instanceof ChannelFull)) throw outcome.reason;
    }
  }

  protected async _discardChannel(channel: string, groups: readonly string[]): Promise<void> {
    if (isProcessLocal(channel) && this.isOwnChannel(channel)) {
      const emptied = this.local.discard(channel, new ChannelDiscarded(channel));
      const session = this.session;
      if (session) for (const group of emptied) session.groups.unsubscribe(group);
      return;
    }
    const session = await this.ready();
    if (isProcessLocal(channel)) {
      const owner = ownerOf(channel);
      if (owner !== undefined) await session.discard(owner, channel);
      return;
    }
    session.durable.discard(channel, new ChannelDiscarded(channel));
    await Promise.all(groups.map((group) => session.memberships.remove(group, channel)));
  }

  protected async _flush(): Promise<void> {
    const session = await this.ready();
    session.flushedHere();
    await session.flush();
  }

  protected async _close(): Promise<void> {
    const closed = new LayerClosed();
    const session = this.session ?? (await this.connecting?.catch(() => undefined));
    this.session = undefined;
    await session?.close(closed, this.nats.connection === undefined);
    this.local.clear(closed);
  }

  /** The session, connecting first if needed; a failed connect is tried again by the next call. */
  private ready(): Promise<Session> {
    if (this.session) return Promise.resolve(this.session);
    this.connecting ??= this.connect().then(
      (session) => {
        if (this.closed) {
          void session.close(new LayerClosed(), this.nats.connection === undefined);
          throw new LayerClosed();
        }
        this.session = session;
        return session;
      },
      (error: unknown) => {
        this.connecting = undefined;
        throw error;
      },
    );
    return this.connecting;
  }

  private async connect(): Promise<Session> {
    let nc = this.nats.connection;
    if (nc === undefined) {
      try {
        nc = await connect({
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          name: `channel-layers ${this.nats.prefix}`,
          ...this.nats.connectOptions,
          servers: this.nats.servers,
        });
      } catch (cause) {
        throw new BackendUnavailable(
          `Could not connect to NATS at ${String(this.nats.servers)}: ${(cause as Error).message}`,
          { cause },
        );
      }
    }
    return Session.open(nc, {
      instanceId: this.instanceId,
      subjects: this.subjects,
      local: this.local,
      serializer: this.serializer,
      expiryMs: this.expiryMs,
      groupExpiryMs: this.groupExpiryMs,
      requestTimeoutMs: this.nats.requestTimeoutMs,
      ackWaitMs: this.nats.ackWaitMs,
      capacityFor: (channel) => this.capacityFor(channel),
    });
  }
}
