import { ACK } from "./scripts.js";

/** Receipts per script call at most (Lua unpacks its arguments onto a bounded stack). */
const CHUNK = 1000;

/** Receipts waiting to go out: held-set keys and the ids to remove from them, pairwise. */
export interface ReceiptBatch {
  keys: string[];
  /** Hex of each message's 12-byte id. */
  ids: string[];
}

import type { Shard } from "./shards.js";

/**
 * Receipts of received process-local messages, batched: each removes the message's id from its
 * channel's held set, which is what frees its place in the channel's capacity. They go out in
 * one script per shard, at the latest on the next turn of the event loop, and before any command
 * this layer sends on that shard's connection, so a send that follows a receive sees the room.
 */
export class Receipts {
  private readonly pending = new Map<Shard, ReceiptBatch>();
  private scheduled = false;

  constructor(private readonly reportError: (error: unknown) => void) {}

  add(shard: Shard, heldKey: string, id: string): void {
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

  /**
   * Hands the shard's pending receipts to a caller that sends them inside its own script (the
   * send script takes them), when there are few enough; else undefined.
   */
  takeSmall(shard: Shard): ReceiptBatch | undefined {
    const batch = this.pending.get(shard);
    if (batch === undefined || batch.keys.length > CHUNK) return undefined;
    this.pending.delete(shard);
    return batch;
  }

  /** Sends the shard's pending receipts now (ahead of whatever the caller sends next). */
  flushShard(shard: Shard): Promise<unknown> | undefined {
    const batch = this.pending.get(shard);
    if (batch === undefined) return undefined;
    this.pending.delete(shard);
    shard.batchWrites();
    const runs: Promise<unknown>[] = [];
    for (let start = 0; start < batch.keys.length; start += CHUNK) {
      runs.push(
        ACK.run(shard.client, batch.keys.slice(start, start + CHUNK), batch.ids.slice(start, start + CHUNK)).catch(
          this.reportError,
        ),
      );
    }
    return Promise.all(runs);
  }

  flush(): Promise<unknown> {
    this.scheduled = false;
    return Promise.all([...this.pending.keys()].map((shard) => this.flushShard(shard)));
  }
}
