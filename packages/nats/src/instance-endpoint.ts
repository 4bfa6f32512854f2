import { ChannelDiscarded } from "@channel-layers/core";
import { ChunkAssembler } from "./chunks.js";
import { FrameFlag, FrameKind, FrameReader, ReplyStatus, replyFrame } from "./frames.js";
import type { OwnChannels } from "./own-channels.js";
import type { NatsTransport } from "./transport.js";

const DONE = replyFrame(ReplyStatus.done, 0);
/** Sending instances whose counts are kept. */
const MAX_SENDERS = 10_000;

/**
 * This instance's one subscription (`<prefix>.i.<instanceId>`): what other instances ask of its
 * process-local channels. Sends are buffered (or refused as full) and answered with the room left;
 * group joins are answered once the group's subscription is in place, so a groupSend made after
 * the groupAdd returns reaches the new member.
 */
export class InstanceEndpoint {
  private readonly chunks: ChunkAssembler;
  /** Send frames had from each sending instance, told back to it so it can count what went missing. */
  private readonly received = new Map<string, number>();

  constructor(
    private readonly transport: NatsTransport,
    private readonly own: OwnChannels,
  ) {
    this.chunks = new ChunkAssembler(Math.max(transport.settings.requestTimeoutMs, 10_000), transport.diagnostics);
  }

  /** Messages dropped because a chunk went missing. */
  get incompleteTransfers(): number {
    return this.chunks.incomplete;
  }

  /** Subscribes to this instance's subject (open). */
  listen(): void {
    const subject = this.transport.subjects.instance(this.transport.instanceId);
    this.transport.subscribe(subject, (msg) => {
      try {
        this.arrived(msg.data, msg.reply);
      } catch (error) {
        this.transport.dropUnreadable({ subject }, error);
      }
    });
  }

  /** Forgets half-received transfers (flush). */
  flush(): void {
    this.chunks.clear();
  }

  private arrived(data: Uint8Array, reply: string | undefined): void {
    const reader = new FrameReader(data);
    const kind = reader.u8();
    if (kind === FrameKind.send) this.send(reader, reply);
    else if (kind === FrameKind.batch) {
      for (let count = reader.u32(); count > 0; count--) {
        const entryReply = reader.string();
        this.arrived(reader.bytes(reader.u32()), entryReply);
      }
    } else if (kind === FrameKind.chunk) this.chunks.add(reader.string(), reader.rest());
    else if (kind === FrameKind.join) {
      this.own.join(reader.string(), reader.string()).then(
        () => this.reply(reply, DONE),
        () => undefined, // Disconnected: the requester times out and says so.
      );
    } else if (kind === FrameKind.leave) {
      this.own.leave(reader.string(), reader.string());
      this.reply(reply, DONE);
    } else if (kind === FrameKind.count) {
      this.reply(reply, replyFrame(ReplyStatus.done, 0, this.received.get(reader.string()) ?? 0));
    } else if (kind === FrameKind.discard) {
      const channel = reader.string();
      this.own.discard(channel, new ChannelDiscarded(channel));
      this.reply(reply, DONE);
    } else throw new RangeError(`Frame kind ${kind} on an instance subject`);
  }

  private send(reader: FrameReader, reply: string | undefined): void {
    const flags = reader.u8();
    const channel = reader.string();
    const sender = reader.string();
    const received = (this.received.get(sender) ?? 0) + 1;
    this.received.set(sender, received);
    if (received === 1 && this.received.size > MAX_SENDERS) {
      // Senders are layer instances, which come and go: forget the longest-known one.
      for (const oldest of this.received.keys()) {
        this.received.delete(oldest);
        break;
      }
    }
    const body = this.chunks.bodyOf(reader, flags);
    if (body === undefined) {
      this.reply(reply, replyFrame(ReplyStatus.incomplete, 0, received));
      return;
    }
    const message = this.transport.decode(body, { channel, sender });
    // An undecodable message is dropped (and counted); "no room known" makes its sender ask next time.
    const free = message === undefined ? 0 : this.own.deliver(channel, message, (flags & FrameFlag.mustAccept) !== 0);
    if (!reply) return;
    this.reply(
      reply,
      free < 0
        ? replyFrame(ReplyStatus.full, this.own.capacityOf(channel), received)
        : replyFrame(ReplyStatus.accepted, free, received),
    );
  }

  private reply(subject: string | undefined, frame: Uint8Array): void {
    // nats.js gives a message without a reply subject an empty one.
    if (subject) this.transport.publish(subject, frame);
  }
}
