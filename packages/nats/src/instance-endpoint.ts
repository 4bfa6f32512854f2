import { ChannelDiscarded } from "@channel-layers/core";
import type { MessageSerializer } from "@channel-layers/core/backend";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { ChunkAssembler } from "./chunks.js";
import { FrameFlag, FrameKind, FrameReader, ReplyStatus, replyFrame } from "./frames.js";
import type { GroupSubscriptions } from "./group-subscriptions.js";
import type { LocalChannels } from "./local-channels.js";
import type { Publisher } from "./publisher.js";

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
  private readonly subscription: Subscription;
  /** Frames that could not be read. */
  unreadable = 0;
  /** Send frames had from each sending instance, told back to it so it can count what went missing. */
  private readonly received = new Map<string, number>();

  constructor(
    nc: NatsConnection,
    private readonly publisher: Publisher,
    subject: string,
    private readonly local: LocalChannels,
    private readonly groups: GroupSubscriptions,
    private readonly serializer: MessageSerializer,
    private readonly chunks: ChunkAssembler,
    private readonly capacityFor: (channel: string) => number,
  ) {
    this.subscription = nc.subscribe(subject, { callback: (_error, msg) => this.arrived(msg.data, msg.reply) });
  }

  close(): void {
    if (!this.subscription.isClosed()) this.subscription.unsubscribe();
  }

  private arrived(data: Uint8Array, reply: string | undefined): void {
    try {
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
        const group = reader.string();
        const channel = reader.string();
        this.local.join(group, channel, Date.now() + reader.f64());
        this.groups.subscribe(group).then(
          () => this.reply(reply, DONE),
          () => undefined, // Disconnected: the requester times out and says so.
        );
      } else if (kind === FrameKind.leave) {
        const group = reader.string();
        if (this.local.leave(group, reader.string())) this.groups.unsubscribe(group);
        this.reply(reply, DONE);
      } else if (kind === FrameKind.count) {
        this.reply(reply, replyFrame(ReplyStatus.done, 0, this.received.get(reader.string()) ?? 0));
      } else if (kind === FrameKind.discard) {
        const channel = reader.string();
        for (const group of this.local.discard(channel, new ChannelDiscarded(channel))) this.groups.unsubscribe(group);
        this.reply(reply, DONE);
      } else this.unreadable++;
    } catch {
      this.unreadable++;
    }
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
    const free = this.local.deliver(channel, this.serializer.decode(body), (flags & FrameFlag.mustAccept) !== 0);
    if (!reply) return;
    this.reply(
      reply,
      free < 0
        ? replyFrame(ReplyStatus.full, this.capacityFor(channel), received)
        : replyFrame(ReplyStatus.accepted, free, received),
    );
  }

  private reply(subject: string | undefined, frame: Uint8Array): void {
    // nats.js gives a message without a reply subject an empty one.
    if (subject) this.publisher.publish(subject, frame);
  }
}
