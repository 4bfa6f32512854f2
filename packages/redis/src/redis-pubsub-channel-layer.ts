import {
  ChannelDiscarded,
  type ChannelLayerOptions,
  type ChannelLayerStats,
  Extension,
  LayerClosed,
  type Message,
} from "@channel-layers/core";
import { BaseChannelLayer, coarseNow, LocalMailboxes, MessageSerializer } from "@channel-layers/core/backend";
import { assertPrefix } from "./key-space.js";
import { LuaScript } from "./lua-script.js";
import { epochSeconds } from "./message-times.js";
import { RedisTransport } from "./redis-transport.js";
import { GROUP_ADD, GROUP_MEMBERS } from "./scripts.js";
import type { RedisClient, RedisHost, Shard } from "./shards.js";

/** Options of RedisPubSubChannelLayer: channels_redis' pub/sub layer's, camelCased. */
export interface RedisPubSubChannelLayerOptions extends ChannelLayerOptions {
  /** As RedisChannelLayer's `hosts` (URLs, ioredis options, Cluster seeds, or clients you own). Default `["redis://localhost:6379"]`. */
  hosts?: readonly RedisHost[];
  /** Prepended to group keys. Default `"asgi"`. */
  prefix?: string;
}

/** stats(): the common counters and what this instance holds. */
export interface RedisPubSubChannelLayerStats extends ChannelLayerStats {
  /** Channels this instance is subscribed to. */
  subscriptions: number;
}

/**
 * groupSend in one round trip: drops lapsed members, then PUBLISHes the message on each member's
 * channel. KEYS: group. ARGV: cutoff, message. Returns how many members it published to.
 */
const PUBLISH_TO_GROUP = new LuaScript(
  "pubsub-group-send",
  `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, channel in ipairs(members) do redis.call('PUBLISH', channel, ARGV[2]) end
return #members
`,
);

/**
 * channels_redis' RedisPubSubChannelLayer for Node: every message is a Redis PUBLISH on the
 * channel's own name (plain msgpack, as channels_redis' pub/sub layer writes it): the lowest
 * latency, and no persistence. What it cannot keep (capacity, expiry, buffering of a named channel
 * before anyone subscribes) it leaves out of `extensions`; see docs/redis.md.
 */
export class RedisPubSubChannelLayer extends BaseChannelLayer {
  readonly extensions = [Extension.groups, Extension.flush, Extension.groupExpiry] as const;
  readonly prefix: string;
  private readonly transport: RedisTransport;
  private readonly serializer: MessageSerializer;
  private readonly mailboxes = new LocalMailboxes(this.diagnostics.counters);
  /** Channel -> the subscription in progress or done, on its shard's subscriber connection. */
  private readonly subscriptions = new Map<string, Promise<void>>();
  private readonly subscribers = new Map<Shard, RedisClient>();

  constructor(options: RedisPubSubChannelLayerOptions = {}) {
    super(options, "redis-pubsub");
    const prefix = options.prefix ?? "asgi";
    assertPrefix(prefix);
    this.prefix = prefix;
    // The pub/sub wire never carries `__asgi_channel__`, so a peer's message holding it is refused.
    this.serializer = new MessageSerializer({ maxMessageSize: this.options.maxMessageSize, allowChannelKey: false });
    this.transport = new RedisTransport(options.hosts, this.prefix);
  }

  /** The common counters, and how many channels this instance is subscribed to. */
  stats(): RedisPubSubChannelLayerStats {
    return { ...this.commonStats(), subscriptions: this.subscriptions.size };
  }

  protected override async _open(): Promise<void> {
    await this.transport.open();
    this.transport.onReconnect((shard) => this.diagnostics.reconnected({ shard: shard.index }));
  }

  protected override async _newChannel(channel: string): Promise<void> {
    await this.subscribe(channel);
  }

  protected _send(channel: string, message: Message): Promise<void> {
    const payload = this.serializer.encode(message);
    const shard = this.shardOf(channel);
    shard.batchWrites();
    return this.transport.command(shard, "send", shard.client.publish(channel, payload)).then(ignore);
  }

  protected _receive(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    const taken = this.mailboxes.take(channel, signal);
    // Subscribed from now on; what is published before the subscription is in place is lost.
    if (!this.subscriptions.has(channel)) {
      this.subscribe(channel).catch((error: unknown) => this.diagnostics.backgroundError(error, { channel }));
    }
    if (signal !== undefined) taken.catch(ignore);
    return taken;
  }

  protected async _groupAdd(group: string, channel: string): Promise<void> {
    const shard = this.shardOf(group);
    const args = [epochSeconds(Date.now()), Math.max(1, Math.ceil(this.groupExpiryMs)), channel];
    await this.transport.run(shard, GROUP_ADD, [this.transport.keys.groupKey(group)], args, "groupAdd");
  }

  protected async _groupDiscard(group: string, channel: string): Promise<void> {
    const shard = this.shardOf(group);
    await this.transport.command(
      shard,
      "groupDiscard",
      shard.client.zrem(this.transport.keys.groupKey(group), channel),
    );
  }

  protected async _groupSend(group: string, message: Message): Promise<void> {
    const payload = this.serializer.encode(message);
    const shard = this.shardOf(group);
    const cutoff = epochSeconds(Date.now() - this.groupExpiryMs);
    const groupKey = this.transport.keys.groupKey(group);
    if (this.transport.single) {
      shard.batchWrites();
      await this.transport.run(shard, PUBLISH_TO_GROUP, [groupKey], [cutoff, payload], "groupSend");
      return;
    }
    // Each member is subscribed to on its own host: read the members, publish on each's host.
    const members = (await this.transport.run(shard, GROUP_MEMBERS, [groupKey], [cutoff], "groupSend")) as Buffer[];
    await Promise.all(
      members.map((member) => {
        const host = this.shardOf(member.toString());
        return this.transport.command(host, "groupSend", host.client.publish(member, payload));
      }),
    );
  }

  protected async _discardChannel(channel: string, groups: readonly string[]): Promise<void> {
    try {
      await Promise.all([
        ...groups.map((group) => {
          const shard = this.shardOf(group);
          const key = this.transport.keys.groupKey(group);
          return this.transport.command(shard, "discardChannel", shard.client.zrem(key, channel));
        }),
        this.unsubscribe(channel),
      ]);
    } finally {
      this.mailboxes.discard(channel, new ChannelDiscarded(channel));
    }
  }

  protected async _flush(): Promise<void> {
    this.mailboxes.dropBuffered();
    await this.transport.deleteLayerKeys();
  }

  protected async _close(): Promise<void> {
    const closed = new LayerClosed();
    this.subscribers.clear();
    this.subscriptions.clear();
    await this.transport.close(closed);
    this.mailboxes.clear(closed);
  }

  /** channels_redis' pub/sub shard of a channel or group: CRC32 of its name over the ring. */
  private shardOf(name: string): Shard {
    return this.transport.shardOfGroup(name);
  }

  private subscriber(shard: Shard): RedisClient {
    let subscriber = this.subscribers.get(shard);
    if (subscriber === undefined) {
      subscriber = shard.acquireBlocking();
      subscriber.on("messageBuffer", (channel: Buffer, payload: Buffer) => this.arrived(channel.toString(), payload));
      this.subscribers.set(shard, subscriber);
    }
    return subscriber;
  }

  private subscribe(channel: string): Promise<void> {
    let subscribed = this.subscriptions.get(channel);
    if (subscribed === undefined) {
      const shard = this.shardOf(channel);
      subscribed = this.transport
        .command(shard, "subscribe", this.subscriber(shard).subscribe(channel))
        .then(ignore, (error: unknown) => {
          this.subscriptions.delete(channel);
          throw error;
        });
      this.subscriptions.set(channel, subscribed);
    }
    return subscribed;
  }

  private async unsubscribe(channel: string): Promise<void> {
    if (!this.subscriptions.delete(channel)) return;
    const shard = this.shardOf(channel);
    await this.transport.command(shard, "unsubscribe", this.subscriber(shard).unsubscribe(channel));
  }

  /** A published message: decoded strictly (an undecodable one is counted and logged), then buffered. */
  private arrived(channel: string, payload: Buffer): void {
    const message = this.diagnostics.decodeOrDrop(this.serializer, payload, { channel });
    if (message === undefined) return;
    const now = coarseNow();
    const offered = this.mailboxes
      .open(channel, now)
      .offer(message, now + this.expiryMs, this.capacityFor(channel), now);
    if (!offered) this.diagnostics.lost(1, { channel, reason: "the channel's buffer is full" });
  }
}

function ignore(): void {}
