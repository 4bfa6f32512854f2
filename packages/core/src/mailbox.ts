import { coarseNow } from "./clock.js";
import { AbortError } from "./errors.js";
import { RingQueue } from "./ring-queue.js";
import { TimedQueue } from "./timed-queue.js";

interface Waiter<T> {
  resolve(item: T): void;
  reject(error: unknown): void;
  settled: boolean;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Where a mailbox counts what it hands to receivers (the layer's `received` counter). */
export interface ReceivedCounter {
  received: number;
}

/**
 * One channel's local delivery point: items in send order, receivers in arrival order, each item
 * to exactly one receiver. An aborted receive takes nothing; expiry is lazy (no timer).
 */
export class Mailbox<T> {
  private readonly entries = new TimedQueue<T>();
  private readonly waiters = new RingQueue<Waiter<T>>();
  private liveWaiters = 0;

  /** `counter.received` grows by one for each item take() resolves with. */
  constructor(private readonly counter?: ReceivedCounter) {}

  /** Items buffered and not yet expired as of `now`. */
  size(now = coarseNow()): number {
    this.entries.dropExpired(now);
    return this.entries.length;
  }

  /** Receivers waiting now. */
  get waiting(): number {
    return this.liveWaiters;
  }

  /** Whether the mailbox holds nothing and nobody waits: it can be forgotten. */
  isIdle(now = coarseNow()): boolean {
    return this.liveWaiters === 0 && this.size(now) === 0;
  }

  /** Hands `item` to the longest-waiting receiver, or buffers it until `expiresAt` (ms epoch). */
  deliver(item: T, expiresAt: number): void {
    const waiter = this.nextWaiter();
    if (waiter) {
      if (this.counter) this.counter.received++;
      this.settle(waiter).resolve(item);
    } else this.entries.push(item, expiresAt);
  }

  /** Buffers `item` unless `capacity` unexpired items are buffered already; returns whether it did. */
  offer(item: T, expiresAt: number, capacity: number, now = coarseNow()): boolean {
    if (this.liveWaiters === 0 && this.size(now) >= capacity) return false;
    this.deliver(item, expiresAt);
    return true;
  }

  /** Resolves with the next unexpired item, waiting for one if none is buffered. */
  take(signal?: AbortSignal, now?: number): Promise<T> {
    const entry = this.takeBuffered(now);
    if (entry !== undefined) {
      if (this.counter) this.counter.received++;
      return Promise.resolve(entry);
    }
    if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, settled: false, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          if (waiter.settled) return;
          this.settle(waiter);
          this.compactWaiters();
          reject(new AbortError(signal.reason));
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
      this.liveWaiters++;
    });
  }

  /** Takes the next buffered unexpired item without waiting (not counted as received). */
  takeBuffered(now?: number): T | undefined {
    if (this.entries.length === 0) return undefined;
    this.entries.dropExpired(now ?? coarseNow());
    return this.entries.shift();
  }

  /** Rejects every waiting receiver with `error` and drops the buffer. */
  clear(error: unknown): void {
    this.entries.clear();
    for (let waiter = this.waiters.shift(); waiter; waiter = this.waiters.shift()) {
      if (!waiter.settled) this.settle(waiter).reject(error);
    }
  }

  /** Drops buffered items, keeping waiting receivers. */
  dropBuffered(): void {
    this.entries.clear();
  }

  /** Aborted waiters stay queued until skipped; drop them before they outnumber live ones. */
  private compactWaiters(): void {
    if (this.liveWaiters === 0) this.waiters.clear();
    else if (this.waiters.length > 32 && this.waiters.length > 2 * this.liveWaiters) {
      const live = [...this.waiters].filter((waiter) => !waiter.settled);
      this.waiters.clear();
      for (const waiter of live) this.waiters.push(waiter);
    }
  }

  private nextWaiter(): Waiter<T> | undefined {
    while (this.liveWaiters > 0) {
      const waiter = this.waiters.shift();
      if (waiter && !waiter.settled) return waiter;
    }
    return undefined;
  }

  private settle(waiter: Waiter<T>): Waiter<T> {
    waiter.settled = true;
    this.liveWaiters--;
    if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
    return waiter;
  }
}
