import {
  ChannelDiscarded,
  ChannelFull,
  type ChannelLayerOptions,
  InvalidOptions,
  LayerClosed,
  type Message,
} from "@channel-layers/core";
import { ALL_EXTENSIONS, BaseChannelLayer, coarseNow, copyMessage, nonLocalName } from "@channel-layers/core/backend";
import type { PoppedEntry } from "./blocking-pop.js";
import { keySlot } from "./cluster-slot.js";
import { MultiFernet } from "./fernet.js";
import { consistentHash } from "./hash-ring.js";
import { KeySpace, localPart } from "./key-space.js";
import { LocalChannels } from "./local-channels.js";
import { NamedChannelReceiver } from "./named-channel-receiver.js";
import { ProcessKeyReceiver } from "./process-key-receiver.js";
import { Receipts } from "./receipts.js";
import { DELETE_PREFIX, DELIVER_MANY, GROUP_ADD, GROUP_MEMBERS, GROUP_SEND, SEND, SWEEP_HELD } from "./scripts.js";
import { SelfSends } from "./self-sends.js";
import { connectShards, type RedisHost, type Shard, unavailable } from "./shards.js";
import { newId, timeHex, WireCodec } from "./wire-codec.js";

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

/** Process keys' receiver markers live this long and are renewed at a third of it. */
const RECEIVER_MARKER_TTL_MS = 30_000;

/**
 * channels_redis' RedisChannelLayer for Node, wire-compatible with it (same keys, member format,
 * shard choice and Fernet encryption), so Django Channels and Node processes on one Redis and
 * prefix are one layer; every operation is one round trip (groupSend too, on a single Redis).
 *
 * Process-local channels (`newChannel()`) of one instance share a process key, received by one
 * blocking loop per shard that pops everything into per-channel mailboxes, so a busy channel
 * cannot starve a quiet one. Capacity stays per channel even though messages leave Redis early:
 * while the loop runs it keeps a marker beside the process key, and senders that see it count
 * each local channel's messages in the process key's held set (`<process key>$held`, one entry
 * `<local part>|<id>` a message, ids starting with the send time, so a channel's entries are one
 * lexical range in send order and expiry needs no timer), from which a receipt removes the entry
 * when a receive takes the message; a sender without the marker (a channels_redis process, or no
 * live receiver) counts the whole key, as channels_redis does. See docs/redis.md.
 */
export class RedisChannelLayer extends BaseChannelLayer {
  readonly extensions = ALL_EXTENSIONS;
  readonly prefix: string;
  private readonly shards: Shard[];
  private readonly keys: KeySpace;
  private readonly codec: WireCodec;
  private readonly local: LocalChannels;
  private readonly receipts: Receipts;
  private readonly selfSends: SelfSends;
  private readonly processReceivers = new Map<Shard, ProcessKeyReceiver>();
  /** Process key -> the shard it lives on, for every prefix newChannel() has used. */
  private readonly processKeys = new Map<string, Shard>();
  private readonly markersSet = new Map<string, Promise<void>>();
  private readonly namedReceivers = new Map<string, NamedChannelReceiver>();
  private readonly singleRedis: boolean;
  private markerTimer: NodeJS.Timeout | undefined;
  /** Microseconds of the last score this instance wrote: scores only grow, so one sender's order holds. */
  private lastScore = 0;
  /** Messages sent before the last flush started are dropped if a pop in flight returns them. */
  private flushedAt = 0;
  private lastError: unknown;
  /** Removes the listeners this layer put on clients (yours stay open after close). */
  private readonly detach: (() => void)[] = [];

  constructor(options: RedisChannelLayerOptions = {}) {
    super(options);
    const prefix = options.prefix ?? "asgi";
    if (typeof prefix !== "string") throw new InvalidOptions("prefix must be a string");
    this.prefix = prefix;
    const crypter = options.symmetricEncryptionKeys?.length
      ? new MultiFernet(options.symmetricEncryptionKeys)
      : undefined;
    this.codec = new WireCodec(this.options.maxMessageSize, crypter, this.options.expiry + 10);
    this.shards = connectShards(options.hosts);
    this.keys = new KeySpace(prefix, this.shards[0]?.isCluster ?? false);
    this.singleRedis = this.shards.length === 1 && !this.keys.cluster;
    const reportError = (error: unknown) => {
      this.lastError = error;
    };
    this.receipts = new Receipts(reportError, (channels) => this.local.settled(channels));
    this.selfSends = new SelfSends(
      {
        shardOf: (channel) => this.shardOfLocal(channel),
        heldKey: (channel) => this.keys.heldKey(channel),
        capacityFor: (channel) => this.capacityFor(channel),
        ttlMs: () => this.ttlMs,
        cutoff: (now) => timeHex(now - this.expiryMs),
        deliver: (channel, body, id, sentAt, capacity) => {
          if (sentAt < this.flushedAt || this.closed) return;
          const message = this.codec.serializer.decode(body);
          this.local.deliver(channel, message, id, sentAt + this.expiryMs, capacity, Date.now());
        },
        unavailable: (channel, error) => this.shardOfLocal(channel).unavailable("send", error),
      },
      this.receipts,
    );
    this.local = new LocalChannels({
      received: (channel, id) =>
        this.receipts.add(
          this.shardOfLocal(channel),
          this.keys.heldKey(channel),
          `${localPart(channel)}|${id}`,
          channel,
        ),
      flushNow: (channel) => this.receipts.flushShard(this.shardOfLocal(channel)) ?? Promise.resolve(),
      capacityFor: (channel) => this.capacityFor(channel),
    });
    for (const shard of this.shards) {
      // Redis came back (maybe empty, after a restart): mark our process keys again at once.
      const onReady = () => {
        if (!this.closed) void this.renewMarkers(shard);
      };
      shard.client.on("ready", onReady);
      this.detach.push(() => shard.client.off("ready", onReady));
    }
  }

  /** The last error a background loop met (reconnects are automatic); for diagnostics. */
  get lastBackgroundError(): unknown {
    return this.lastError;
  }

  protected override async _newChannel(channel: string): Promise<void> {
    const processKey = this.keys.channelKey(channel);
    let marked = this.markersSet.get(processKey);
    if (marked === undefined) {
      marked = this.watchProcessKey(processKey, this.shardOfLocal(channel));
      this.markersSet.set(processKey, marked);
      marked.catch(() => this.markersSet.delete(processKey));
    }
    await marked;
  }

  protected _send(channel: string, message: Message): Promise<void> {
    const body = this.codec.encodeBody(message);
    const now = Date.now();
    const id = newId(now);
    const local = channel.indexOf("!") !== -1;
    // A send to a channel this instance receives itself skips the process key and the receive
    // loop: a script counts it in the channel's held set (capacity stays visible to every
    // instance), and the reply puts it in the mailbox, decoded from the bytes a remote receiver
    // would get, so the sender's object is never shared.
    if (local && this.isOwnChannel(channel)) return this.selfSends.send(channel, id.toString("hex"), body);
    const key = this.keys.channelKey(channel);
    const shard = local ? this.shardOfLocal(channel) : this.shardOfNamed(channel);
    const capacity = this.capacityFor(channel);
    const keys = local ? [key, this.keys.receiverKey(key), this.keys.heldKey(channel)] : [key, key, key];
    const args: (string | number | Buffer)[] = [
      this.nextScore(now),
      seconds(now - this.expiryMs),
      timeHex(now - this.expiryMs),
      this.ttlMs,
      capacity,
      this.codec.member(id, body, local ? channel : undefined),
      local ? localPart(channel) : "",
      id.toString("hex"),
    ];
    // Without Cluster any key may ride along: pending receipts go in this very script.
    const receipts = this.keys.cluster ? undefined : this.receipts.takeSmall(shard);
    if (receipts) {
      keys.push(...receipts.keys);
      args.push(...receipts.args);
    } else this.receipts.flushShard(shard);
    shard.batchWrites();
    return SEND.run(shard.client, keys, args).then(
      (added) => {
        receipts?.settled();
        if (added === 0) throw new ChannelFull(channel, capacity);
      },
      (error: unknown) => {
        receipts?.settled();
        throw shard.unavailable("send", error);
      },
    );
  }

  protected _receive(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    const taken = channel.indexOf("!") !== -1 ? this.local.take(channel, signal) : this.receiveNamed(channel, signal);
    // The caller aborted it, so an AbortError nobody awaits yet (say, while a send's reply is on
    // its way) is expected, not an unhandled rejection. The returned promise still rejects.
    if (signal !== undefined) taken.catch(ignore);
    return taken;
  }

  private receiveNamed(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    let receiver = this.namedReceivers.get(channel);
    if (receiver === undefined) {
      if (this.namedReceivers.size > 1000) {
        for (const [name, idle] of this.namedReceivers) if (idle.idle) this.namedReceivers.delete(name);
      }
      receiver = new NamedChannelReceiver(
        this.keys.channelKey(channel),
        this.shards,
        (member, score) => this.decodeNamed(member, score),
        (error) => {
          this.lastError = error;
        },
      );
      this.namedReceivers.set(channel, receiver);
    }
    return receiver.receive(signal);
  }

  protected async _groupAdd(group: string, channel: string): Promise<void> {
    const shard = this.shardOfGroup(group);
    const now = Date.now();
    await GROUP_ADD.run(
      shard.client,
      [this.keys.groupKey(group)],
      [seconds(now), Math.ceil(this.groupExpiryMs), channel],
    ).catch((error: unknown) => {
      throw unavailable("groupAdd", error);
    });
  }

  protected async _groupDiscard(group: string, channel: string): Promise<void> {
    await this.shardOfGroup(group)
      .client.zrem(this.keys.groupKey(group), channel)
      .catch((error: unknown) => {
        throw unavailable("groupDiscard", error);
      });
  }

  protected _groupSend(group: string, message: Message): Promise<void> {
    const body = this.codec.encodeBody(message);
    const shard = this.shardOfGroup(group);
    const now = Date.now();
    const groupKey = this.keys.groupKey(group);
    const groupCutoff = seconds(now - this.groupExpiryMs);
    // One script does it all where the server can build every member itself.
    if (this.singleRedis && !this.codec.encrypted && this.options.channelCapacity.length === 0) {
      this.receipts.flushShard(shard);
      shard.batchWrites();
      return GROUP_SEND.run(
        shard.client,
        [groupKey],
        [
          this.prefix,
          this.nextScore(now),
          groupCutoff,
          seconds(now - this.expiryMs),
          timeHex(now - this.expiryMs),
          this.ttlMs,
          this.options.capacity,
          newId(now).subarray(0, 8),
          body,
        ],
      ).then(
        () => undefined,
        (error: unknown) => {
          throw unavailable("groupSend", error);
        },
      );
    }
    return this.groupSendInTwoSteps(shard, groupKey, groupCutoff, body);
  }

  /**
   * groupSend where one script cannot do it (a ring of shards, Cluster, encryption, or capacity
   * rules the server cannot evaluate): read the members, then one script per shard (per slot
   * with Cluster) writes a member per channel, skipping full ones.
   */
  private async groupSendInTwoSteps(shard: Shard, groupKey: string, groupCutoff: string, body: Buffer) {
    let members: Buffer[];
    try {
      members = (await GROUP_MEMBERS.run(shard.client, [groupKey], [groupCutoff])) as Buffer[];
    } catch (error) {
      throw unavailable("groupSend", error);
    }
    const now = Date.now();
    const score = this.nextScore(now);
    const batches = new Map<string, { shard: Shard; keys: string[]; args: (string | number | Buffer)[] }>();
    for (const raw of members) {
      const channel = raw.toString();
      const local = channel.indexOf("!") !== -1;
      const key = this.keys.channelKey(channel);
      const target = local ? this.shardOfLocal(channel) : this.shardOfNamed(channel);
      const batchId = this.keys.cluster ? `${target.index}:${keySlot(key)}` : String(target.index);
      let batch = batches.get(batchId);
      if (batch === undefined) {
        batch = {
          shard: target,
          keys: [],
          args: [score, seconds(now - this.expiryMs), timeHex(now - this.expiryMs), this.ttlMs],
        };
        batches.set(batchId, batch);
      }
      const id = newId(now);
      if (local) batch.keys.push(key, this.keys.receiverKey(key), this.keys.heldKey(channel));
      else batch.keys.push(key, key, key);
      batch.args.push(
        this.capacityFor(channel),
        this.codec.member(id, body, [channel]),
        local ? localPart(channel) : "",
        id.toString("hex"),
      );
    }
    try {
      await Promise.all(
        [...batches.values()].map((batch) => {
          this.receipts.flushShard(batch.shard);
          return DELIVER_MANY.run(batch.shard.client, batch.keys, batch.args);
        }),
      );
    } catch (error) {
      throw unavailable("groupSend", error);
    }
  }

  protected async _discardChannel(channel: string, groups: readonly string[]): Promise<void> {
    const local = channel.indexOf("!") !== -1;
    const writes: Promise<unknown>[] = groups.map((group) =>
      this.shardOfGroup(group).client.zrem(this.keys.groupKey(group), channel),
    );
    if (local) {
      const entries = localPart(channel);
      writes.push(
        this.shardOfLocal(channel).client.zremrangebylex(this.keys.heldKey(channel), `[${entries}|`, `(${entries}}`),
      );
    }
    try {
      await Promise.all(writes);
    } catch (error) {
      throw unavailable("discardChannel", error);
    } finally {
      // After the writes, so the rejected receives are not left unhandled while Redis answers.
      if (local) this.local.discard(channel, new ChannelDiscarded(channel), Date.now() + this.expiryMs);
    }
  }

  protected async _flush(): Promise<void> {
    this.flushedAt = Date.now();
    this.local.dropBuffered();
    await this.receipts.flush();
    try {
      await Promise.all(this.shards.map((shard) => this.deleteKeys(shard)));
      await Promise.all(this.shards.map((shard) => this.renewMarkers(shard)));
    } catch (error) {
      throw unavailable("flush", error);
    }
  }

  protected async _close(): Promise<void> {
    clearInterval(this.markerTimer);
    for (const undo of this.detach) undo();
    await Promise.all([...this.processReceivers.values()].map((receiver) => receiver.stop()));
    // Best effort: senders stop counting per channel for keys nobody receives from any more.
    await Promise.all(
      [...this.processKeys].map(([key, shard]) =>
        shard.client.status === "ready" ? shard.client.del(this.keys.receiverKey(key)).catch(() => undefined) : null,
      ),
    );
    await Promise.all(this.shards.map((shard) => shard.close()));
    // Pending receives reject last, so that none is left unhandled while the connections close.
    const closed = new LayerClosed();
    this.local.clear(closed);
    for (const receiver of this.namedReceivers.values()) receiver.stop(closed);
    this.namedReceivers.clear();
  }

  /**
   * The score of the next message: the time in seconds, to the microsecond, and always above the
   * last one, so messages from one instance keep their order (Redis orders equal scores by member,
   * and members start with random bytes).
   */
  private nextScore(now: number): string {
    const micros = Math.max(Math.round(now * 1000), this.lastScore + 1);
    this.lastScore = micros;
    return (micros / 1e6).toFixed(6);
  }

  private get ttlMs(): number {
    return Math.max(1, Math.ceil(this.expiryMs));
  }

  /** channels_redis' shard of a process-local channel: by its non-local part, as its receiver reads. */
  private shardOfLocal(channel: string): Shard {
    const shards = this.shards;
    return shards.length === 1
      ? (shards[0] as Shard)
      : (shards[consistentHash(nonLocalName(channel), shards.length)] as Shard);
  }

  private shardOfGroup(group: string): Shard {
    const shards = this.shards;
    return shards.length === 1 ? (shards[0] as Shard) : (shards[consistentHash(group, shards.length)] as Shard);
  }

  /**
   * A named channel's host. channels_redis sends named channels round the ring and receives from
   * every host in turn; we send each to the one host CRC32 picks for its name, so its order and
   * capacity hold as on one Redis, and receive from every host, so what channels_redis senders
   * spread round the ring arrives too.
   */
  private shardOfNamed(channel: string): Shard {
    const shards = this.shards;
    return shards.length === 1 ? (shards[0] as Shard) : (shards[consistentHash(channel, shards.length)] as Shard);
  }

  /** Marks a new process key as received with per-channel counting, and has its shard's loop watch it. */
  private async watchProcessKey(processKey: string, shard: Shard): Promise<void> {
    this.processKeys.set(processKey, shard);
    await shard.client
      .set(this.keys.receiverKey(processKey), "1", "PX", RECEIVER_MARKER_TTL_MS)
      .catch((error: unknown) => {
        this.processKeys.delete(processKey);
        throw unavailable("newChannel", error);
      });
    let receiver = this.processReceivers.get(shard);
    if (receiver === undefined) {
      receiver = new ProcessKeyReceiver(
        shard,
        this.keys.wakeKey(this.instanceId),
        (entries) => this.deliverLocal(entries),
        (error) => {
          this.lastError = error;
        },
      );
      this.processReceivers.set(shard, receiver);
    }
    await receiver.watch(processKey).catch((error: unknown) => {
      throw unavailable("newChannel", error);
    });
    if (this.markerTimer === undefined) {
      this.markerTimer = setInterval(() => {
        for (const each of this.shards) void this.renewMarkers(each);
      }, RECEIVER_MARKER_TTL_MS / 3);
      this.markerTimer.unref();
    }
  }

  /** Renews the markers of this instance's process keys on `shard`, and drops expired entries from their held sets. */
  private async renewMarkers(shard: Shard): Promise<void> {
    const cutoff = timeHex(Date.now() - this.expiryMs);
    const writes: Promise<unknown>[] = [];
    for (const [key, owner] of this.processKeys) {
      if (owner !== shard) continue;
      writes.push(shard.client.set(this.keys.receiverKey(key), "1", "PX", RECEIVER_MARKER_TTL_MS));
      writes.push(SWEEP_HELD.run(shard.client, [`${key}$held`], [cutoff]));
    }
    await Promise.all(writes).catch((error: unknown) => {
      this.lastError = error;
    });
  }

  private async deleteKeys(shard: Shard): Promise<void> {
    if (!shard.isCluster) {
      await DELETE_PREFIX.run(shard.client, [], [this.keys.pattern]);
      return;
    }
    const cluster = shard.client as import("ioredis").Cluster;
    await Promise.all(
      cluster.nodes("master").map(async (node) => {
        let cursor = "0";
        do {
          const [next, found] = await node.scan(cursor, "MATCH", this.keys.pattern, "COUNT", 1000);
          cursor = next;
          await Promise.all(found.map((key) => cluster.del(key)));
        } while (cursor !== "0");
      }),
    );
  }

  /** Sorts what the receive loop popped into the local channels' mailboxes. */
  private deliverLocal(entries: PoppedEntry[]): void {
    const now = Date.now();
    for (const [member, score] of entries) {
      const sentAt = Number(score.toString()) * 1000;
      const expiresAt = sentAt + this.expiryMs;
      if (expiresAt <= now || sentAt < this.flushedAt) continue;
      let decoded: ReturnType<WireCodec["decode"]>;
      try {
        decoded = this.codec.decode(member);
      } catch (error) {
        this.lastError = error;
        continue;
      }
      const { channels, message } = decoded;
      const id = decoded.id.toString("hex");
      if (typeof channels === "string") {
        this.deliverTo(channels, message, id, expiresAt, now);
      } else if (channels !== undefined) {
        const last = channels.length - 1;
        channels.forEach((channel, i) => {
          this.deliverTo(channel, i === last ? message : copyMessage(message), id, expiresAt, now);
        });
      }
    }
  }

  private deliverTo(channel: string, message: Message, id: string, expiresAt: number, now: number): void {
    if (!this.isOwnChannel(channel)) return;
    this.local.deliver(channel, message, id, expiresAt, this.capacityFor(channel), now);
  }

  private decodeNamed(member: Buffer, score: Buffer): Message | undefined {
    const sentAt = Number(score.toString()) * 1000;
    if (sentAt + this.expiryMs <= coarseNow() || sentAt < this.flushedAt) return undefined;
    try {
      return this.codec.decode(member).message;
    } catch (error) {
      this.lastError = error;
      return undefined;
    }
  }
}

function ignore(): void {}

/** A time in ms as channels_redis' scores have it: seconds since the epoch, with a fraction. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(6);
}
