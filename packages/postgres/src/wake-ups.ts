import { debuglog } from "node:util";
import { MAX_NOTIFY_LIST_BYTES } from "./sql.js";

const debug = debuglog("channel-layers-postgres");

/** Sends NOTIFYs: `payloads[i]` on channel `targets[i]`, all in one transaction. */
export type NotifyFunction = (targets: string[], payloads: string[]) => Promise<void>;

/**
 * Wake-ups of sends that ran concurrently, sent together. A transaction that NOTIFYs takes a
 * database-wide lock from its commit until the commit is on disk, so notifying sends are
 * serialised one fsync apart however many connections send: on one disk that caps them near a
 * thousand a second. Sends that overlap therefore commit without NOTIFY (in parallel, sharing
 * fsyncs), and their wake-ups follow in one NOTIFY transaction per batch: one while it runs, the
 * next batch gathering meanwhile. A send resolves once the NOTIFY carrying its wake-up has been
 * attempted, so a resolved send has always woken its receiver (or the listener that missed it
 * reconnects and looks at the table).
 */
export class WakeUps {
  /** NOTIFY channel -> channels to name in it; null: too many to list, wake every channel. */
  private pending = new Map<string, Set<string> | null>();
  private current: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly notify: NotifyFunction,
    private readonly retryDelayMs: number,
    private readonly maxRetryDelayMs: number,
  ) {}

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
      await this.notify(targets, payloads);
      this.failures = 0;
    } catch (error) {
      // The messages are committed; only their wake-ups failed. Try again in the background (a
      // listener that lost its connection meanwhile looks at the table when it is back anyway).
      for (const [i, target] of targets.entries()) this.add(target, payloads[i] as string);
      this.retryLater(error);
    }
  }

  private retryLater(error: unknown): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = Math.min(this.retryDelayMs * 2 ** this.failures, this.maxRetryDelayMs);
    this.failures++;
    debug("NOTIFY failed, retrying in %d ms: %s", delay, (error as Error)?.message ?? error);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, delay);
    this.retryTimer.unref();
  }
}
