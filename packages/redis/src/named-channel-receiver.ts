import type { Message } from "@channel-layers/core";
import { Mailbox } from "@channel-layers/core/backend";
import { backOff, blockingPop, type PoppedEntry } from "./blocking-pop.js";
import type { RedisClient } from "./scripts.js";
import type { Shard } from "./shards.js";

/** Seconds a pop blocks before the loop checks whether anyone still waits. */
const BLOCK_SECONDS = 1;

/** What the layer does with a popped entry: a message to hand over, or undefined to drop it. */
export type DecodeEntry = (member: Buffer, score: Buffer) => Message | undefined;

/**
 * Receives for one named channel (no `!`), which other processes may receive from as well.
 * Unlike process-local channels nothing is popped ahead: a loop per shard pops at most as many
 * messages as there are receives waiting here, and hands each to one of them. A message popped
 * after its receive was aborted is put back with its original score, in order and on the same
 * connection before the next pop, so it is neither lost nor overtaken; what stays in Redis is
 * there for every process's receivers.
 */
export class NamedChannelReceiver {
  private readonly waiters = new Mailbox<Message>();
  private readonly loops = new Set<Shard>();
  private readonly connections = new Set<RedisClient>();
  private stopped = false;

  constructor(
    private readonly key: string,
    private readonly shards: readonly Shard[],
    private readonly decode: DecodeEntry,
    private readonly reportError: (error: unknown) => void,
  ) {}

  /** Whether nobody waits and no loop runs: the receiver can be forgotten. */
  get idle(): boolean {
    return this.waiters.waiting === 0 && this.loops.size === 0;
  }

  receive(signal: AbortSignal | undefined): Promise<Message> {
    const taken = this.waiters.take(signal);
    for (const shard of this.shards) {
      if (!this.loops.has(shard)) {
        this.loops.add(shard);
        void this.loop(shard);
      }
    }
    return taken;
  }

  /** Rejects every waiting receive with `error` and ends the loops. */
  stop(error: unknown): void {
    this.stopped = true;
    for (const connection of this.connections) connection.disconnect();
    this.waiters.clear(error);
  }

  private async loop(shard: Shard): Promise<void> {
    const connection = shard.acquireBlocking();
    this.connections.add(connection);
    let healthy = true;
    try {
      while (!this.stopped && this.waiters.waiting > 0) {
        let popped: Awaited<ReturnType<typeof blockingPop>>;
        try {
          popped = await blockingPop(connection, [this.key], this.waiters.waiting, BLOCK_SECONDS);
        } catch (error) {
          if (this.stopped) break;
          this.reportError(error);
          await backOff(500);
          continue;
        }
        if (popped) healthy = await this.handOver(connection, popped.entries);
        if (!healthy) break;
      }
    } finally {
      this.connections.delete(connection);
      this.loops.delete(shard);
      if (this.stopped || !healthy) shard.discard(connection);
      else shard.releaseBlocking(connection);
      // A receive that arrived while this loop was finishing needs a loop of its own.
      if (!this.stopped && this.waiters.waiting > 0 && !this.loops.has(shard)) {
        this.loops.add(shard);
        void this.loop(shard);
      }
    }
  }

  /** Gives each entry to a waiting receive; puts back the ones nobody waits for any more. */
  private async handOver(connection: RedisClient, entries: PoppedEntry[]): Promise<boolean> {
    const putBack: (Buffer | string)[] = [];
    for (const [member, score] of entries) {
      const message = this.decode(member, score);
      if (message === undefined) continue;
      if (this.waiters.waiting > 0 && !this.stopped) this.waiters.deliver(message, Number.POSITIVE_INFINITY);
      else putBack.push(score.toString(), member);
    }
    if (putBack.length === 0) return true;
    try {
      await connection.callBuffer("ZADD", this.key, ...putBack);
      return true;
    } catch (error) {
      this.reportError(error);
      return false;
    }
  }
}
