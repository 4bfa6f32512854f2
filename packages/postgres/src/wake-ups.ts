import { Backoff, type BackoffOptions } from "@channel-layers/core/backend";
import { MAX_NOTIFY_LIST_BYTES } from "./group-send-statements.js";
import type { PostgresTransport } from "./transport.js";

/**
 * Wake-ups of sends that ran concurrently, sent together in one NOTIFY transaction per batch:
 * notifying commits are serialised database-wide one disk flush apart, so overlapping sends commit
 * without NOTIFY and share one (docs/postgres.md, "Why concurrent sends share their NOTIFY"). A
 * send resolves once the NOTIFY carrying its wake-up has been attempted.
 */
export class WakeUps {
  /** NOTIFY channel -> channels to name in it; null: too many to list, wake every channel. */
  private pending = new Map<string, Set<string> | null>();
  private current: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private closed = false;

  constructor(
    private readonly transport: PostgresTransport,
    backoff: BackoffOptions,
  ) {
    this.backoff = new Backoff(backoff);
  }

  /** Whether a NOTIFY transaction is under way: a send now should leave its wake-up to the next one. */
  get busy(): boolean {
    return this.current !== undefined;
  }

  /** Queues a wake-up: `payload` is a channel, space-separated channels, or "" for all of them. */
  add(target: string, payload: string): void {
    const channels = this.pending.get(target);
    if (payload === "") this.pending.set(target, null);
    else if (channels === undefined) this.pending.set(target, new Set(payload.split(" ")));
    else if (channels !== null) for (const channel of payload.split(" ")) channels.add(channel);
  }

  /** Resolves once a NOTIFY with everything added so far has been attempted. */
  flush(): Promise<void> {
    if (this.current === undefined) {
      this.current = this.run().finally(() => {
        this.current = undefined;
      });
      return this.current;
    }
    this.next ??= this.current.then(() => {
      this.next = undefined;
      return this.flush();
    });
    return this.next;
  }

  /** Sends what is pending, one last time. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.next;
    await this.current;
    if (this.pending.size > 0) await this.run();
  }

  private async run(): Promise<void> {
    const batch = this.pending;
    if (batch.size === 0) return;
    this.pending = new Map();
    const targets: string[] = [];
    const payloads: string[] = [];
    for (const [target, channels] of batch) {
      const payload = channels === null ? "" : [...channels].join(" ");
      targets.push(target);
      payloads.push(Buffer.byteLength(payload) <= MAX_NOTIFY_LIST_BYTES ? payload : "");
    }
    try {
      await this.transport.query(this.transport.statements.notify, [targets, payloads]);
      this.backoff.reset();
    } catch (error) {
      // The messages are committed; only their wake-ups failed. Retry in the background (a
      // listener that lost its connection meanwhile looks at the table when it is back anyway).
      for (const [i, target] of targets.entries()) this.add(target, payloads[i] as string);
      this.transport.diagnostics.backgroundError(error, { work: "notify" });
      this.retryLater();
    }
  }

  private retryLater(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, this.backoff.next());
    this.retryTimer.unref();
  }
}
