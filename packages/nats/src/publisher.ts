import { BackendUnavailable } from "@channel-layers/core";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { FrameKind } from "./frames.js";

/** How one message is published. */
export interface PublishOptions {
  /** Where the receiver answers. */
  reply?: string;
  headers?: MsgHdrs;
  /** Called if nats.js refuses the publish (a closed connection). */
  failed?: (error: unknown) => void;
  /** The receiver reads batch frames: it may travel in one with its neighbours. */
  batchable?: boolean;
}

interface Outgoing extends PublishOptions {
  subject: string;
  payload: Uint8Array;
}

const NO_OPTIONS: PublishOptions = {};

/** Bytes a frame takes in a batch besides itself: its reply's length and its own length. */
const BATCH_ENTRY_ROOM = 1 + 4;

/**
 * Every publish of a layer, in order, handed to nats.js once per event-loop turn: one socket write
 * for a turn's publishes instead of one per awaited send, and consecutive frames for one instance
 * go as one batch frame.
 */
export class Publisher {
  private queue: Outgoing[] = [];
  private scheduled = false;

  constructor(
    private readonly nc: NatsConnection,
    /** The largest batch frame: the server's max_payload less room for the protocol. */
    private readonly maxBatchBytes: number,
  ) {}

  publish(subject: string, payload: Uint8Array, options: PublishOptions = NO_OPTIONS): void {
    this.queue.push({ subject, payload, ...options });
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
    for (let i = 0; i < queue.length; ) {
      const first = queue[i] as Outgoing;
      let end = i + 1;
      if (first.batchable) {
        let size = 5 + BATCH_ENTRY_ROOM + (first.reply?.length ?? 0) + first.payload.byteLength;
        for (; end < queue.length; end++) {
          const next = queue[end] as Outgoing;
          const grown = size + BATCH_ENTRY_ROOM + (next.reply?.length ?? 0) + next.payload.byteLength;
          if (!next.batchable || next.subject !== first.subject || grown > this.maxBatchBytes) break;
          size = grown;
        }
      }
      if (end - i === 1) this.send(first.subject, first.payload, first.reply, first.headers, [first]);
      else this.send(first.subject, batchFrame(queue, i, end), undefined, undefined, queue.slice(i, end));
      i = end;
    }
  };

  /** Resolves once the server has everything published so far. */
  async flush(): Promise<void> {
    this.drain();
    await this.nc.flush();
  }

  private send(
    subject: string,
    payload: Uint8Array,
    reply: string | undefined,
    headers: MsgHdrs | undefined,
    carried: Outgoing[],
  ): void {
    try {
      this.nc.publish(subject, payload, reply === undefined && headers === undefined ? undefined : { reply, headers });
    } catch (cause) {
      const error = new BackendUnavailable(`Could not publish to NATS: ${(cause as Error).message}`, { cause });
      for (const outgoing of carried) outgoing.failed?.(error);
    }
  }
}

/** `[batch][count u32]`, then per frame `[reply length u8][reply][frame length u32][frame]`. */
function batchFrame(queue: Outgoing[], start: number, end: number): Uint8Array {
  let size = 5;
  for (let i = start; i < end; i++) {
    const outgoing = queue[i] as Outgoing;
    size += BATCH_ENTRY_ROOM + (outgoing.reply?.length ?? 0) + outgoing.payload.byteLength;
  }
  const bytes = Buffer.allocUnsafe(size);
  bytes[0] = FrameKind.batch;
  bytes.writeUInt32BE(end - start, 1);
  let offset = 5;
  for (let i = start; i < end; i++) {
    const { reply, payload } = queue[i] as Outgoing;
    bytes[offset++] = reply?.length ?? 0;
    if (reply) offset += bytes.write(reply, offset, "latin1");
    bytes.writeUInt32BE(payload.byteLength, offset);
    offset += 4;
    bytes.set(payload, offset);
    offset += payload.byteLength;
  }
  return bytes;
}
