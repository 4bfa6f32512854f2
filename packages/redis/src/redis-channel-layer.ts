import {
  ChannelDiscarded,
  ChannelFull,
  type ChannelLayerOptions,
  type ChannelLayerStats,
  Extension,
  type GroupHistory,
  type GroupHistoryRule,
  type HistoryOffset,
  LayerClosed,
  type Message,
} from "@channel-layers/core";
import { ALL_EXTENSIONS, BaseChannelLayer, isProcessLocal } from "@channel-layers/core/backend";
import { MultiFernet } from "./fernet.js";
import { GroupSends } from "./group-sends.js";
import { assertPrefix, localPartOf } from "./key-space.js";
import { LocalChannels } from "./local-channels.js";
import { epochSeconds, MessageTimes } from "./message-times.js";
import { NamedChannelReceiver } from "./named-channel-receiver.js";
import { OwnMemberships } from "./own-memberships.js";
import { ProcessKeys } from "./process-keys.js";
import { Receipts } from "./receipts.js";
import { RedisHistory, withoutPosition } from "./redis-history.js";
import { RedisPresence } from "./redis-presence.js";
import { RedisTransport, type ScriptArgument } from "./redis-transport.js";
import { Reservations } from "./reservations.js";
import { GROUP_ADD, SEND } from "./scripts.js";
import { ServerIdentity } from "./server-identity.js";
import type { RedisHost, Shard } from "./shards.js";
import { WakeGate } from "./wake-gate.js";
import { newId, WireCodec } from "./wire-codec.js";

/** Options of RedisChannelLayer: channels_redis 4's, camelCased, with its defaults. */
export interface RedisChannelLayerOptions extends ChannelLayerOptions {
  /**
   * Where Redis is: a list of redis:// or rediss:// (TLS) URLs, ioredis options objects (for
   * Sentinel: `{ sentinels: [...], name: "mymaster" }`), or ioredis Redis / Cluster clients you
   * own (a Cluster must be the only entry). Several entries form channels_redis' ring of shards.
   * Default `["redis://localhost:6379"]`.
   */
  hosts?: readonly RedisHost[];
  /** Prepended to every Redis key, as in channels_redis; layers with one prefix are one layer. Default `"asgi"`. */
  prefix?: string;
  /**
   * Fernet keys (channels_redis' `symmetric_encryption_keys`): messages are encrypted with the
   * first and decrypted with any, so a new key goes first and old ones stay until drained.
   * Default none (no encryption).
   */
  symmetricEncryptionKeys?: readonly (string | Uint8Array)[];
}

/** stats(): the common counters and what this instance holds. */
export interface RedisChannelLayerStats extends ChannelLayerStats {
  /** Process keys this instance receives from (one per newChannel prefix). */
  processKeys: number;
  /** Process-local channels with a mailbox here (idle ones not yet swept included). */
  localChannels: number;
  /** Named channels with a receiver here. */
  namedChannels: number;
  /** Memberships of this instance's own channels it added, which it restores when Redis lost them. */
  ownMemberships: number;
  /** Times a shard's server was found changed (a restart, a failover) and this instance's keys were put back. */
  serverChanges: number;
  /** Presence entries this instance tracks in Redis, which it restores when Redis lost them. */
  presenceEntries: number;
}

/** Named channels' receivers kept at most before idle ones are forgotten. */
const NAMED_RECEIVERS_SWEEP_AT = 1000;
/** How often the layer renews its markers and checks that no server lost its keys (docs/redis.md). */
const UPKEEP_INTERVAL_MS = 10_000;
/** Channels' extensions, presence and history; RedisPubSubChannelLayer has neither. */
const EXTENSIONS: readonly string[] = Object.freeze([...ALL_EXTENSIONS, Extension.presence, Extension.history]);

/**
 * channels_redis' RedisChannelLayer for Node, wire-compatible with it (same keys, member format,
 * shard choice and Fernet encryption), so Django Channels and Node processes on one Redis and
 * prefix are one layer. Every operation that needs Redis is one round trip; what an instance sends
 * its own channels usually needs none (reservations). Presence and group history live in keys of
 * their own (a hash and a deadline set; a stream per group). How it works: docs/redis.md.
 */
export class RedisChannelLayer extends BaseChannelLayer {
  readonly extensions = EXTENSIONS;
  readonly prefix: string;
  private readonly transport: RedisTransport;
  private readonly times: MessageTimes;
  private readonly codec: WireCodec;
  private readonly receipts: Receipts;
  private readonly local: LocalChannels;
  private readonly processKeys: ProcessKeys;
  private readonly namedReceivers = new Map<string, NamedChannelReceiver>();
  private readonly groupSends: GroupSends;
  private readonly histories: RedisHistory;
  private readonly presences: RedisPresence;
  private readonly ownMemberships: OwnMemberships;
  private readonly identity: ServerIdentity;
  private upkeepTimer: NodeJS.Timeout | undefined;
  private serverChanges = 0;

  constructor(options: RedisChannelLayerOptions = {}) {
    super(options, "redis");
    const prefix = options.prefix ?? "asgi";
    assertPrefix(prefix);
    this.prefix = prefix;
    this.transport = new RedisTransport(options.hosts, this.prefix);
    this.times = new MessageTimes(this.expiryMs, this.groupExpiryMs);
    const keys = options.symmetricEncryptionKeys;
    const crypter = keys?.length ? new MultiFernet(keys) : undefined;
    this.codec = new WireCodec(this.options.maxMessageSize, crypter, this.options.expiry + 10, this.diagnostics);
    const capacityFor = (channel: string) => this.capacityFor(channel);
    this.receipts = new Receipts(this.transport, this.diagnostics);
    const reservations = new Reservations(this.transport, this.times, this.receipts);
    const wakes = new WakeGate();
    this.local = new LocalChannels(this.instanceId, this.receipts, reservations, capacityFor, this.diagnostics, wakes);
    this.processKeys = new ProcessKeys(
      this.instanceId,
      this.transport,
      this.times,
      this.codec,
      this.local,
      this.diagnostics,
    );
    this.ownMemberships = new OwnMemberships(this.transport, this.times);
    this.identity = new ServerIdentity(this.diagnostics);
    this.histories = new RedisHistory(this.transport, this.codec, this.groupExpiryMs);
    this.presences = new RedisPresence(this.transport, this.codec, this.instanceId, this.options.presenceTimeoutMs);
    this.presenceStore = this.presences;
    this.groupSends = new GroupSends(
      this.transport,
      this.times,
      this.codec,
      this.receipts,
      this.local,
      this.histories,
      this.diagnostics,
      {
        prefix: this.prefix,
        instanceId: this.instanceId,
        capacity: this.options.capacity,
        capacityRules: this.options.channelCapacity.length > 0,
        capacityFor,
      },
      wakes,
    );
  }

  /** The common counters, and how many keys, channels and receivers this instance holds. */
  stats(): RedisChannelLayerStats {
    return {
      ...this.commonStats(),
      processKeys: this.processKeys.size,
      localChannels: this.local.size,
      namedChannels: this.namedReceivers.size,
      ownMemberships: this.ownMemberships.count,
      serverChanges: this.serverChanges,
      presenceEntries: this.presences.size,
    };
  }

  protected override async _open(): Promise<void> {
    await this.transport.open();
    await Promise.all(this.transport.shards.map((shard) => this.identity.changed(shard)));
    this.transport.onReconnect((shard) => {
      this.diagnostics.reconnected({ shard: shard.index });
      void this.upkeep(shard);
    });
    this.upkeepTimer = setInterval(() => {
      for (const shard of this.transport.shards) void this.upkeep(shard);
    }, UPKEEP_INTERVAL_MS);
    this.upkeepTimer.unref();
  }

  protected override _newChannel(channel: string): Promise<void> {
    return this.processKeys.watch(channel);
  }

  protected _send(channel: string, message: Message): Promise<void> {
    const body = this.codec.encodeBody(message);
    const now = Date.now();
    const id = newId(now);
    const local = isProcessLocal(channel);
    // A channel this instance receives itself skips Redis, within the reservations it holds there.
    if (local && this.local.owns(channel)) {
      return this.local.sendToSelf(channel, this.codec.decodeBody(body), now + this.expiryMs);
    }
    const keys = this.transport.keys;
    const key = keys.channelKey(channel);
    const shard = local ? this.transport.shardOfLocal(channel) : this.transport.shardOfNamed(channel);
    const capacity = this.capacityFor(channel);
    const scriptKeys = local ? [key, keys.receiverKey(key), keys.heldKey(channel)] : [key, key, key];
    const args: ScriptArgument[] = [
      this.times.nextScore(now),
      this.times.expiryCutoff(now),
      this.times.expiryCutoffHex(now),
      this.times.ttlMs,
      capacity,
      this.codec.member(id, body, local ? channel : undefined),
      local ? localPartOf(channel) : "",
      id.toString("hex"),
    ];
    // Without Cluster any key may ride along: pending receipts go in this very script.
    const receipts = keys.cluster ? undefined : this.receipts.takeSmall(shard);
    if (receipts) {
      scriptKeys.push(...receipts.keys);
      args.push(...receipts.args);
    } else this.receipts.flushShard(shard);
    shard.batchWrites();
    return this.transport.run(shard, SEND, scriptKeys, args, "send").then(
      (added) => {
        receipts?.settled();
        if (added === 0) {
          this.diagnostics.counters.channelFull++;
          throw new ChannelFull(channel, capacity);
        }
      },
      (error: unknown) => {
        receipts?.settled();
        throw error;
      },
    );
  }

  protected _receive(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    const taken = isProcessLocal(channel) ? this.local.take(channel, signal) : this.receiveNamed(channel, signal);
    // The caller aborted it, so an AbortError nobody awaits yet is expected, not an unhandled rejection.
    if (signal !== undefined) taken.catch(ignore);
    return taken;
  }

  protected async _groupAdd(group: string, channel: string): Promise<void> {
    const shard = this.transport.shardOfGroup(group);
    const now = Date.now();
    const args = [epochSeconds(now), this.times.groupTtlMs, channel];
    await this.transport.run(shard, GROUP_ADD, [this.transport.keys.groupKey(group)], args, "groupAdd");
    if (this.local.owns(channel)) this.ownMemberships.added(group, channel);
  }

  protected async _groupDiscard(group: string, channel: string): Promise<void> {
    const shard = this.transport.shardOfGroup(group);
    const key = this.transport.keys.groupKey(group);
    this.ownMemberships.removed(group, channel);
    await this.transport.command(shard, "groupDiscard", shard.client.zrem(key, channel));
  }

  protected _groupSend(group: string, message: Message): Promise<void> {
    return this.groupSends.send(group, message, undefined);
  }

  protected override _groupSendWithHistory(group: string, message: Message, rule: GroupHistoryRule): Promise<void> {
    return this.groupSends.send(group, withoutPosition(message), rule);
  }

  protected override _groupHistory(group: string, after: HistoryOffset, rule: GroupHistoryRule): Promise<GroupHistory> {
    return this.histories.read(group, after, rule);
  }

  protected async _discardChannel(channel: string, groups: readonly string[]): Promise<void> {
    const transport = this.transport;
    const local = isProcessLocal(channel);
    this.ownMemberships.discarded(channel);
    const writes: Promise<unknown>[] = groups.map((group) => {
      const shard = transport.shardOfGroup(group);
      return transport.command(shard, "discardChannel", shard.client.zrem(transport.keys.groupKey(group), channel));
    });
    if (local) {
      const shard = transport.shardOfLocal(channel);
      const localPart = localPartOf(channel);
      const range = shard.client.zremrangebylex(transport.keys.heldKey(channel), `[${localPart}|`, `(${localPart}}`);
      writes.push(transport.command(shard, "discardChannel", range));
    }
    try {
      await Promise.all(writes);
    } finally {
      // After the writes, so the rejected receives are not left unhandled while Redis answers.
      if (local) this.local.discard(channel, new ChannelDiscarded(channel), Date.now() + this.expiryMs);
    }
  }

  protected async _flush(): Promise<void> {
    this.times.flushing(Date.now());
    this.local.dropBuffered();
    this.ownMemberships.clear();
    this.presences.clear();
    await this.receipts.flush();
    await this.transport.deleteLayerKeys();
    // The held sets are gone, and with them the reservations.
    this.local.reservationsLost();
    await Promise.all(this.transport.shards.map((shard) => this.processKeys.renew(shard)));
  }

  protected async _close(): Promise<void> {
    const closed = new LayerClosed();
    clearInterval(this.upkeepTimer);
    await this.processKeys.stop();
    await this.transport.close(closed);
    this.receipts.clear();
    // Pending receives reject last, so that none is left unhandled while the connections close.
    this.local.clear(closed);
    for (const receiver of this.namedReceivers.values()) receiver.stop(closed);
    this.namedReceivers.clear();
  }

  /**
   * Every 10 s and after each reconnect: if the shard's server changed (a restart, a failover),
   * add this instance's memberships and presence entries back; then renew its markers, sweep its held sets, and take
   * its reservations again where Redis lost them (a restart, or someone else's flush).
   */
  private async upkeep(shard: Shard): Promise<void> {
    if (this.closed) return;
    if (await this.identity.changed(shard)) {
      this.serverChanges++;
      try {
        const [restored, presences] = await Promise.all([
          this.ownMemberships.restore(shard),
          this.presences.restore(shard),
        ]);
        this.logger.info("Redis lost its data (a restart or a failover): memberships and presences restored", {
          shard: shard.index,
          restored,
          presences,
        });
      } catch (error) {
        this.diagnostics.backgroundError(error, { where: "restoring memberships", shard: shard.index });
      }
    }
    await this.processKeys.renew(shard);
    try {
      await this.local.reassert(shard, (channel) => this.transport.shardOfLocal(channel));
    } catch (error) {
      this.diagnostics.backgroundError(error, { where: "renewing reservations", shard: shard.index });
    }
  }

  private receiveNamed(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    let receiver = this.namedReceivers.get(channel);
    if (receiver === undefined) {
      if (this.namedReceivers.size > NAMED_RECEIVERS_SWEEP_AT) {
        for (const [name, idle] of this.namedReceivers) if (idle.idle) this.namedReceivers.delete(name);
      }
      const key = this.transport.keys.channelKey(channel);
      receiver = new NamedChannelReceiver(key, this.transport.shards, this.codec, this.times, this.diagnostics);
      this.namedReceivers.set(channel, receiver);
    }
    return receiver.receive(signal);
  }
}

function ignore(): void {}
