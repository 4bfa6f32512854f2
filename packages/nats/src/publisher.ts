import { BackendUnavailable } from "@channel-layers/core";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";

interface Outgoing {
  subject: string;
  payload: Uint8Array;
  reply: string | undefined;
  headers: MsgHdrs | undefined;
  failed: ((error: unknown) => void) | undefined;
}

/**
 * Every publish of a layer goes through here, in order, and reaches nats.js once per turn of the
 * event loop. nats.js writes its buffer to the socket in a microtask after the first publish into
 * it, so a caller that awaits each send (whose promise may already be resolved) would otherwise
 * cost one socket write per message; handing nats.js a turn's publishes at once makes that one
 * write for all of them. Order is kept because nothing the layer publishes bypasses this queue.
 */
export class Publisher {
  private queue: Outgoing[] = [];
  private scheduled = false;

  constructor(private readonly nc: NatsConnection) {}

  publish(
    subject: string,
    payload: Uint8Array,
    reply?: string,
    headers?: MsgHdrs,
    failed?: (error: unknown) => void,
  ): void {
    this.queue.push({ subject, payload, reply, headers, failed });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  /** Hands what is queued to nats.js now (before a flush, or a close). */
  readonly drain = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    for (const { subject, payload, reply, headers, failed } of queue) {
      try {
        this.nc.publish(
          subject,
          payload,
          reply === undefined && headers === undefined ? undefined : { reply, headers },
        );
      } catch (cause) {
        failed?.(new BackendUnavailable(`Could not publish to NATS: ${(cause as Error).message}`, { cause }));
      }
    }
  };

  /** Resolves once the server has everything published so far. */
  async flush(): Promise<void> {
    this.drain();
    await this.nc.flush();
  }
}
