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
import {
  ALL_EXTENSIONS,
  BaseChannelLayer,
  instanceIdOf,
  isProcessLocal,
  MessageSerializer,
  stampHistory,
} from "@channel-layers/core/backend";
import { DurableChannels } from "./durable-channels.js";
import { FrameKind, FrameReader, FrameWriter } from "./frames.js";
import { GroupHistories, sequenceOf } from "./group-histories.js";
import { InstanceEndpoint } from "./instance-endpoint.js";
import { NamedMemberships } from "./named-memberships.js";
import { type NatsChannelLayerOptions, type ResolvedNatsOptions, resolveNatsOptions } from "./options.js";
import { type Limits, OwnChannels } from "./own-channels.js";
import { PresenceEntries } from "./presence-entries.js";
import { RemoteChannels } from "./remote-channels.js";
import { historyTag, SubjectMap } from "./subjects.js";
import { NatsTransport } from "./transport.js";

/** stats(): the common counters, the sizes of the layer's tables (all zero once consumers are gone) and what NATS can lose. */
export interface NatsChannelLayerStats extends ChannelLayerStats {
  /** Process-local channels holding messages or waiting receives. */
  localChannels: number;
  /** Groups with members among this instance's channels (one subscription each). */
  groups: number;
  /** Memberships of this instance's channels. */
  memberships: number;
  /** Named channels this instance has received on. */
  durableChannels: number;
  /**
   * Sends to other instances' process-local channels whose owner has not answered since a
   * timeout: maybe lost. Back to 0 once it answers, the lost ones then counted in `lostSends`.
   */
  unconfirmedSends: number;
  /** Sends to a process-local channel whose instance was gone: dropped, as nobody could receive them. */
  undeliverable: number;
  /** Large messages dropped because a chunk went missing. */
  incompleteTransfers: number;
  /** Durable messages dropped on arrival because they had outlived expiry. */
  expiredOnArrival: number;
  /** Durable messages redelivered after a server crash lost their acknowledgement, dropped as already received here. */
  duplicatesDropped: number;
  /** This instance's presence entries in JetStream (refreshed every presenceHeartbeatMs). */
  presenceEntries: number;
}

const RESOLVED = Promise.resolve();
const EXTENSIONS: readonly string[] = Object.freeze([...ALL_EXTENSIONS, Extension.presence, Extension.history]);

/**
 * A channel layer on NATS. Process-local channels (newChannel's) ride core NATS to the instance
 * that made them, which keeps their buffers in memory; named channels are durable JetStream
 * work queues; a groupSend is one publish that each instance with members fans out. See
 * docs/nats.md for the design and what each kind of channel guarantees.
 */
export class NatsChannelLayer extends BaseChannelLayer {
  readonly extensions = EXTENSIONS;
  /** The namespace of every subject and stream this layer uses. */
  readonly prefix: string;
  private readonly settings: ResolvedNatsOptions;
  private readonly transport: NatsTransport;
  /** This instance's process-local channels: buffers, memberships, group subscriptions. */
  private readonly own: OwnChannels;
  /** Other instances' process-local channels: every call on one is a frame to its owner. */
  private readonly remote: RemoteChannels;
  /** Answers other instances' frames about this instance's channels. */
  private readonly endpoint: InstanceEndpoint;
  /** Named channels: a JetStream stream each. */
  private readonly durable: DurableChannels;
  /** Group memberships of named channels, which no instance owns: a JetStream record per group. */
  private readonly namedMembers: NamedMemberships;
  /** Presence entries: a JetStream stream per prefix, a subject per track. */
  private readonly presences: PresenceEntries;
  /** Group histories: a JetStream stream per rule, a subject per group, republished to members. */
  private readonly histories: GroupHistories;
  /** Sends to `!` names no layer made: nobody can ever receive on them. */
  private unowned = 0;

  constructor(options: NatsChannelLayerOptions = {}) {
    super(options, "nats");
    this.settings = resolveNatsOptions(options);
    this.prefix = this.settings.prefix;
    const limits: Limits = {
      expiryMs: this.expiryMs,
      groupExpiryMs: this.groupExpiryMs,
      capacityFor: (channel) => this.capacityFor(channel),
    };
    // A peer's message holding `__asgi_channel__` is refused: this wire never carries it.
    const serializer = new MessageSerializer({ maxMessageSize: this.options.maxMessageSize, allowChannelKey: false });
    const subjects = new SubjectMap(this.prefix);
    this.transport = new NatsTransport(this.settings, subjects, this.instanceId, serializer, this.diagnostics);
    this.own = new OwnChannels(this.transport, limits);
    this.remote = new RemoteChannels(this.transport);
    this.endpoint = new InstanceEndpoint(this.transport, this.own);
    this.durable = new DurableChannels(this.transport, limits);
    this.namedMembers = new NamedMemberships(this.transport, limits.groupExpiryMs);
    this.presences = new PresenceEntries(
      this.transport,
      this.options.presenceTimeoutMs,
      this.options.presenceHeartbeatMs,
    );
    this.presenceStore = this.presences;
    this.histories = new GroupHistories(this.transport);
  }

  stats(): NatsChannelLayerStats {
    this.own.sweep();
    return {
      ...this.commonStats(),
      localChannels: this.own.channelCount,
      groups: this.own.groupCount,
      memberships: this.own.membershipCount,
      durableChannels: this.durable.channelCount,
      unconfirmedSends: this.remote.unconfirmed,
      undeliverable: this.unowned + this.remote.undeliverable,
      incompleteTransfers: this.own.incompleteTransfers + this.endpoint.incompleteTransfers,
      expiredOnArrival: this.durable.expired,
      duplicatesDropped: this.durable.duplicatesDropped,
      presenceEntries: this.presences.ownCount,
    };
  }

  /** Connects and subscribes; newChannel() resolves only after this, so others can reach its channels at once. */
  protected override async _open(): Promise<void> {
    await this.transport.connect(() => this.reconnected());
    try {
      this.endpoint.listen();
      this.durable.listen();
      this.transport.subscribe(this.transport.subjects.control, (msg) => this.flushNoticeArrived(msg.data));
      await this.transport.flush();
    } catch (error) {
      await this.transport.close(error);
      throw error;
    }
  }

  protected _send(channel: string, message: Message): Promise<void> {
    const body = this.transport.serializer.encode(message);
    const owner = instanceIdOf(channel);
    if (owner === this.instanceId) {
      // Our own channel: straight into its buffer, decoded from the bytes so the sender keeps its object.
      if (this.own.deliver(channel, this.transport.serializer.decode(body), false) >= 0) return RESOLVED;
      return Promise.reject(new ChannelFull(channel, this.capacityFor(channel)));
    }
    if (owner !== undefined) return this.remote.send(owner, channel, body);
    if (isProcessLocal(channel)) return this.dropUnowned(channel);
    return this.durable.publish(channel, body);
  }

  protected _receive(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    if (isProcessLocal(channel)) return this.own.take(channel, signal);
    return this.durable.receive(channel, signal);
  }

  protected async _groupAdd(group: string, channel: string): Promise<void> {
    const owner = instanceIdOf(channel);
    if (owner === this.instanceId) return this.own.join(group, channel);
    if (owner !== undefined) return this.remote.join(owner, group, channel);
    // A `!` name no layer made has no owner to remember it; nobody could receive on it anyway.
    if (!isProcessLocal(channel)) return this.namedMembers.add(group, channel);
  }

  protected async _groupDiscard(group: string, channel: string): Promise<void> {
    const owner = instanceIdOf(channel);
    if (owner === this.instanceId) return this.own.leave(group, channel);
    if (owner !== undefined) return this.remote.leave(owner, group, channel);
    if (!isProcessLocal(channel)) return this.namedMembers.remove(group, channel);
  }

  protected async _groupSend(group: string, message: Message): Promise<void> {
    const body = this.transport.serializer.encode(message);
    this.own.sendToGroup(group, body);
    const named = await this.namedMembers.members(group);
    if (named.length > 0) await this.durable.publishToMembers(named, body);
  }

  /**
   * Stored in the group's history stream, which numbers it and republishes it to every instance
   * with members (this one too), in stream order; named members get their copies from here. The
   * named-member read runs beside the store, so this costs no more round trips than a plain groupSend.
   */
  protected override async _groupSendWithHistory(
    group: string,
    message: Message,
    rule: GroupHistoryRule,
  ): Promise<void> {
    const body = this.transport.serializer.encode(message);
    const [offset, named] = await Promise.all([
      this.histories.append(group, body, rule),
      this.namedMembers.members(group),
    ]);
    // Our own members have it before this resolves, even when it came back ahead of its turn.
    const seq = sequenceOf(offset, historyTag(rule.maxLength, rule.maxAgeMs));
    if (seq !== undefined) await this.own.historyHandedOn(group, seq);
    if (named.length === 0) return;
    const stamped = this.transport.serializer.encode(stampHistory(message, group, offset));
    await this.durable.publishToMembers(named, stamped);
  }

  protected override _groupHistory(group: string, after: HistoryOffset, rule: GroupHistoryRule): Promise<GroupHistory> {
    return this.histories.read(group, after, rule);
  }

  protected async _discardChannel(channel: string, groups: readonly string[]): Promise<void> {
    const owner = instanceIdOf(channel);
    if (owner === this.instanceId) return this.own.discard(channel, new ChannelDiscarded(channel));
    if (owner !== undefined) return this.remote.discard(owner, channel);
    if (isProcessLocal(channel)) return;
    // A named channel stays for other workers: only this instance's receives and memberships go.
    this.durable.discard(channel, new ChannelDiscarded(channel));
    await Promise.all(groups.map((group) => this.namedMembers.remove(group, channel)));
  }

  /** Tells every other instance of the prefix to flush, and empties every stream of the prefix. */
  protected async _flush(): Promise<void> {
    this.forgetFlushed();
    // The base forgot this instance's tracks. Another instance's keep refreshing: those the purge
    // removed fail their revision check and are tracked again, those made after it are kept.
    this.presences.clear();
    const notice = new FrameWriter(1 + FrameWriter.stringSize(this.instanceId)).u8(FrameKind.flush);
    this.transport.publish(this.transport.subjects.control, notice.string(this.instanceId).bytes);
    await this.durable.purgePrefix();
    await this.transport.flush();
  }

  protected async _close(): Promise<void> {
    const closed = new LayerClosed();
    this.remote.close();
    // Held durable messages go back to the server before the connection closes.
    this.durable.releaseHeld();
    await this.transport.close(closed);
    this.durable.close(closed);
    this.own.close(closed);
    this.presences.clear();
  }

  /** The server may have forgotten pull requests, and owners' answers are stale: ask again. */
  private reconnected(): void {
    this.remote.forgetAnswers();
    this.durable.askAgain();
  }

  /** Forgets what flush() clears, on this instance: on its own flush and on another instance's notice. */
  private forgetFlushed(): void {
    this.own.flush();
    this.endpoint.flush();
    this.remote.forgetAnswers();
  }

  private flushNoticeArrived(data: Uint8Array): void {
    try {
      const reader = new FrameReader(data);
      if (reader.u8() === FrameKind.flush && reader.string() !== this.instanceId) this.forgetFlushed();
    } catch (error) {
      this.transport.dropUnreadable({ subject: this.transport.subjects.control }, error);
    }
  }

  private dropUnowned(channel: string): Promise<void> {
    this.unowned++;
    this.diagnostics.dropped("undeliverable", { channel });
    return RESOLVED;
  }
}
