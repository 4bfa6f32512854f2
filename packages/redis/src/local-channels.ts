import type { Message } from "@channel-layers/core";
import {
  coarseNow,
  copyMessage,
  instanceIdOf,
  type LayerDiagnostics,
  LocalMailboxes,
  type Mailbox,
} from "@channel-layers/core/backend";
import { localPartOf } from "./key-space.js";
import type { Receipts } from "./receipts.js";
import type { DecodedMember } from "./wire-codec.js";

/** Remembered discarded channels at most; beyond it the oldest are swept. */
const DISCARDED_SWEEP_AT = 1000;

/** A buffered message and the id its receipt names. */
interface Held {
  message: Message;
  id: string;
}

/**
 * The mailboxes of one instance's process-local channels, fed by its receive loop and its sends
 * to itself. A message goes to a waiting receive, else it is buffered (lazily expired). When a
 * receive takes a message its receipt is queued: only then does the message stop counting against
 * the channel's capacity, so the count in Redis covers what sits in these buffers. When the
 * channel would otherwise still look full to a sender elsewhere, the receive returns only once its
 * receipt is in Redis, so a send after it finds the room.
 */
export class LocalChannels {
  private readonly boxes: LocalMailboxes<Held>;
  /** Channel -> time (ms) until which late arrivals for it are dropped. */
  private readonly discarded = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly instanceId: string,
    private readonly receipts: Receipts,
    private readonly capacityFor: (channel: string) => number,
    private readonly diagnostics: LayerDiagnostics,
  ) {
    this.boxes = new LocalMailboxes<Held>(diagnostics.counters);
  }

  /** Mailboxes held now (idle ones not yet swept included). */
  get size(): number {
    return this.boxes.size;
  }

  /** Whether this instance's newChannel() made `channel`. */
  owns(channel: string): boolean {
    return instanceIdOf(channel) === this.instanceId;
  }

  /**
   * Buffers a message for a channel of this instance. A buffer never grows past the channel's
   * capacity: senders that count per channel never send more, and what a sender that counts the
   * whole process key (channels_redis) sends beyond it is dropped and counted as lost.
   */
  deliver(channel: string, message: Message, id: string, expiresAt: number, now: number): void {
    if (this.closed || (this.discarded.size > 0 && this.wasDiscarded(channel, now))) return;
    const box = this.boxes.open(channel, now);
    if (box.waiting === 0 && box.size(now) >= this.capacityFor(channel)) {
      this.diagnostics.lost(1, { channel, reason: "the channel's buffer is full" });
      return;
    }
    box.deliver({ message, id }, expiresAt);
  }

  /** Hands a member popped from a process key to each channel of this instance it names (a copy each). */
  deliverMember({ channels, message, id }: DecodedMember, expiresAt: number, now: number): void {
    const hex = id.toString("hex");
    if (typeof channels === "string") {
      if (this.owns(channels)) this.deliver(channels, message, hex, expiresAt, now);
      return;
    }
    if (channels === undefined) return;
    const last = channels.length - 1;
    channels.forEach((channel, i) => {
      if (this.owns(channel)) this.deliver(channel, i === last ? message : copyMessage(message), hex, expiresAt, now);
    });
  }

  take(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    const now = coarseNow();
    const box = this.boxes.open(channel, now);
    const buffered = box.takeBuffered(now);
    if (buffered === undefined) return box.take(signal).then((held) => this.taken(channel, box, held));
    this.diagnostics.counters.received++;
    return Promise.resolve(this.taken(channel, box, buffered));
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

  /** Rejects every waiting receive with `error`; nothing is delivered any more (the layer closed). */
  clear(error: unknown): void {
    this.closed = true;
    this.boxes.clear(error);
    this.discarded.clear();
  }

  /** Queues the receipt of a message a receive took; waits for it when the channel looks full. */
  private taken(channel: string, box: Mailbox<Held>, { message, id }: Held): Message | Promise<Message> {
    const inRedis = this.receipts.add(channel, `${localPartOf(channel)}|${id}`);
    if (box.size() + this.receipts.unsettledOf(channel) < this.capacityFor(channel)) return message;
    return this.receipts.flushNow(channel).then(() => inRedis.then(() => message));
  }

  private wasDiscarded(channel: string, now: number): boolean {
    const until = this.discarded.get(channel);
    if (until === undefined) return false;
    if (until > now) return true;
    this.discarded.delete(channel);
    return false;
  }
}
