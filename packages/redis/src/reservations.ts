import { localPartOf } from "./key-space.js";
import type { MessageTimes } from "./message-times.js";
import type { Receipts } from "./receipts.js";
import type { RedisTransport } from "./redis-transport.js";
import { RESERVE } from "./scripts.js";
import type { Shard } from "./shards.js";

/** Reservations outlive a quiet spell this long; the layer's upkeep renews them every 10 s. */
export const RESERVATION_TTL_MS = 30_000;
/** Channels per script call at most (Lua unpacks its arguments onto a bounded stack). */
const CHUNK = 500;

interface Request {
  channel: string;
  capacity: number;
  target: number;
  resolve(granted: number): void;
  reject(error: unknown): void;
}

/**
 * Sets the reservations of this instance's own channels in their held sets (RESERVE in
 * scripts.ts), gathered per shard for the rest of the tick into one script call. Receipts go
 * out first on the same connection, so the room they free counts.
 */
export class Reservations {
  private readonly pending = new Map<Shard, Request[]>();
  private scheduled = false;

  constructor(
    private readonly transport: RedisTransport,
    private readonly times: MessageTimes,
    private readonly receipts: Receipts,
  ) {}

  /** Asks for `target` reservations on `channel`; resolves with how many it holds now. */
  request(channel: string, capacity: number, target: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const shard = this.transport.shardOfLocal(channel);
      let requests = this.pending.get(shard);
      if (requests === undefined) {
        requests = [];
        this.pending.set(shard, requests);
      }
      requests.push({ channel, capacity, target, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.pending];
    this.pending.clear();
    for (const [shard, requests] of batches) {
      for (let start = 0; start < requests.length; start += CHUNK)
        this.send(shard, requests.slice(start, start + CHUNK));
    }
  }

  private send(shard: Shard, requests: Request[]): void {
    const keys: string[] = [];
    const keyIndex = new Map<string, number>();
    const now = Date.now();
    const args: (string | number)[] = [this.times.expiryCutoffHex(now), Math.max(this.times.ttlMs, RESERVATION_TTL_MS)];
    for (const { channel, capacity, target } of requests) {
      const held = this.transport.keys.heldKey(channel);
      let index = keyIndex.get(held);
      if (index === undefined) {
        keys.push(held);
        index = keys.length;
        keyIndex.set(held, index);
      }
      args.push(index, localPartOf(channel), capacity, target);
    }
    this.receipts.flushShard(shard);
    shard.batchWrites();
    this.transport.run(shard, RESERVE, keys, args, "send").then(
      (granted) => {
        const counts = granted as number[];
        requests.forEach((request, i) => {
          request.resolve(counts[i] ?? 0);
        });
      },
      (error: unknown) => {
        for (const request of requests) request.reject(error);
      },
    );
  }
}
