import type { Message } from "@channel-layers/core";
import { coarseNow, LocalMailboxes, type Mailbox } from "@channel-layers/core/backend";

/** Remembered discarded channels at most; beyond it the oldest are swept. */
const DISCARDED_SWEEP_AT = 1000;

/** A buffered message and the id its receipt names. */
interface Held {
  message: Message;
  id: string;
}

/** How LocalChannels reports that a receive took a message (see Receipts). */
export interface ReceiptSink {
  /** Queues the receipt of message `id` of `channel`; resolves once Redis has it. */
  received(channel: string, id: string): Promise<void>;
  /** Sends the queued receipts of `channel`'s shard now; resolves once Redis has them. */
  flushNow(channel: string): Promise<void>;
  capacityFor(channel: string): number;
}

/**
 * The mailboxes of one instance's process-local channels, fed by its receive loop. A message
 * goes to a waiting receive when there is one, else it is buffered (lazily expired) for the next.
 * When a receive takes a message, its receipt is queued: only then does the message stop counting
 * against the channel's capacity, so the senders' count in Redis covers what sits in these
 * buffers. Receipts go out batched; but when the channel would otherwise still look full to a
 * sender elsewhere (what is buffered plus the receipts not yet in Redis reaches the capacity),
 * the receive returns only once its receipt is in Redis, so a send after it finds the room.
 *
 * A buffer never grows past the channel's capacity: senders that count per channel never send
 * more, and what a sender that does not (channels_redis, which counts the whole process key)
 * sends beyond it is dropped, as channels_redis' own receive buffer does.
 */
export class LocalChannels {
  /** Channel -> its mailbox, made on first use and forgotten by a sweep once idle. */
  private readonly boxes = new LocalMailboxes<Held>();
  /** Channel -> receipts queued or in flight, not yet applied by Redis. */
  private readonly unsettled = new Map<string, number>();
  /** Channel -> time (ms) until which late arrivals for it are dropped. */
  private readonly discarded = new Map<string, number>();

  constructor(private readonly sink: ReceiptSink) {}

  deliver(channel: string, message: Message, id: string, expiresAt: number, capacity: number, now: number): void {
    if (this.discarded.size > 0 && this.wasDiscarded(channel, now)) return;
    const box = this.boxes.open(channel, now);
    if (box.waiting === 0 && box.size(now) >= capacity) return;
    box.deliver({ message, id }, expiresAt);
  }

  take(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    const now = coarseNow();
    const box = this.boxes.open(channel, now);
    const buffered = box.takeBuffered(now);
    if (buffered === undefined) return box.take(signal).then((held) => this.taken(channel, box, held));
    return Promise.resolve(this.taken(channel, box, buffered));
  }

  /** Called by Receipts once Redis has applied (or failed) receipts of these channels. */
  settled(channels: readonly string[]): void {
    for (const channel of channels) {
      const count = (this.unsettled.get(channel) ?? 1) - 1;
      if (count <= 0) this.unsettled.delete(channel);
      else this.unsettled.set(channel, count);
    }
  }

  /** Rejects the channel's receives with `error`, drops its buffer, and drops what arrives before `until`. */
  discard(channel: string, error: unknown, until: number): void {
    this.boxes.discard(channel, error);
    if (this.discarded.size >= DISCARDED_SWEEP_AT) {
      const now = Date.now();
      for (const [name, end] of this.discarded) if (end <= now) this.discarded.delete(name);
    }
    this.discarded.set(channel, until);
  }

  dropBuffered(): void {
    this.boxes.dropBuffered();
  }

  clear(error: unknown): void {
    this.boxes.clear(error);
    this.discarded.clear();
  }

  /** Queues the receipt of a message a receive took; waits for it when the channel looks full. */
  private taken(channel: string, box: Mailbox<Held>, { message, id }: Held): Message | Promise<Message> {
    const unsettled = (this.unsettled.get(channel) ?? 0) + 1;
    this.unsettled.set(channel, unsettled);
    const inRedis = this.sink.received(channel, id);
    if (box.size() + unsettled < this.sink.capacityFor(channel)) return message;
    return this.sink
      .flushNow(channel)
      .then(
        () => inRedis,
        () => inRedis,
      )
      .then(() => message);
  }

  private wasDiscarded(channel: string, now: number): boolean {
    const until = this.discarded.get(channel);
    if (until === undefined) return false;
    if (until > now) return true;
    this.discarded.delete(channel);
    return false;
  }
}
