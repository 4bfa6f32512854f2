import { BackendUnavailable } from "@channel-layers/core";
import { coarseNow } from "@channel-layers/core/backend";
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type { Publisher } from "./publisher.js";

/** Nobody subscribes to the subject a request went to (the server answered 503). */
export class NoResponders extends Error {
  constructor(readonly subject: string) {
    super(`Nobody listens on ${subject}`);
    this.name = "NoResponders";
  }
}

/** How one request is published. */
export interface RequestOptions {
  headers?: MsgHdrs;
  /** The receiver reads batch frames (another instance, not JetStream). */
  batchable?: boolean;
}

interface Pending {
  resolve(reply: Msg): void;
  reject(error: unknown): void;
  deadline: number;
  subject: string;
}

/**
 * Request/reply on one inbox subscription, with one timer for all requests rather than one per
 * request (nats.js's request() arms a timer each time, which costs more than the rest of a send).
 * Replies carry the request's number in their subject; a request unanswered after the timeout
 * rejects with BACKEND_UNAVAILABLE.
 */
export class Requests {
  private readonly inbox = createInbox();
  private readonly subscription: Subscription;
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    nc: NatsConnection,
    private readonly publisher: Publisher,
    private readonly timeoutMs: number,
  ) {
    this.subscription = nc.subscribe(`${this.inbox}.*`, { callback: (_error, reply) => this.answer(reply) });
  }

  /** Publishes `payload` to `subject` and resolves with the reply. */
  request(subject: string, payload: Uint8Array, options: RequestOptions = {}): Promise<Msg> {
    const id = ++this.next;
    return new Promise<Msg>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline: coarseNow() + this.timeoutMs, subject });
      this.publisher.publish(subject, payload, {
        reply: `${this.inbox}.${id}`,
        headers: options.headers,
        batchable: options.batchable,
        failed: (error) => {
          if (this.pending.delete(id)) reject(error);
        },
      });
      this.timer ??= setInterval(() => this.expire(), Math.min(250, this.timeoutMs / 2)).unref();
    });
  }

  /** Rejects every pending request with `error` and stops listening. */
  close(error: unknown): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const request of pending) request.reject(error);
    if (!this.subscription.isClosed()) this.subscription.unsubscribe();
  }

  private answer(reply: Msg): void {
    const id = Number(reply.subject.slice(this.inbox.length + 1));
    const request = this.pending.get(id);
    if (request === undefined) return;
    this.pending.delete(id);
    if (reply.data.length === 0 && reply.headers?.code === 503) request.reject(new NoResponders(request.subject));
    else request.resolve(reply);
  }

  /** Requests were made in deadline order, so the expired ones are at the front of the map. */
  private expire(): void {
    const now = Date.now();
    for (const [id, request] of this.pending) {
      if (request.deadline > now) break;
      this.pending.delete(id);
      request.reject(
        new BackendUnavailable(
          `No answer from NATS on ${request.subject} within ${this.timeoutMs} ms: the server or the instance that owns the channel is unreachable; the message may or may not have arrived`,
        ),
      );
    }
    if (this.pending.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
