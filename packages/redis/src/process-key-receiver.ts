import { backOff, blockingPop, type PoppedEntry } from "./blocking-pop.js";
import type { Shard } from "./shards.js";

/** Entries popped in one reply at most: a busy instance drains its keys in few round trips. */
const BATCH = 512;
/** Seconds a pop blocks before it is sent again (keeps a dead connection from hiding for long). */
const BLOCK_SECONDS = 5;

/**
 * The one blocking loop, per shard, that receives every process-local channel of one layer
 * instance: it pops whatever arrives on the instance's process keys (one per newChannel prefix)
 * and hands it to `deliver`, which sorts it into per-channel mailboxes. It also blocks on a
 * private wake key, so that a new process key is watched at once.
 */
export class ProcessKeyReceiver {
  private readonly keys: string[] = [];
  private stopped = false;
  private running: Promise<void> | undefined;
  private rotation = 0;
  private connection: ReturnType<Shard["acquireBlocking"]> | undefined;

  constructor(
    private readonly shard: Shard,
    private readonly wakeKey: string,
    private readonly deliver: (entries: PoppedEntry[]) => void,
    private readonly reportError: (error: unknown) => void,
  ) {}

  get processKeys(): readonly string[] {
    return this.keys;
  }

  /** Starts watching `processKey` too; resolves once a running loop has been told. */
  async watch(processKey: string): Promise<void> {
    if (this.keys.includes(processKey)) return;
    this.keys.push(processKey);
    if (this.running) await this.shard.client.zadd(this.wakeKey, 0, "wake");
    else this.running = this.loop();
  }

  /** Ends the loop; a pop in progress is cut off by closing its connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.connection?.disconnect();
    await this.running;
  }

  private async loop(): Promise<void> {
    const connection = this.shard.acquireBlocking();
    this.connection = connection;
    try {
      while (!this.stopped) {
        // Rotate the order: BZMPOP serves the first non-empty key, and no prefix may starve another.
        const keys = [this.wakeKey];
        for (let i = 0; i < this.keys.length; i++) {
          keys.push(this.keys[(this.rotation + i) % this.keys.length] as string);
        }
        this.rotation++;
        let popped: Awaited<ReturnType<typeof blockingPop>>;
        try {
          popped = await blockingPop(connection, keys, BATCH, BLOCK_SECONDS);
        } catch (error) {
          if (this.stopped) break;
          this.reportError(error);
          await backOff(500);
          continue;
        }
        if (popped && popped.key !== this.wakeKey) this.deliver(popped.entries);
      }
    } finally {
      this.shard.discard(connection);
    }
  }
}
