import { type LayerDiagnostics, nonLocalName } from "@channel-layers/core/backend";
import type { LocalChannels } from "./local-channels.js";
import type { MessageTimes } from "./message-times.js";
import { ProcessKeyReceiver } from "./process-key-receiver.js";
import type { RedisTransport } from "./redis-transport.js";
import { RESERVATION_TTL_MS } from "./reservations.js";
import { SWEEP_HELD } from "./scripts.js";
import type { Shard } from "./shards.js";
import type { WireCodec } from "./wire-codec.js";

/** Receiver markers live this long; the layer's upkeep renews them three times as often. */
const MARKER_TTL_MS = 30_000;

/**
 * The process keys this instance receives from (one per newChannel prefix): one receive loop per
 * shard pops them, and a marker beside each (`<process key>$receiver`) tells senders to count
 * capacity per channel in its held set. The layer's upkeep renews the markers, and sweeps held
 * sets of expired entries, every 10 s and as soon as a shard's connection is back.
 */
export class ProcessKeys {
  /** Process key -> its shard, for every prefix newChannel() has used. */
  private readonly keys = new Map<string, Shard>();
  /** Process key -> its marker being set (newChannel waits for it). */
  private readonly marking = new Map<string, Promise<void>>();
  private readonly receivers = new Map<Shard, ProcessKeyReceiver>();

  constructor(
    private readonly instanceId: string,
    private readonly transport: RedisTransport,
    private readonly times: MessageTimes,
    private readonly codec: WireCodec,
    private readonly local: LocalChannels,
    private readonly diagnostics: LayerDiagnostics,
  ) {}

  get size(): number {
    return this.keys.size;
  }

  /** Makes sure the process key of `channel` (made by this instance) is marked and received. */
  watch(channel: string): Promise<void> {
    const processKey = this.transport.keys.processKey(nonLocalName(channel));
    let marked = this.marking.get(processKey);
    if (marked === undefined) {
      marked = this.start(processKey, this.transport.shardOfLocal(channel));
      this.marking.set(processKey, marked);
      marked.catch(() => this.marking.delete(processKey));
    }
    return marked;
  }

  /** Renews the markers of the process keys on `shard` and drops expired entries from their held sets. */
  async renew(shard: Shard): Promise<void> {
    const cutoff = this.times.expiryCutoffHex(Date.now());
    const keepMs = Math.max(this.times.ttlMs, RESERVATION_TTL_MS);
    const writes: Promise<unknown>[] = [];
    for (const [key, owner] of this.keys) {
      if (owner !== shard) continue;
      writes.push(shard.client.set(this.transport.keys.receiverKey(key), "1", "PX", MARKER_TTL_MS));
      writes.push(SWEEP_HELD.run(shard.client, [this.transport.keys.heldKeyOf(key)], [cutoff, keepMs]));
    }
    try {
      await Promise.all(writes);
    } catch (error) {
      this.diagnostics.backgroundError(error, { where: "receiver markers" });
    }
  }

  /**
   * Ends the loops and deletes this instance's keys (best effort): its channels die with it, so
   * what waits in its process keys has no receiver left, and senders stop counting per channel.
   */
  async stop(): Promise<void> {
    await Promise.all([...this.receivers.values()].map((receiver) => receiver.stop()));
    const keys = this.transport.keys;
    const wakeKey = keys.wakeKey(this.instanceId);
    await Promise.all(
      this.transport.shards.map((shard) => {
        if (shard.client.status !== "ready") return undefined;
        const owned = [...this.keys].filter(([, owner]) => owner === shard).map(([key]) => key);
        if (owned.length === 0) return undefined;
        const deletes = owned.map((key) =>
          shard.client.del(key, keys.receiverKey(key), keys.heldKeyOf(key)).catch(() => undefined),
        );
        return Promise.all([...deletes, shard.client.del(wakeKey).catch(() => undefined)]);
      }),
    );
  }

  private async start(processKey: string, shard: Shard): Promise<void> {
    this.keys.set(processKey, shard);
    try {
      await this.transport.command(
        shard,
        "newChannel",
        shard.client.set(this.transport.keys.receiverKey(processKey), "1", "PX", MARKER_TTL_MS),
      );
    } catch (error) {
      this.keys.delete(processKey);
      throw error;
    }
    let receiver = this.receivers.get(shard);
    if (receiver === undefined) {
      receiver = new ProcessKeyReceiver(
        shard,
        this.transport.keys.wakeKey(this.instanceId),
        this.codec,
        this.times,
        this.local,
        this.diagnostics,
      );
      this.receivers.set(shard, receiver);
    }
    await this.transport.command(shard, "newChannel", receiver.watch(processKey));
  }
}
