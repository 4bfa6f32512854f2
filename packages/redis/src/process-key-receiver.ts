import { Backoff, type LayerDiagnostics } from "@channel-layers/core/backend";
import { blockingPop, type Popped, unlessAborted } from "./blocking-pop.js";
import type { LocalChannels } from "./local-channels.js";
import { type MessageTimes, scoreMs } from "./message-times.js";
import type { Shard } from "./shards.js";
import type { WireCodec } from "./wire-codec.js";

/** Entries popped in one reply at most: a busy instance drains its keys in few round trips. */
const BATCH = 512;
/** Seconds a pop blocks before it is sent again (keeps a dead connection from hiding for long). */
const BLOCK_SECONDS = 5;

/**
 * The one blocking loop, per shard, that receives every process-local channel of one layer
 * instance: it pops whatever arrives on the instance's process keys (one per newChannel prefix)
 * and sorts it into the channels' mailboxes, so a busy channel cannot starve a quiet one. It also
 * blocks on a private wake key, so that a new process key is watched at once.
 */
export class ProcessKeyReceiver {
  private readonly keys: string[] = [];
  private readonly stopping = new AbortController();
  private readonly backoff = new Backoff({ initialMs: 100, maxMs: 2000 });
  private running: Promise<void> | undefined;
  private rotation = 0;

  constructor(
    private readonly shard: Shard,
    private readonly wakeKey: string,
    private readonly codec: WireCodec,
    private readonly times: MessageTimes,
    private readonly local: LocalChannels,
    private readonly diagnostics: LayerDiagnostics,
  ) {}

  /** Starts watching `processKey` too; resolves once a running loop has been told. */
  async watch(processKey: string): Promise<void> {
    if (this.keys.includes(processKey)) return;
    this.keys.push(processKey);
    if (this.running) await this.shard.client.zadd(this.wakeKey, 0, "wake");
    else this.running = this.loop();
  }

  /** Ends the loop at once, whatever its connection is doing. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const connection = this.shard.acquireBlocking();
    const signal = this.stopping.signal;
    try {
      while (!signal.aborted) {
        let popped: Popped | undefined;
        try {
          popped = await unlessAborted(blockingPop(connection, this.rotatedKeys(), BATCH, BLOCK_SECONDS), signal);
          this.backoff.reset();
        } catch (error) {
          if (signal.aborted) break;
          this.diagnostics.backgroundError(error, { where: "process-key receive loop" });
          await this.backoff.wait({ signal, unref: true });
          continue;
        }
        if (popped && popped.key !== this.wakeKey) this.deliver(popped);
      }
    } finally {
      this.shard.discard(connection);
    }
  }

  /** The keys to block on, wake key first, the rest rotated: BZMPOP serves the first non-empty one. */
  private rotatedKeys(): string[] {
    const keys = [this.wakeKey];
    for (let i = 0; i < this.keys.length; i++) keys.push(this.keys[(this.rotation + i) % this.keys.length] as string);
    this.rotation++;
    return keys;
  }

  private deliver({ key, entries }: Popped): void {
    const now = Date.now();
    for (const [member, score] of entries) {
      const expiresAt = this.times.deliverableUntil(scoreMs(score), now);
      if (expiresAt === undefined) continue;
      const decoded = this.codec.decode(member, key);
      if (decoded !== undefined) this.local.deliverMember(decoded, expiresAt, now);
    }
  }
}
