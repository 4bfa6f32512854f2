import {
  ChannelDiscarded,
  type ChannelLayerOptions,
  Extension,
  InvalidOptions,
  LayerClosed,
  type Message,
} from "@channel-layers/core";
import { BaseChannelLayer, coarseNow, LocalMailboxes, MessageSerializer } from "@channel-layers/core/backend";
import { consistentHash } from "./hash-ring.js";
import { KeySpace } from "./key-space.js";
import { GROUP_ADD, GROUP_MEMBERS, LuaScript, type RedisClient } from "./scripts.js";
import { connectShards, type RedisHost, type Shard, unavailable } from "./shards.js";

/** Options of RedisPubSubChannelLayer: channels_redis' pub/sub layer's, camelCased. */
export interface RedisPubSubChannelLayerOptions extends ChannelLayerOptions {
  /** As RedisChannelLayer's `hosts` (URLs, ioredis options, Cluster seeds, or clients you own). Default `["redis://localhost:6379"]`. */
  hosts?: readonly RedisHost[];
  /** Prepended to group keys. Default `"asgi"`. */
  prefix?: string;
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
 * channel's own name (plain msgpack, as channels_redis' pub/sub layer writes it), so the only
 * cost is one PUBLISH and the fan-out Redis does anyway: the lowest latency, and no persistence.
 *
 * What it cannot keep, and so does not list in `extensions`: a message reaches only the
 * instances subscribed to the channel when it is published (a process-local channel is
 * subscribed from newChannel() on, a named one from its first receive on, until discardChannel
 * or close), so a named channel does not hold messages for a later receiver ("buffered"), and
 * every subscribed instance gets a copy; there is no capacity (a subscribed channel's local
 * buffer keeps at most `capacity` messages and drops what comes beyond), and a message is lost if
 * Redis or the connection fails while it is on its way. Group memberships are kept in Redis
 * (`<prefix>:group:<name>`, with groupExpiry), so any instance can add any channel.
 */
export class RedisPubSubChannelLayer extends BaseChannelLayer {
  readonly extensions = [Extension.groups, Extension.flush, Extension.groupExpiry] as const;
  readonly prefix: string;
  private readonly shards: Shard[];
  private readonly keys: KeySpace;
  private readonly serializer: MessageSerializer;
  private readonly mailboxes = new LocalMailboxes();
  /** Channel -> the subscription in progress or done, on its shard's subscriber connection. */
  private readonly subscriptions = new Map<string, Promise<void>>();
  private readonly subscribers = new Map<Shard, RedisClient>();

  constructor(options: RedisPubSubChannelLayerOptions = {}) {
    super(options);
    const prefix = options.prefix ?? "asgi";
    if (typeof prefix !== "string") throw new InvalidOptions("prefix must be a string");
    this.prefix = prefix;
    this.serializer = new MessageSerializer({ maxMessageSize: this.options.maxMessageSize });
    this.shards = connectShards(options.hosts);
    this.keys = new KeySpace(prefix, this.shards[0]?.isCluster ?? false);
  }

  protected override async _newChannel(channel: string): Promise<void> {
    await this.subscribe(channel);
  }

  protected _send(channel: string, message: Message): Promise<void> {
    const payload = this.serializer.encode(message);
    const shard = this.shardOf(channel);
    shard.batchWrites();
    return shard.client.publish(channel, payload).then(
      () => undefined,
      (error: unknown) => {
        throw shard.unavailable("send", error);
      },
    );
  }

  protected _receive(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    const taken = this.mailboxes.take(channel, signal);
    // Subscribed from now on; what is published before the subscription is in place is lost.
    if (!this.subscriptions.has(channel)) this.subscribe(channel).catch(() => undefined);
    if (signal !== undefined) taken.catch(ignore);
    return taken;
  }

  protected async _groupAdd(group: string, channel: string): Promise<void> {
    await GROUP_ADD.run(
      this.shardOf(group).client,
      [this.keys.groupKey(group)],
      [(Date.now() / 1000).toFixed(6), Math.max(1, Math.ceil(this.groupExpiryMs)), channel],
    ).catch((error: unknown) => {
      throw unavailable("groupAdd", error);
    });
  }

  protected async _groupDiscard(group: string, channel: string): Promise<void> {
    await this.shardOf(group)
      .client.zrem(this.keys.groupKey(group), channel)
      .catch((error: unknown) => {
        throw unavailable("groupDiscard", error);
      });
  }

  protected async _groupSend(group: string, message: Message): Promise<void> {
    const payload = this.serializer.encode(message);
    const shard = this.shardOf(group);
    const cutoff = ((Date.now() - this.groupExpiryMs) / 1000).toFixed(6);
    const groupKey = this.keys.groupKey(group);
    try {
      if (this.shards.length === 1 && !this.keys.cluster) {
        shard.batchWrites();
        await PUBLISH_TO_GROUP.run(shard.client, [groupKey], [cutoff, payload]);
        return;
      }
      // Each member is subscribed to on its own host: read the members, publish on each's host.
      const members = (await GROUP_MEMBERS.run(shard.client, [groupKey], [cutoff])) as Buffer[];
      await Promise.all(members.map((member) => this.shardOf(member.toString()).client.publish(member, payload)));
    } catch (error) {
      throw unavailable("groupSend", error);
    }
  }

  protected async _discardChannel(channel: string, groups: readonly string[]): Promise<void> {
    try {
      await Promise.all([
        ...groups.map((group) => this.shardOf(group).client.zrem(this.keys.groupKey(group), channel)),
        this.unsubscribe(channel),
      ]);
    } catch (error) {
      throw unavailable("discardChannel", error);
    } finally {
      this.mailboxes.discard(channel, new ChannelDiscarded(channel));
    }
  }

  protected async _flush(): Promise<void> {
    this.mailboxes.dropBuffered();
    try {
      await Promise.all(
        this.shards.map(async (shard) => {
          if (!shard.isCluster) {
            await shard.client.eval(
              "local keys = redis.call('KEYS', ARGV[1]) for i = 1, #keys, 5000 do redis.call('DEL', unpack(keys, i, math.min(i + 4999, #keys))) end return #keys",
              0,
              this.keys.pattern,
            );
            return;
          }
          const cluster = shard.client as import("ioredis").Cluster;
          for (const node of cluster.nodes("master")) {
            const found = await node.keys(this.keys.pattern);
            await Promise.all(found.map((key) => cluster.del(key)));
          }
        }),
      );
    } catch (error) {
      throw unavailable("flush", error);
    }
  }

  protected async _close(): Promise<void> {
    for (const subscriber of this.subscribers.values()) subscriber.disconnect();
    this.subscribers.clear();
    this.subscriptions.clear();
    await Promise.all(this.shards.map((shard) => shard.close()));
    this.mailboxes.clear(new LayerClosed());
  }

  /** channels_redis' pub/sub shard of a channel or group: CRC32 of its name over the ring. */
  private shardOf(name: string): Shard {
    const shards = this.shards;
    return shards.length === 1 ? (shards[0] as Shard) : (shards[consistentHash(name, shards.length)] as Shard);
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
      subscribed = this.subscriber(this.shardOf(channel))
        .subscribe(channel)
        .then(
          () => undefined,
          (error: unknown) => {
            this.subscriptions.delete(channel);
            throw unavailable("subscribe", error);
          },
        );
      this.subscriptions.set(channel, subscribed);
    }
    return subscribed;
  }

  private async unsubscribe(channel: string): Promise<void> {
    if (!this.subscriptions.delete(channel)) return;
    await this.subscriber(this.shardOf(channel)).unsubscribe(channel);
  }

  private arrived(channel: string, payload: Buffer): void {
    let message: Message;
    try {
      message = this.serializer.decode(payload);
    } catch {
      return;
    }
    const now = coarseNow();
    this.mailboxes.open(channel, now).offer(message, now + this.expiryMs, this.capacityFor(channel), now);
  }
}

function ignore(): void {}
