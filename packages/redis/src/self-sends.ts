import { ChannelFull } from "@channel-layers/core";
import type { LayerDiagnostics } from "@channel-layers/core/backend";
import { localPartOf } from "./key-space.js";
import type { LocalChannels } from "./local-channels.js";
import type { MessageTimes } from "./message-times.js";
import type { Receipts } from "./receipts.js";
import type { RedisTransport } from "./redis-transport.js";
import { COUNT_SELF } from "./scripts.js";
import type { WireCodec } from "./wire-codec.js";

/** Sends to one channel in one tick share a script at most this many at a time. */
const MAX_BATCH = 500;

interface Pending {
  id: string;
  body: Buffer;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Sends to the instance's own channels, gathered per channel for the rest of the current tick and
 * counted in one script call (so other instances see them against capacity), then handed to the
 * channel's mailbox from the reply, decoded from the bytes a remote receiver would get. A burst
 * costs Redis one script; order is kept: the script admits a prefix of the batch, the rest reject
 * with ChannelFull.
 */
export class SelfSends {
  private readonly batches = new Map<string, Pending[]>();
  private scheduled = false;

  constructor(
    private readonly transport: RedisTransport,
    private readonly times: MessageTimes,
    private readonly receipts: Receipts,
    private readonly local: LocalChannels,
    private readonly codec: WireCodec,
    private readonly capacityFor: (channel: string) => number,
    private readonly diagnostics: LayerDiagnostics,
  ) {}

  send(channel: string, id: string, body: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let batch = this.batches.get(channel);
      if (batch === undefined) {
        batch = [];
        this.batches.set(channel, batch);
      }
      batch.push({ id, body, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.batches];
    this.batches.clear();
    for (const [channel, pending] of batches) {
      for (let start = 0; start < pending.length; start += MAX_BATCH) {
        this.count(channel, pending.length > MAX_BATCH ? pending.slice(start, start + MAX_BATCH) : pending);
      }
    }
  }

  private count(channel: string, pending: Pending[]): void {
    const now = Date.now();
    const shard = this.transport.shardOfLocal(channel);
    const capacity = this.capacityFor(channel);
    const keys = [this.transport.keys.heldKey(channel)];
    const args: (string | number)[] = [
      this.times.expiryCutoffHex(now),
      this.times.ttlMs,
      capacity,
      localPartOf(channel),
      pending.length,
    ];
    for (const each of pending) args.push(each.id);
    const receipts = this.receipts.takeSmall(shard);
    if (receipts) {
      keys.push(...receipts.keys);
      args.push(...receipts.args);
    } else this.receipts.flushShard(shard);
    shard.batchWrites();
    this.transport.run(shard, COUNT_SELF, keys, args, "send").then(
      (admitted) => {
        receipts?.settled();
        const count = Number(admitted);
        const expiresAt = this.times.deliverableUntil(now, Date.now());
        for (let i = 0; i < pending.length; i++) {
          const each = pending[i] as Pending;
          if (i >= count) {
            this.diagnostics.counters.channelFull++;
            each.reject(new ChannelFull(channel, capacity));
            continue;
          }
          if (expiresAt !== undefined) {
            this.local.deliver(channel, this.codec.decodeBody(each.body), each.id, expiresAt, Date.now());
          }
          each.resolve();
        }
      },
      (error: unknown) => {
        receipts?.settled();
        for (const each of pending) each.reject(error);
      },
    );
  }
}
