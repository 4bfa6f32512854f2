import type { Message } from "@channel-layers/core";
import { ConsumerError } from "../errors.js";

interface Entry {
  event: Message;
  bytes: number;
}

/**
 * Client events waiting for the application's receive(), counted in events and in bytes so the
 * connection can pause reading (and drop a client) on either.
 */
export class InboundQueue {
  private readonly entries: Entry[] = [];
  private waiter: ((event: Message) => void) | undefined;
  /** Bytes of the frames waiting now. */
  bytes = 0;

  constructor(
    /** Told of every change in `bytes`, so the server can sum them over its connections. */
    private readonly onBytesChanged: (delta: number) => void,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  /** Hands `event` to a waiting receive(), or queues it. */
  push(event: Message, bytes = 0): void {
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter(event);
      return;
    }
    this.entries.push({ event, bytes });
    this.changeBytes(bytes);
  }

  /** The next event; waits for one when none is queued. */
  take(): Promise<Message> {
    const next = this.entries.shift();
    if (next !== undefined) {
      this.changeBytes(-next.bytes);
      return Promise.resolve(next.event);
    }
    if (this.waiter !== undefined) {
      return Promise.reject(new ConsumerError("INVALID_EVENT", "receive() called again before the last one resolved"));
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Removes every queued websocket.receive (other events stay); returns how many went. */
  dropFrames(): number {
    const kept = this.entries.filter((entry) => entry.event.type !== "websocket.receive");
    const dropped = this.entries.length - kept.length;
    this.entries.splice(0, this.entries.length, ...kept);
    this.changeBytes(-this.bytes);
    return dropped;
  }

  /** Forgets everything, the waiting receive() included: nobody will read any more. */
  clear(): void {
    this.entries.length = 0;
    this.waiter = undefined;
    this.changeBytes(-this.bytes);
  }

  private changeBytes(delta: number): void {
    if (delta === 0) return;
    this.bytes += delta;
    this.onBytesChanged(delta);
  }
}
