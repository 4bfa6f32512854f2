import { ACK } from "./scripts.js";
import type { Shard } from "./shards.js";

/** Receipt ids per script call at most (Lua unpacks its arguments onto a bounded stack). */
const CHUNK = 1000;

/**
 * Receipts ready to go inside a script: the held sets (as KEYS), then as ARGV the count of ids
 * for each held set followed by all the ids (the `ack` Lua function in scripts.ts reads them).
 */
export interface ReceiptBlock {
  keys: string[];
  args: (string | number)[];
}

/**
 * Receipts of received process-local messages, batched: each removes the message's id (hex of
 * its 12-byte prefix) from its channel's held set, which is what frees its place in the channel's
 * capacity. They go out in one script per shard (one ZREM per channel), at the latest on the next
 * turn of the event loop, and before any command this layer sends on that shard's connection
 * (inside it, when it is a send), so a send that follows a receive sees the room.
 */
export class Receipts {
  /** Shard -> channel -> ids received since the last flush. */
  private readonly pending = new Map<Shard, Map<string, string[]>>();
  private readonly counts = new Map<Shard, number>();
  private scheduled = false;

  constructor(
    private readonly heldKey: (channel: string) => string,
    private readonly reportError: (error: unknown) => void,
  ) {}

  add(shard: Shard, channel: string, id: string): void {
    let channels = this.pending.get(shard);
    if (channels === undefined) {
      channels = new Map();
      this.pending.set(shard, channels);
    }
    const ids = channels.get(channel);
    if (ids === undefined) channels.set(channel, [id]);
    else ids.push(id);
    this.counts.set(shard, (this.counts.get(shard) ?? 0) + 1);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Hands the shard's pending receipts to a caller that sends them inside its own script (the
   * send scripts take them), when there are few enough; else undefined.
   */
  takeSmall(shard: Shard): ReceiptBlock | undefined {
    const count = this.counts.get(shard);
    if (count === undefined || count > CHUNK) return undefined;
    const channels = this.pending.get(shard) as Map<string, string[]>;
    this.pending.delete(shard);
    this.counts.delete(shard);
    return this.block([...channels]);
  }

  /** Sends the shard's pending receipts now (ahead of whatever the caller sends next). */
  flushShard(shard: Shard): Promise<unknown> | undefined {
    const channels = this.pending.get(shard);
    if (channels === undefined) return undefined;
    this.pending.delete(shard);
    this.counts.delete(shard);
    shard.batchWrites();
    const runs: Promise<unknown>[] = [];
    let chunk: [string, string[]][] = [];
    let size = 0;
    const send = () => {
      const { keys, args } = this.block(chunk);
      runs.push(ACK.run(shard.client, keys, args).catch(this.reportError));
      chunk = [];
      size = 0;
    };
    for (const [channel, ids] of channels) {
      for (let start = 0; start < ids.length; start += CHUNK) {
        const part = ids.length > CHUNK ? ids.slice(start, start + CHUNK) : ids;
        if (size + part.length > CHUNK) send();
        chunk.push([channel, part]);
        size += part.length;
      }
    }
    if (chunk.length > 0) send();
    return Promise.all(runs);
  }

  flush(): Promise<unknown> {
    this.scheduled = false;
    return Promise.all([...this.pending.keys()].map((shard) => this.flushShard(shard)));
  }

  private block(channels: [string, string[]][]): ReceiptBlock {
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const [channel, ids] of channels) {
      keys.push(this.heldKey(channel));
      args.push(ids.length);
    }
    for (const [, ids] of channels) for (const id of ids) args.push(id);
    return { keys, args };
  }
}
