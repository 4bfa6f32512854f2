import type { Message } from "@channel-layers/core";
import { Backoff, coarseNow, type LayerDiagnostics, Mailbox } from "@channel-layers/core/backend";
import { blockingPop, type Popped, unlessAborted } from "./blocking-pop.js";
import { type MessageTimes, scoreMs } from "./message-times.js";
import type { RedisClient, Shard } from "./shards.js";
import type { WireCodec } from "./wire-codec.js";

/** Seconds a pop blocks before the loop checks whether anyone still waits. */
const BLOCK_SECONDS = 1;

/**
 * Receives for one named channel (no `!`), which other processes may receive from as well.
 * Nothing is popped ahead: a loop per shard pops at most as many messages as there are receives
 * waiting here, and hands each to one of them. A message popped after its receive was aborted is
 * put back with its original score, on the same connection before the next pop, so it is neither
 * lost nor overtaken.
 */
export class NamedChannelReceiver {
  private readonly waiters: Mailbox<Message>;
  private readonly loops = new Set<Shard>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly key: string,
    private readonly shards: readonly Shard[],
    private readonly codec: WireCodec,
    private readonly times: MessageTimes,
    private readonly diagnostics: LayerDiagnostics,
  ) {
    this.waiters = new Mailbox<Message>(diagnostics.counters);
  }

  /** Whether nobody waits and no loop runs: the receiver can be forgotten. */
  get idle(): boolean {
    return this.waiters.waiting === 0 && this.loops.size === 0;
  }

  receive(signal: AbortSignal | undefined): Promise<Message> {
    const taken = this.waiters.take(signal);
    for (const shard of this.shards) if (!this.loops.has(shard)) this.startLoop(shard);
    return taken;
  }

  /** Rejects every waiting receive with `error` and ends the loops at once. */
  stop(error: unknown): void {
    this.stopping.abort();
    this.waiters.clear(error);
  }

  private startLoop(shard: Shard): void {
    this.loops.add(shard);
    void this.loop(shard);
  }

  private async loop(shard: Shard): Promise<void> {
    const connection = shard.acquireBlocking();
    const signal = this.stopping.signal;
    const backoff = new Backoff({ initialMs: 100, maxMs: 2000 });
    let healthy = true;
    try {
      while (!signal.aborted && this.waiters.waiting > 0) {
        let popped: Popped | undefined;
        try {
          popped = await unlessAborted(
            blockingPop(connection, [this.key], this.waiters.waiting, BLOCK_SECONDS),
            signal,
          );
          backoff.reset();
        } catch (error) {
          if (signal.aborted) break;
          this.diagnostics.backgroundError(error, { where: "named channel receive loop", key: this.key });
          await backoff.wait({ signal, unref: true });
          continue;
        }
        if (popped) healthy = await this.handOver(connection, popped);
        if (!healthy) break;
      }
    } finally {
      this.loops.delete(shard);
      if (signal.aborted || !healthy) shard.discard(connection);
      else shard.releaseBlocking(connection);
      // A receive that arrived while this loop was finishing needs a loop of its own.
      if (!signal.aborted && this.waiters.waiting > 0 && !this.loops.has(shard)) this.startLoop(shard);
    }
  }

  /** Gives each entry to a waiting receive; puts back the ones nobody waits for any more. */
  private async handOver(connection: RedisClient, { key, entries }: Popped): Promise<boolean> {
    const putBack: (Buffer | string)[] = [];
    const now = coarseNow();
    for (const [member, score] of entries) {
      if (this.times.deliverableUntil(scoreMs(score), now) === undefined) continue;
      const message = this.codec.decode(member, key)?.message;
      if (message === undefined) continue;
      if (this.waiters.waiting > 0 && !this.stopping.signal.aborted) {
        this.waiters.deliver(message, Number.POSITIVE_INFINITY);
      } else putBack.push(score.toString(), member);
    }
    if (putBack.length === 0) return true;
    try {
      await connection.callBuffer("ZADD", this.key, ...putBack);
      return true;
    } catch (error) {
      this.diagnostics.lost(
        putBack.length / 2,
        { key: this.key, reason: "putting back what no receive took failed" },
        error,
      );
      return false;
    }
  }
}
