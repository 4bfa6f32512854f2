import { coarseNow } from "./clock.js";
import { Mailbox, type ReceivedCounter } from "./mailbox.js";
import type { Message } from "./message.js";

/** Idle mailboxes are forgotten at most this often. */
const SWEEP_INTERVAL_MS = 1000;

/**
 * The mailboxes of the channels one layer instance delivers locally, made on first use. Idle ones
 * are forgotten by a sweep at most once a second on whichever call comes due (no timer), so
 * channel churn leaves no trace while a busy channel is not remade on every message.
 */
export class LocalMailboxes<T = Message> {
  private readonly boxes = new Map<string, Mailbox<T>>();
  private nextSweepAt = 0;

  /** `counter.received` grows by one for each message a take() resolves with. */
  constructor(private readonly counter?: ReceivedCounter) {}

  /** Mailboxes held now, idle ones not yet swept included. */
  get size(): number {
    return this.boxes.size;
  }

  get(channel: string): Mailbox<T> | undefined {
    return this.boxes.get(channel);
  }

  /** The channel's mailbox, made if needed. */
  open(channel: string, now = coarseNow()): Mailbox<T> {
    if (now >= this.nextSweepAt) this.sweep(now);
    let box = this.boxes.get(channel);
    if (box === undefined) {
      box = new Mailbox<T>(this.counter);
      this.boxes.set(channel, box);
    }
    return box;
  }

  /** The next message of `channel`, waiting for one. */
  take(channel: string, signal?: AbortSignal): Promise<T> {
    const now = coarseNow();
    return this.open(channel, now).take(signal, now);
  }

  /** Rejects the channel's waiting receives with `error` and drops its buffer. */
  discard(channel: string, error: unknown): void {
    const box = this.boxes.get(channel);
    if (box === undefined) return;
    this.boxes.delete(channel);
    box.clear(error);
  }

  /** Drops every buffered message, keeping waiting receivers. */
  dropBuffered(): void {
    for (const box of this.boxes.values()) box.dropBuffered();
  }

  /** Rejects every waiting receive with `error` and forgets everything. */
  clear(error: unknown): void {
    const boxes = [...this.boxes.values()];
    this.boxes.clear();
    for (const box of boxes) box.clear(error);
  }

  /** Forgets mailboxes whose messages have all expired and that nobody waits on. */
  sweep(now = coarseNow()): void {
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const [channel, box] of this.boxes) if (box.isIdle(now)) this.boxes.delete(channel);
  }

  entries(): IterableIterator<[string, Mailbox<T>]> {
    return this.boxes.entries();
  }
}
