import type { LayerDiagnostics } from "@channel-layers/core/backend";
import type { RedisTransport } from "./redis-transport.js";
import { ACK } from "./scripts.js";
import type { Shard } from "./shards.js";

/** Receipt entries per script call at most (Lua unpacks its arguments onto a bounded stack). */
const CHUNK = 1000;

/**
 * Receipts ready to go inside a script: the held sets (as KEYS), then as ARGV the count of
 * entries for each held set followed by all the entries (the `ack` Lua function in scripts.ts
 * reads them). The caller that sends them calls `settled()` once the script has answered.
 */
export interface ReceiptBlock {
  keys: string[];
  args: (string | number)[];
  settled(): void;
}

/** Receipts added since the last flush on one shard. */
interface Batch {
  /** Held set -> entries to remove from it. */
  sets: Map<string, string[]>;
  /** The channel of each entry, to count it as settled once Redis has it. */
  channels: string[];
  done: Promise<void>;
  resolve(): void;
}

function newBatch(): Batch {
  let resolve = () => {};
  const done = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { sets: new Map(), channels: [], done, resolve };
}

/**
 * Receipts of received process-local messages, batched: each removes the message's entry
 * (`<local part>|<id>`) from its process key's held set, which frees its place in the channel's
 * capacity. They go out in one script per shard, on the next turn of the event loop at the
 * latest, and before any command this layer sends on that shard's connection (inside it, when it
 * is a send), so a send that follows a receive sees the room.
 */
export class Receipts {
  private readonly pending = new Map<Shard, Batch>();
  /** Channel -> receipts queued or in flight, not yet applied by Redis. */
  private readonly unsettled = new Map<string, number>();
  private scheduled = false;

  constructor(
    private readonly transport: RedisTransport,
    private readonly diagnostics: LayerDiagnostics,
  ) {}

  /** Queues the receipt of `entry` in `channel`'s held set; resolves once it is in Redis (or failed). */
  add(channel: string, entry: string): Promise<void> {
    const shard = this.transport.shardOfLocal(channel);
    const heldKey = this.transport.keys.heldKey(channel);
    let batch = this.pending.get(shard);
    if (batch === undefined) {
      batch = newBatch();
      this.pending.set(shard, batch);
    }
    const entries = batch.sets.get(heldKey);
    if (entries === undefined) batch.sets.set(heldKey, [entry]);
    else entries.push(entry);
    batch.channels.push(channel);
    this.unsettled.set(channel, (this.unsettled.get(channel) ?? 0) + 1);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return batch.done;
  }

  /** Receipts of `channel` that Redis has not applied yet. */
  unsettledOf(channel: string): number {
    return this.unsettled.get(channel) ?? 0;
  }

  /**
   * Hands the shard's pending receipts to a caller that sends them inside its own script (the
   * send scripts take them), when there are few enough; else undefined.
   */
  takeSmall(shard: Shard): ReceiptBlock | undefined {
    const batch = this.pending.get(shard);
    if (batch === undefined || batch.channels.length > CHUNK) return undefined;
    this.pending.delete(shard);
    return { ...block([...batch.sets]), settled: () => this.settle(batch) };
  }

  /** Sends the shard's pending receipts now, ahead of whatever the caller sends next. */
  flushShard(shard: Shard): Promise<void> | undefined {
    const batch = this.pending.get(shard);
    if (batch === undefined) return undefined;
    this.pending.delete(shard);
    shard.batchWrites();
    const runs: Promise<unknown>[] = [];
    let chunk: [string, string[]][] = [];
    let size = 0;
    const send = () => {
      const { keys, args } = block(chunk);
      runs.push(
        ACK.run(shard.client, keys, args).catch((error: unknown) => {
          this.diagnostics.backgroundError(error, { where: "receipts" });
        }),
      );
      chunk = [];
      size = 0;
    };
    for (const [heldKey, entries] of batch.sets) {
      for (let start = 0; start < entries.length; start += CHUNK) {
        const part = entries.length > CHUNK ? entries.slice(start, start + CHUNK) : entries;
        if (size + part.length > CHUNK) send();
        chunk.push([heldKey, part]);
        size += part.length;
      }
    }
    if (chunk.length > 0) send();
    return Promise.all(runs).then(() => this.settle(batch));
  }

  /** Sends the pending receipts of `channel`'s shard now; resolves once Redis has them. */
  flushNow(channel: string): Promise<void> {
    return this.flushShard(this.transport.shardOfLocal(channel)) ?? Promise.resolve();
  }

  /** Sends every pending receipt now. */
  flush(): Promise<unknown> {
    this.scheduled = false;
    return Promise.all([...this.pending.keys()].map((shard) => this.flushShard(shard)));
  }

  /** Forgets what is pending (after close). */
  clear(): void {
    for (const batch of this.pending.values()) batch.resolve();
    this.pending.clear();
    this.unsettled.clear();
  }

  private settle(batch: Batch): void {
    for (const channel of batch.channels) {
      const count = (this.unsettled.get(channel) ?? 1) - 1;
      if (count <= 0) this.unsettled.delete(channel);
      else this.unsettled.set(channel, count);
    }
    batch.resolve();
  }
}

function block(sets: [string, string[]][]): { keys: string[]; args: (string | number)[] } {
  const keys: string[] = [];
  const args: (string | number)[] = [];
  for (const [heldKey, entries] of sets) {
    keys.push(heldKey);
    args.push(entries.length);
  }
  for (const [, entries] of sets) for (const entry of entries) args.push(entry);
  return { keys, args };
}
