import { Mailbox } from "./mailbox.js";
import type { Message } from "./message.js";

/**
 * The mailboxes of the channels one layer instance delivers locally, created on first use and
 * forgotten as soon as they hold nothing and nobody waits, so channel churn leaves no trace.
 */
export class LocalMailboxes {
  private readonly boxes = new Map<string, Mailbox<Message>>();

  get size(): number {
    return this.boxes.size;
  }

  get(channel: string): Mailbox<Message> | undefined {
    return this.boxes.get(channel);
  }

  open(channel: string): Mailbox<Message> {
    let box = this.boxes.get(channel);
    if (box === undefined) {
      box = new Mailbox<Message>();
      this.boxes.set(channel, box);
    }
    return box;
  }

  /** The next message of `channel`, waiting for one; the mailbox is forgotten again once idle. */
  take(channel: string, signal?: AbortSignal): Promise<Message> {
    const box = this.open(channel);
    const buffered = box.takeBuffered();
    if (buffered !== undefined) {
      this.forgetIfIdle(channel, box);
      return Promise.resolve(buffered);
    }
    return box.take(signal).then(
      (message) => {
        this.forgetIfIdle(channel, box);
        return message;
      },
      (error: unknown) => {
        this.forgetIfIdle(channel, box);
        throw error;
      },
    );
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
    for (const [channel, box] of this.boxes) {
      box.dropBuffered();
      this.forgetIfIdle(channel, box);
    }
  }

  /** Rejects every waiting receive with `error` and forgets everything. */
  clear(error: unknown): void {
    const boxes = [...this.boxes.values()];
    this.boxes.clear();
    for (const box of boxes) box.clear(error);
  }

  /** Forgets mailboxes whose messages have all expired and that nobody waits on. */
  sweep(now = Date.now()): void {
    for (const [channel, box] of this.boxes) this.forgetIfIdle(channel, box, now);
  }

  entries(): IterableIterator<[string, Mailbox<Message>]> {
    return this.boxes.entries();
  }

  private forgetIfIdle(channel: string, box: Mailbox<Message>, now?: number): void {
    if (box.isIdle(now) && this.boxes.get(channel) === box) this.boxes.delete(channel);
  }
}
