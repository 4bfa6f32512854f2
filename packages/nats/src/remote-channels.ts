import { chunkedFieldsSize, publishChunks } from "./chunks.js";
import { FrameFlag, FrameKind, FrameWriter } from "./frames.js";
import { RemoteSends } from "./remote-sends.js";
import { NoResponders } from "./requests.js";
import type { NatsTransport } from "./transport.js";

/**
 * Process-local channels of other instances: their owner keeps their buffers and memberships, so
 * a send, groupAdd, groupDiscard or discardChannel on one is a frame to the owner's subject. A gone
 * owner (nobody listens) makes each a no-op, as nobody can receive on its channels any more.
 */
export class RemoteChannels {
  private readonly sends: RemoteSends;

  constructor(private readonly transport: NatsTransport) {
    this.sends = new RemoteSends(transport);
  }

  /** Sends to a gone instance's channels: dropped, as nobody could receive them. */
  get undeliverable(): number {
    return this.sends.undeliverable;
  }

  /** Sent to owners that have not answered since a timeout: maybe lost, until they answer. */
  get unconfirmed(): number {
    return this.sends.unconfirmed;
  }

  /** Sends an encoded message to `owner`'s channel; see RemoteSends for when it waits for an answer. */
  send(owner: string, channel: string, body: Uint8Array): Promise<void> {
    const { instanceId } = this.transport;
    const subject = this.transport.subjects.instance(owner);
    const head = 2 + FrameWriter.stringSize(channel) + FrameWriter.stringSize(instanceId);
    if (body.byteLength <= this.transport.chunkSize) {
      const frame = new FrameWriter(head + body.byteLength).u8(FrameKind.send).u8(0).string(channel).string(instanceId);
      return this.sends.send(channel, owner, subject, frame.raw(body).bytes, 1);
    }
    const chunked = publishChunks(this.transport, subject, body);
    const frame = new FrameWriter(head + chunkedFieldsSize(chunked) + chunked.tail.byteLength)
      .u8(FrameKind.send)
      .u8(FrameFlag.chunked)
      .string(channel)
      .string(instanceId)
      .string(chunked.key)
      .u32(chunked.count);
    // A chunked message is answered before its send resolves: a lost chunk rejects it.
    return this.sends.send(channel, owner, subject, frame.raw(chunked.tail).bytes, 1, false);
  }

  /** Asks the owner to add its channel to a group (answered once it is subscribed to the group). */
  join(owner: string, group: string, channel: string): Promise<void> {
    return this.ask(owner, membershipFrame(FrameKind.join, group, channel));
  }

  leave(owner: string, group: string, channel: string): Promise<void> {
    return this.ask(owner, membershipFrame(FrameKind.leave, group, channel));
  }

  discard(owner: string, channel: string): Promise<void> {
    return this.ask(
      owner,
      new FrameWriter(1 + FrameWriter.stringSize(channel)).u8(FrameKind.discard).string(channel).bytes,
    );
  }

  /** Forgets what owners said of their channels' room (after a flush or a reconnect). */
  forgetAnswers(): void {
    this.sends.reset();
  }

  /** Stops counting (close). */
  close(): void {
    this.sends.close();
  }

  private async ask(owner: string, frame: Uint8Array): Promise<void> {
    try {
      await this.transport.request(this.transport.subjects.instance(owner), frame, { batchable: true });
    } catch (error) {
      if (!(error instanceof NoResponders)) throw error;
    }
  }
}

function membershipFrame(kind: number, group: string, channel: string): Uint8Array {
  return new FrameWriter(1 + FrameWriter.stringSize(group) + FrameWriter.stringSize(channel))
    .u8(kind)
    .string(group)
    .string(channel).bytes;
}
