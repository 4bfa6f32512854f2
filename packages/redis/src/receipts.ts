import { ACK } from "./scripts.js";
import type { Shard } from "./shards.js";

/**
 * Receipts of received process-local messages, batched: each removes the message's id from its
 * channel's held set, which is what frees its place in the channel's capacity. They go out in
 * one script per shard, at the latest on the next turn of the event loop, and before any command
 * this layer sends on that shard's connection, so a send that follows a receive sees the room.
 */
export class Receipts {
  private readonly pending = new Map<Shard, { keys: string[]; ids: Buffer[] }>();
  private scheduled = false;

  constructor(private readonly reportError: (error: unknown) => void) {}

  add(shard: Shard, heldKey: string, id: Buffer): void {
    let batch = this.pending.get(shard);
    if (batch === undefined) {
      batch = { keys: [], ids: [] };
      this.pending.set(shard, batch);
    }
    batch.keys.push(heldKey);
    batch.ids.push(id);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends the shard's pending receipts now (ahead of whatever the caller sends next). */
  flushShard(shard: Shard): Promise<unknown> | undefined {
    const batch = this.pending.get(shard);
    if (batch === undefined) return undefined;
    this.pending.delete(shard);
    return ACK.run(shard.client, batch.keys, batch.ids).catch(this.reportError);
  }

  flush(): Promise<unknown> {
    this.scheduled = false;
    return Promise.all([...this.pending.keys()].map((shard) => this.flushShard(shard)));
  }
}
