import { coarseNow, LocalMailboxes, type Message } from "@channel-layers/core";

/** Remembered discarded channels at most; beyond it the oldest are swept. */
const DISCARDED_SWEEP_AT = 1000;

/**
 * The mailboxes of one instance's process-local channels, fed by its receive loop. A message
 * goes straight to a waiting receive when there is one, else it is buffered (lazily expired) for
 * the next. `received(channel, id)` is called when a receive takes a message: only then does it
 * stop counting against the channel's capacity, so the senders' count in Redis covers what sits
 * in these buffers. A buffer never grows past the channel's capacity: senders that count per
 * channel never send more, and what a sender that does not (channels_redis, which counts the whole
 * process key) sends beyond it is dropped, as channels_redis' own receive buffer does.
 */
export class LocalChannels {
  private readonly boxes = new LocalMailboxes();
  private readonly ids = new WeakMap<Message, string>();
  /** Channel -> time (ms) until which late arrivals for it are dropped. */
  private readonly discarded = new Map<string, number>();

  constructor(private readonly received: (channel: string, id: string) => void) {}

  deliver(channel: string, message: Message, id: string, expiresAt: number, capacity: number, now: number): void {
    if (this.discarded.size > 0 && this.wasDiscarded(channel, now)) return;
    const box = this.boxes.open(channel, now);
    if (box.waiting > 0) {
      box.deliver(message, expiresAt);
      this.received(channel, id);
      return;
    }
    if (box.size(now) >= capacity) return;
    this.ids.set(message, id);
    box.deliver(message, expiresAt);
  }

  take(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    const now = coarseNow();
    const box = this.boxes.open(channel, now);
    const buffered = box.takeBuffered(now);
    if (buffered === undefined) return box.take(signal);
    const id = this.ids.get(buffered);
    if (id !== undefined) this.received(channel, id);
    return Promise.resolve(buffered);
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

  private wasDiscarded(channel: string, now: number): boolean {
    const until = this.discarded.get(channel);
    if (until === undefined) return false;
    if (until > now) return true;
    this.discarded.delete(channel);
    return false;
  }
}
