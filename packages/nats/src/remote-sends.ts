import { BackendUnavailable, ChannelFull, coarseNow } from "@channel-layers/core";
import type { Msg } from "@nats-io/transport-node";
import { FrameFlag, ReplyStatus } from "./frames.js";
import { NoResponders, type Requests } from "./requests.js";

/** What a sender knows of one remote process-local channel. */
interface Window {
  /** Room the owner reported after the last message it acknowledged. */
  knownFree: number;
  knownAt: number;
  /** Messages sent and not yet acknowledged. */
  inFlight: number;
}

/** A send may run ahead of acknowledgements by at most this many messages per channel. */
const MAX_AHEAD = 1024;
/** What the owner reported is trusted for this long. */
const KNOWN_FREE_MS = 1000;
/** Windows kept before idle ones are forgotten (channel churn must not grow memory). */
const WINDOW_LIMIT = 10_000;

const RESOLVED = Promise.resolve();

/**
 * Sends to process-local channels owned by other instances. Each send is a request to the owner,
 * which buffers the message (or refuses it when the channel is full) and answers with the room
 * left. A sender that already knows there is room for this message, counting its own
 * unacknowledged ones, resolves at once and lets the acknowledgement come later, so a stream of
 * sends to one channel is not held to one round trip each; it marks such a message "must
 * accept". Capacity is exact for a single sender; several senders racing on one channel can
 * overfill it by what each had in flight. Sends that resolved early and then got no
 * acknowledgement are counted in `unacknowledged`: they may be lost.
 */
export class RemoteSends {
  private readonly windows = new Map<string, Window>();
  /** Sends that resolved before their acknowledgement, which then never came. */
  unacknowledged = 0;
  /** Sends to a channel whose owning instance is gone (nobody listens on its subject). */
  undeliverable = 0;

  constructor(
    private readonly requests: Requests,
    private readonly connected: () => boolean,
  ) {}

  /**
   * Sends `frame` (a send frame whose flags byte is at `flagsOffset`) to the owner's `subject`.
   * `mayRunAhead` is false for frames that must be acknowledged before resolving.
   */
  send(channel: string, subject: string, frame: Buffer, flagsOffset: number, mayRunAhead = true): Promise<void> {
    let window = this.windows.get(channel);
    if (window === undefined) {
      if (this.windows.size >= WINDOW_LIMIT) this.forgetIdle();
      window = { knownFree: 0, knownAt: 0, inFlight: 0 };
      this.windows.set(channel, window);
    }
    const ahead =
      mayRunAhead &&
      window.inFlight < window.knownFree &&
      window.inFlight < MAX_AHEAD &&
      coarseNow() - window.knownAt < KNOWN_FREE_MS &&
      this.connected();
    if (ahead) frame[flagsOffset] = (frame[flagsOffset] as number) | FrameFlag.mustAccept;
    window.inFlight++;
    const settled = this.requests.request(subject, frame).then(
      (reply) => this.acknowledged(channel, window, reply),
      (error: unknown) => this.failed(window, error, ahead),
    );
    if (!ahead) return settled;
    settled.catch(() => undefined);
    return RESOLVED;
  }

  /** Forgets what was learnt of every channel (after flush, or a reconnect). */
  reset(): void {
    for (const window of this.windows.values()) window.knownFree = 0;
  }

  private acknowledged(channel: string, window: Window, reply: Msg): void {
    window.inFlight--;
    const data = reply.data;
    const status = data[0];
    const value = data.length >= 5 ? Buffer.from(data.buffer, data.byteOffset, data.byteLength).readUInt32BE(1) : 0;
    window.knownAt = coarseNow();
    if (status === ReplyStatus.accepted) {
      window.knownFree = value;
      return;
    }
    window.knownFree = 0;
    if (status === ReplyStatus.full) throw new ChannelFull(channel, value);
    throw new BackendUnavailable(
      `A large message to ${channel} lost a chunk on the way (a reconnect in the middle) and was not delivered; send it again`,
    );
  }

  private failed(window: Window, error: unknown, ranAhead: boolean): void {
    window.inFlight--;
    window.knownFree = 0;
    if (error instanceof NoResponders) {
      // The owner is gone: nobody can ever receive on the channel, as with a send to a dead
      // consumer's channel in Channels, where the message waits unread until it expires.
      this.undeliverable++;
      return;
    }
    if (ranAhead) this.unacknowledged++;
    throw error;
  }

  private forgetIdle(): void {
    for (const [channel, window] of this.windows) if (window.inFlight === 0) this.windows.delete(channel);
  }
}
