import { ChannelFull } from "@channel-layers/core";
import { localPart } from "./key-space.js";
import type { Receipts } from "./receipts.js";
import { COUNT_SELF } from "./scripts.js";
import type { Shard } from "./shards.js";

/** Sends to one channel in one tick share a script at most this many at a time. */
const MAX_BATCH = 500;

interface Pending {
  id: string;
  body: Buffer;
  resolve(): void;
  reject(error: unknown): void;
}

/** What the batcher needs from the layer: where a channel's count lives, and how to hand over. */
export interface SelfSendHost {
  shardOf(channel: string): Shard;
  heldKey(channel: string): string;
  capacityFor(channel: string): number;
  /** Time-to-live of held sets, and the expiry cutoff as held sets want it (hex ms). */
  ttlMs(): number;
  cutoff(now: number): string;
  /** Puts an admitted message into the channel's mailbox. */
  deliver(channel: string, body: Buffer, id: string, sentAt: number, capacity: number): void;
  unavailable(channel: string, error: unknown): unknown;
}

/**
 * Sends to the instance's own channels, gathered per channel for the rest of the current tick
 * and counted in one script call: a burst of sends costs Redis one script, not one each, while a
 * lone send waits only for the microtasks already queued. Order is kept: the script admits a
 * prefix of the batch, and the rest reject with ChannelFull.
 */
export class SelfSends {
  private readonly batches = new Map<string, Pending[]>();
  private scheduled = false;

  constructor(
    private readonly host: SelfSendHost,
    private readonly receipts: Receipts,
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
        this.run(channel, pending.length > MAX_BATCH ? pending.slice(start, start + MAX_BATCH) : pending);
      }
    }
  }

  private run(channel: string, pending: Pending[]): void {
    const host = this.host;
    const now = Date.now();
    const shard = host.shardOf(channel);
    const capacity = host.capacityFor(channel);
    const keys = [host.heldKey(channel)];
    const args: (string | number)[] = [host.cutoff(now), host.ttlMs(), capacity, localPart(channel), pending.length];
    for (const each of pending) args.push(each.id);
    const receipts = this.receipts.takeSmall(shard);
    if (receipts) {
      keys.push(...receipts.keys);
      args.push(...receipts.args);
    } else this.receipts.flushShard(shard);
    shard.batchWrites();
    COUNT_SELF.run(shard.client, keys, args).then(
      (admitted) => {
        receipts?.settled();
        const count = Number(admitted);
        for (let i = 0; i < pending.length; i++) {
          const each = pending[i] as Pending;
          if (i < count) {
            host.deliver(channel, each.body, each.id, now, capacity);
            each.resolve();
          } else each.reject(new ChannelFull(channel, capacity));
        }
      },
      (error: unknown) => {
        receipts?.settled();
        const failure = host.unavailable(channel, error);
        for (const each of pending) each.reject(failure);
      },
    );
  }
}
