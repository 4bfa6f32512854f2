import { BackendUnavailable, ChannelFull } from "@channel-layers/core";
import { coarseNow } from "@channel-layers/core/backend";
import type { Msg } from "@nats-io/transport-node";
import { FrameFlag, FrameKind, FrameWriter, ReplyStatus, readReply } from "./frames.js";
import { NoResponders } from "./requests.js";
import type { NatsTransport } from "./transport.js";

/** What a sender knows of one remote process-local channel. */
interface Window {
  /** Messages this instance has sent to the channel. */
  sent: number;
  /** The last answer: after our message number `answeredAt`, the channel had room for `free` more. */
  answeredAt: number;
  free: number;
  /** When that answer came (ms epoch); older answers are not trusted. */
  heardAt: number;
  /** Our message number that last asked for an answer. */
  askedAt: number;
}

/** What a sender knows of one owning instance, for counting loss. */
interface Ledger {
  /** Messages sent to the owner, over all its channels. */
  sent: number;
  /** `sent` as of the message the owner answered last. */
  answeredSent: number;
  /** Of those, how many the owner said it never got (reported to the layer's diagnostics as they are found). */
  lost: number;
  /** Of those, how many rejected to their caller unanswered (an outage): not lost, the caller knows. */
  refused: number;
  /** Of those, how many wait for their own answer: not counted as lost until it comes. */
  pending: number;
  /** A request went unanswered since the last answer: what was sent since is unconfirmed. */
  stalled: boolean;
  /** The owner's subject. */
  readonly subject: string;
  /** Set while messages sent without asking wait to be counted by the owner. */
  countTimer: NodeJS.Timeout | undefined;
}

/** A send may run ahead of the owner's last answer by at most this many messages per channel. */
const MAX_AHEAD = 256;
/** Running ahead, a send asks for an answer every this many messages (or sooner, on a small window). */
const ASK_EVERY = 64;
/** An owner's answer is trusted for this long. */
const ANSWER_TRUSTED_MS = 1000;
/** Messages sent without asking are counted by their owner once sending pauses this long. */
const COUNT_AFTER_MS = 200;
/** Windows kept before idle ones are forgotten (channel churn must not grow memory). */
const WINDOW_LIMIT = 10_000;

const RESOLVED = Promise.resolve();

/**
 * Flow control and loss accounting of sends to other instances' channels: a send runs ahead of
 * the owner's answer only while the last answer vouches for room, and answers carry the owner's
 * count of what arrived. docs/nats.md ("Capacity across instances", "Loss is counted") tells why.
 */
export class RemoteSends {
  private readonly windows = new Map<string, Window>();
  private readonly ledgers = new Map<string, Ledger>();
  /** Sends to a channel whose owning instance is gone (nobody listens on its subject): dropped. */
  undeliverable = 0;

  private readonly countFrame: Uint8Array;

  constructor(private readonly transport: NatsTransport) {
    const { instanceId } = transport;
    this.countFrame = new FrameWriter(1 + FrameWriter.stringSize(instanceId))
      .u8(FrameKind.count)
      .string(instanceId).bytes;
  }

  /**
   * Sends `frame` (a send frame whose flags byte is at `flagsOffset`) to `owner` on `subject`.
   * `mayRunAhead` is false for frames that must be answered before resolving.
   */
  send(
    channel: string,
    owner: string,
    subject: string,
    frame: Buffer,
    flagsOffset: number,
    mayRunAhead = true,
  ): Promise<void> {
    const window = this.windowOf(channel);
    const ledger = this.ledgerOf(owner, subject);
    const number = ++window.sent;
    ledger.sent++;
    const ahead = number - window.answeredAt;
    const runAhead =
      mayRunAhead &&
      ahead <= window.free &&
      ahead <= MAX_AHEAD &&
      coarseNow() - window.heardAt < ANSWER_TRUSTED_MS &&
      this.transport.connected;
    if (runAhead) {
      frame[flagsOffset] = (frame[flagsOffset] as number) | FrameFlag.mustAccept;
      const askEvery = Math.max(1, Math.min(ASK_EVERY, Math.floor(Math.min(window.free, MAX_AHEAD) / 4)));
      if (number - window.askedAt < askEvery) {
        this.transport.publish(subject, frame, { batchable: true });
        ledger.countTimer ??= setTimeout(() => this.count(ledger), COUNT_AFTER_MS).unref();
        return RESOLVED;
      }
    }
    window.askedAt = number;
    const sent = ledger.sent;
    ledger.pending++;
    const answered = this.transport.request(subject, frame, { batchable: true }).then(
      (reply) => {
        ledger.pending--;
        this.answered(channel, window, number, ledger, sent, reply);
      },
      (error: unknown) => {
        ledger.pending--;
        this.unanswered(window, ledger, error, runAhead);
      },
    );
    if (!runAhead) return answered;
    answered.catch(() => undefined);
    return RESOLVED;
  }

  /** Messages sent to owners that have not answered since (timeouts): maybe lost, until they answer. */
  get unconfirmed(): number {
    let unconfirmed = 0;
    for (const ledger of this.ledgers.values()) if (ledger.stalled) unconfirmed += ledger.sent - ledger.answeredSent;
    return unconfirmed;
  }

  /**
   * Asks an owner how many messages it has had from us, once sending to it pauses: so what was
   * sent without asking is accounted for (lost or undeliverable) without waiting for the next send.
   */
  private count(ledger: Ledger): void {
    ledger.countTimer = undefined;
    if (ledger.sent === ledger.answeredSent) return;
    if (!this.transport.connected) {
      ledger.countTimer = setTimeout(() => this.count(ledger), COUNT_AFTER_MS).unref();
      return;
    }
    const sent = ledger.sent;
    this.transport.request(ledger.subject, this.countFrame, { batchable: true }).then(
      (reply) => this.counted(ledger, sent, readReply(reply.data).received),
      (error: unknown) => this.unanswered(undefined, ledger, error, true),
    );
  }

  private counted(ledger: Ledger, sent: number, received: number): void {
    if (sent <= ledger.answeredSent) return;
    // NATS keeps one publisher's order, so the owner has had everything we sent it before this
    // message that was ever going to arrive: the difference is what went missing.
    ledger.answeredSent = sent;
    ledger.stalled = false;
    // The owner counts every frame that reached it, refused ones too. Sends still waiting for
    // their answer may yet be rejected, so they count once answered; a send rejected unanswered
    // that arrived anyway (a timeout after delivery) makes this count one short.
    const missing = sent - ledger.refused - ledger.pending - received;
    if (missing > ledger.lost) {
      this.transport.diagnostics.lost(missing - ledger.lost, { owner: ledger.subject });
      ledger.lost = missing;
    }
  }

  /** Forgets what owners said of their channels (after flush, or a reconnect). */
  reset(): void {
    for (const window of this.windows.values()) window.heardAt = 0;
  }

  private answered(channel: string, window: Window, number: number, ledger: Ledger, sent: number, reply: Msg): void {
    const answer = readReply(reply.data);
    this.counted(ledger, sent, answer.received);
    if (number > window.answeredAt) {
      window.answeredAt = number;
      window.heardAt = coarseNow();
      window.free = answer.status === ReplyStatus.accepted ? answer.value : 0;
    }
    if (answer.status === ReplyStatus.accepted) return;
    if (answer.status === ReplyStatus.full) throw new ChannelFull(channel, answer.value);
    throw new BackendUnavailable(
      `A large message to ${channel} lost a chunk on the way (a reconnect in the middle) and was not delivered; send it again`,
    );
  }

  private unanswered(window: Window | undefined, ledger: Ledger, error: unknown, ranAhead: boolean): void {
    if (window) window.heardAt = 0;
    if (error instanceof NoResponders) {
      // The owner is gone: nobody can ever receive on the channel, as with a send to a dead
      // consumer's channel in Channels, where the message waits unread until it expires.
      const dropped = ledger.sent - ledger.answeredSent;
      this.undeliverable += dropped;
      ledger.answeredSent = ledger.sent;
      if (dropped > 0) this.transport.diagnostics.dropped("undeliverable", { owner: ledger.subject }, error, dropped);
      return;
    }
    ledger.stalled = true;
    if (ranAhead) return;
    ledger.refused++;
    throw error;
  }

  private windowOf(channel: string): Window {
    let window = this.windows.get(channel);
    if (window === undefined) {
      if (this.windows.size >= WINDOW_LIMIT) this.forgetIdle();
      window = { sent: 0, answeredAt: 0, free: 0, heardAt: 0, askedAt: 0 };
      this.windows.set(channel, window);
    }
    return window;
  }

  private ledgerOf(owner: string, subject: string): Ledger {
    let ledger = this.ledgers.get(owner);
    if (ledger === undefined) {
      if (this.ledgers.size >= WINDOW_LIMIT) this.forgetSettledOwners();
      ledger = {
        sent: 0,
        answeredSent: 0,
        lost: 0,
        refused: 0,
        pending: 0,
        stalled: false,
        subject,
        countTimer: undefined,
      };
      this.ledgers.set(owner, ledger);
    }
    return ledger;
  }

  /** Owners whose every message is accounted for and nothing lost: nothing to remember. */
  private forgetSettledOwners(): void {
    for (const [owner, ledger] of this.ledgers) {
      if (ledger.sent === ledger.answeredSent && ledger.lost === 0 && !ledger.countTimer) this.ledgers.delete(owner);
    }
  }

  /** Stops counting (close). */
  close(): void {
    for (const ledger of this.ledgers.values()) if (ledger.countTimer) clearTimeout(ledger.countTimer);
  }

  private forgetIdle(): void {
    const now = coarseNow();
    for (const [channel, window] of this.windows) {
      if (now - window.heardAt > ANSWER_TRUSTED_MS) this.windows.delete(channel);
    }
  }
}
