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
 * Receipts of received process-local messages, batched: each removes the message's entry
 * (`<local part>|<id>`) from its process key's held set, which is what frees its place in the
 * channel's capacity. They go out in one script per shard (one variadic ZREM per held set), at
 * the latest on the next turn of the event loop, and before any command this layer sends on that
 * shard's connection (inside it, when it is a send), so a send that follows a receive sees the room.
 */
export class Receipts {
  /** Shard -> held set -> entries received since the last flush. */
  private readonly pending = new Map<Shard, Map<string, string[]>>();
  private readonly counts = new Map<Shard, number>();
  private scheduled = false;

  constructor(private readonly reportError: (error: unknown) => void) {}

  add(shard: Shard, heldKey: string, entry: string): void {
    let sets = this.pending.get(shard);
    if (sets === undefined) {
      sets = new Map();
      this.pending.set(shard, sets);
    }
    const entries = sets.get(heldKey);
    if (entries === undefined) sets.set(heldKey, [entry]);
    else entries.push(entry);
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

  private block(sets: [string, string[]][]): ReceiptBlock {
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const [heldKey, entries] of sets) {
      keys.push(heldKey);
      args.push(entries.length);
    }
    for (const [, entries] of sets) for (const entry of entries) args.push(entry);
    return { keys, args };
  }
}
