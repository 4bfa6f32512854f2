import { ChannelFull, type Message } from "@channel-layers/core";
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
import type { Reservations } from "./reservations.js";
import type { Shard } from "./shards.js";
import type { WakeGate } from "./wake-gate.js";
import { type DecodedMember, isUncounted } from "./wire-codec.js";

/** Remembered discarded channels at most; beyond it the oldest are swept. */
const DISCARDED_SWEEP_AT = 1000;
const RESOLVED = Promise.resolve();

/** A buffered message, and the id its receipt names: none for one this instance sent itself. */
interface Held {
  message: Message;
  id: string | undefined;
  /** The group whose groupSend on this instance handed it over, if one did (see WakeGate). */
  group?: string;
}

/**
 * A message waiting for a reservation: one this instance sends itself, or one from another
 * sender that nobody counted. Or one another sender counted (`id` set), which needs none and
 * only waits behind them, so that one sender's messages keep their order.
 */
interface Waiter {
  message: Message;
  expiresAt: number;
  group: string | undefined;
  /** The receipt id of a message its sender counted in the held set. */
  id?: string;
  /** Called once: delivered, or refused because the channel is full (or with the error of Redis). */
  done(outcome: true | ChannelFull | Error): void;
}

/** What this instance keeps about one of its channels besides the mailbox: its reservations. */
interface Reserved {
  /** Reservations it holds in the channel's held set (never more than Redis has). */
  reserved: number;
  /** Messages it sent itself that wait in the mailbox (never fewer than there are). */
  selfHeld: number;
  /** Sends to itself waiting for more reservations, in call order. */
  waiting: Waiter[];
  /** A request for more is on its way. */
  growing: boolean;
}

/**
 * Reservations taken beyond what a channel holds: enough that sends to itself rarely wait for
 * Redis, few enough that other senders rarely find the channel full early (docs/redis.md).
 */
export function headroom(capacity: number): number {
  return Math.min(256, Math.max(1, Math.ceil(capacity / 8)));
}

/**
 * The mailboxes of one instance's process-local channels. What other senders send arrives from
 * the receive loop and is counted in Redis until a receive takes it (then its receipt removes
 * the count). What the instance sends itself (send or groupSend) never touches Redis: it is
 * handed over at once as long as the channel's reservations in Redis cover it, so other senders
 * count it too, and it waits for more reservations (one round trip, shared per tick) otherwise.
 */
export class LocalChannels {
  private readonly boxes: LocalMailboxes<Held>;
  private readonly reservations = new Map<string, Reserved>();
  /** Channel -> time (ms) until which late arrivals for it are dropped. */
  private readonly discarded = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly instanceId: string,
    private readonly receipts: Receipts,
    private readonly reserve: Reservations,
    private readonly capacityFor: (channel: string) => number,
    private readonly diagnostics: LayerDiagnostics,
    private readonly wakes: WakeGate,
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

  /** A send (or `group`'s groupSend) to one of this instance's channels: resolves once handed over; ChannelFull when full. */
  sendToSelf(channel: string, message: Message, expiresAt: number, group?: string): Promise<void> {
    if (this.closed || (this.discarded.size > 0 && this.wasDiscarded(channel, Date.now()))) return RESOLVED;
    const state = this.reservedFor(channel);
    if (state.waiting.length === 0 && this.selfHeld(channel, state) < state.reserved) {
      this.deliverOwn(channel, state, message, expiresAt, group);
      return RESOLVED;
    }
    return new Promise<void>((resolve, reject) => {
      state.waiting.push({
        message,
        expiresAt,
        group,
        done: (outcome) => (outcome === true ? resolve() : reject(outcome)),
      });
      this.grow(channel, state);
    });
  }

  /** A groupSend's members on this instance: each gets its own copy; full ones are skipped. */
  groupToSelf(group: string, channels: readonly string[], message: Message, expiresAt: number): Promise<void> {
    const waits: Promise<void>[] = [];
    channels.forEach((channel, i) => {
      const copy = i === channels.length - 1 ? message : copyMessage(message);
      const sent = this.sendToSelf(channel, copy, expiresAt, group);
      if (sent !== RESOLVED) waits.push(sent.catch(skipFull));
    });
    return waits.length === 0 ? RESOLVED : Promise.all(waits).then(ignore);
  }

  /**
   * Buffers a message another sender counted in the held set (under `id`), behind any waiting
   * for reservations. A buffer never grows past the channel's capacity: senders that count per
   * channel never send more, and what a sender that counts the whole process key
   * (channels_redis) sends beyond it is dropped and counted as lost.
   */
  deliver(channel: string, message: Message, id: string, expiresAt: number, now: number): void {
    if (this.closed || (this.discarded.size > 0 && this.wasDiscarded(channel, now))) return;
    const waiting = this.reservations.get(channel)?.waiting;
    if (waiting !== undefined && waiting.length > 0) {
      waiting.push({ message, expiresAt, group: undefined, id, done: ignore });
      return;
    }
    this.deliverCounted(channel, message, id, expiresAt, now);
  }

  /**
   * Takes a message no sender counted (a group message to this process key) the way this
   * instance's own sends go: within the channel's reservations, asking Redis for more when they
   * run out, skipping the channel when it is full.
   */
  private deliverUncounted(channel: string, message: Message, expiresAt: number): void {
    const sent = this.sendToSelf(channel, message, expiresAt);
    if (sent === RESOLVED) return;
    sent.catch((error: unknown) => {
      // Full: counted in channelFull as a groupSend's skipped member. Closing drops it as it
      // drops what is buffered. Anything else is Redis failing.
      if (error instanceof ChannelFull || this.closed) return;
      this.diagnostics.lost(1, { channel, reason: "no reservation could be taken for it" });
    });
  }

  private deliverCounted(channel: string, message: Message, id: string, expiresAt: number, now: number): void {
    const box = this.boxes.open(channel, now);
    const capacity = this.capacityFor(channel);
    if (box.waiting === 0 && box.size(now) >= capacity) {
      this.diagnostics.lost(1, { channel, reason: "the channel's buffer is full" });
      return;
    }
    box.deliver({ message, id }, expiresAt);
    // Other senders are filling the channel: give back what this instance reserved beyond its needs.
    const state = this.reservations.get(channel);
    if (state !== undefined && state.reserved > state.selfHeld) {
      const fromOthers = box.size(now) - state.selfHeld;
      if (fromOthers + state.reserved + headroom(capacity) >= capacity)
        void this.release(channel, state, state.selfHeld);
    }
  }

  /** Hands a member popped from a process key to each channel of this instance it names (a copy each). */
  deliverMember({ channels, message, id }: DecodedMember, expiresAt: number, now: number): void {
    const hex = isUncounted(id) ? undefined : id.toString("hex");
    const deliverOne = (channel: string, copy: Message) => {
      if (!this.owns(channel)) return;
      if (hex === undefined) this.deliverUncounted(channel, copy, expiresAt);
      else this.deliver(channel, copy, hex, expiresAt, now);
    };
    if (typeof channels === "string") {
      deliverOne(channels, message);
      return;
    }
    if (channels === undefined) return;
    const last = channels.length - 1;
    channels.forEach((channel, i) => {
      deliverOne(channel, i === last ? message : copyMessage(message));
    });
  }

  take(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    const now = coarseNow();
    const box = this.boxes.open(channel, now);
    const buffered = box.takeBuffered(now);
    if (buffered === undefined)
      return box.take(signal).then((held) => this.wakes.pass(held.group, this.taken(channel, box, held)));
    this.diagnostics.counters.received++;
    const message = this.taken(channel, box, buffered);
    return message instanceof Promise ? message : Promise.resolve(message);
  }

  /** Rejects the channel's receives with `error`, drops its buffer, and drops what arrives before `until`. */
  discard(channel: string, error: unknown, until: number): void {
    this.boxes.discard(channel, error);
    const state = this.reservations.get(channel);
    this.reservations.delete(channel);
    // The channel is gone: what waited for it is dropped, as the mailbox's messages are.
    for (const waiter of state?.waiting ?? []) waiter.done(true);
    if (this.discarded.size >= DISCARDED_SWEEP_AT) {
      const now = Date.now();
      for (const [name, end] of this.discarded) if (end <= now) this.discarded.delete(name);
    }
    this.discarded.set(channel, until);
  }

  /** flush begins: drops every buffered message. */
  dropBuffered(): void {
    this.boxes.dropBuffered();
    for (const state of this.reservations.values()) state.selfHeld = 0;
  }

  /** flush deleted the held sets: this instance holds no reservations any more. */
  reservationsLost(): void {
    for (const state of this.reservations.values()) state.reserved = 0;
  }

  /** Takes the reservations of this instance's channels on `shard` again (Redis lost them). */
  async reassert(shard: Shard, onShard: (channel: string) => Shard): Promise<void> {
    const renewals: Promise<void>[] = [];
    for (const [channel, state] of this.reservations) {
      if (state.reserved === 0 || onShard(channel) !== shard) continue;
      const capacity = this.capacityFor(channel);
      const asked = state.reserved;
      renewals.push(
        this.reserve.request(channel, capacity, asked).then((granted) => {
          state.reserved = Math.min(state.reserved, granted);
        }),
      );
    }
    await Promise.all(renewals);
  }

  /** Rejects every waiting receive with `error`; nothing is delivered any more (the layer closed). */
  clear(error: unknown): void {
    this.closed = true;
    this.wakes.releaseAll();
    this.boxes.clear(error);
    for (const state of this.reservations.values()) for (const waiter of state.waiting) waiter.done(error as Error);
    this.reservations.clear();
    this.discarded.clear();
  }

  private reservedFor(channel: string): Reserved {
    let state = this.reservations.get(channel);
    if (state === undefined) {
      state = { reserved: 0, selfHeld: 0, waiting: [], growing: false };
      this.reservations.set(channel, state);
    }
    return state;
  }

  /** Messages this instance sent itself still in the mailbox: corrected down once some have expired. */
  private selfHeld(channel: string, state: Reserved): number {
    if (state.selfHeld > 0) {
      const buffered = this.boxes.get(channel)?.size() ?? 0;
      if (buffered < state.selfHeld) state.selfHeld = buffered;
    }
    return state.selfHeld;
  }

  private deliverOwn(
    channel: string,
    state: Reserved,
    message: Message,
    expiresAt: number,
    group: string | undefined,
  ): void {
    state.selfHeld++;
    this.boxes.open(channel).deliver({ message, id: undefined, group }, expiresAt);
  }

  /** Asks Redis for reservations covering every waiting send, then hands over what they cover. */
  private grow(channel: string, state: Reserved): void {
    if (state.growing) return;
    state.growing = true;
    const capacity = this.capacityFor(channel);
    const asked = state.waiting.length;
    // What other senders counted waits only for its turn, not for a reservation.
    let uncounted = 0;
    for (const waiter of state.waiting) if (waiter.id === undefined) uncounted++;
    const target = this.selfHeld(channel, state) + uncounted + headroom(capacity) - 1;
    this.reserve.request(channel, capacity, target).then(
      (granted) => {
        state.growing = false;
        if (this.reservations.get(channel) !== state) {
          // Discarded meanwhile: what Redis just granted belongs to nobody.
          if (granted > 0 && !this.closed) void this.giveBack(channel, capacity, 0);
          return;
        }
        state.reserved = granted;
        // In order: what the reservations cover is handed over; what this request was for and
        // still does not fit finds the channel full; sends that came later ask again.
        let unanswered = asked;
        while (state.waiting.length > 0) {
          const waiter = state.waiting[0] as Waiter;
          if (waiter.id !== undefined) {
            this.deliverCounted(channel, waiter.message, waiter.id, waiter.expiresAt, Date.now());
          } else if (this.selfHeld(channel, state) < state.reserved) {
            this.deliverOwn(channel, state, waiter.message, waiter.expiresAt, waiter.group);
            waiter.done(true);
          } else if (unanswered > 0) {
            this.diagnostics.counters.channelFull++;
            waiter.done(new ChannelFull(channel, capacity));
          } else break;
          state.waiting.shift();
          unanswered--;
        }
        if (state.waiting.length > 0) this.grow(channel, state);
      },
      (error: unknown) => {
        state.growing = false;
        const now = Date.now();
        for (const waiter of state.waiting.splice(0)) {
          // What its sender counted needs no reservation: it is delivered, not failed.
          if (waiter.id !== undefined) this.deliverCounted(channel, waiter.message, waiter.id, waiter.expiresAt, now);
          else waiter.done(error as Error);
        }
      },
    );
  }

  /** Lowers the channel's reservations to `target` now; Redis follows on the next turn. */
  private release(channel: string, state: Reserved, target: number): Promise<void> {
    if (state.reserved <= target) return RESOLVED;
    state.reserved = target;
    return this.giveBack(channel, this.capacityFor(channel), target);
  }

  private giveBack(channel: string, capacity: number, target: number): Promise<void> {
    return this.reserve.request(channel, capacity, target).then(ignore, (error: unknown) => {
      this.diagnostics.backgroundError(error, { where: "releasing reservations", channel });
    });
  }

  /**
   * After a receive took a message: its receipt is queued (one from another sender), or its
   * reservation freed (one of our own, given back once twice the headroom is unused). When
   * the channel still looks full to other senders, the receive returns only once Redis shows the
   * room, so a send after it finds it.
   */
  private taken(channel: string, box: Mailbox<Held>, { message, id }: Held): Message | Promise<Message> {
    const capacity = this.capacityFor(channel);
    const state = this.reservations.get(channel);
    let inRedis: Promise<void> | undefined;
    if (id !== undefined) inRedis = this.receipts.add(channel, `${localPartOf(channel)}|${id}`);
    else if (state !== undefined && state.selfHeld > 0) state.selfHeld--;
    const selfHeld = state === undefined ? 0 : this.selfHeld(channel, state);
    const reserved = state?.reserved ?? 0;
    const looksFull = box.size() - selfHeld + this.receipts.unsettledOf(channel) + reserved >= capacity;
    if (!looksFull) {
      if (state !== undefined && reserved - selfHeld > 2 * headroom(capacity)) {
        void this.release(channel, state, selfHeld + headroom(capacity));
      }
      return message;
    }
    const released = state === undefined ? RESOLVED : this.release(channel, state, selfHeld);
    return Promise.all([released, this.receipts.flushNow(channel), inRedis]).then(() => message);
  }

  private wasDiscarded(channel: string, now: number): boolean {
    const until = this.discarded.get(channel);
    if (until === undefined) return false;
    if (until > now) return true;
    this.discarded.delete(channel);
    return false;
  }
}

function ignore(): void {}

/** A groupSend skips a full member (already counted in channelFull). */
function skipFull(error: unknown): void {
  if (!(error instanceof ChannelFull)) throw error;
}
