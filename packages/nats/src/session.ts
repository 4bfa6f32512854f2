import type { MessageSerializer } from "@channel-layers/core/backend";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { BlobStore } from "./blobs.js";
import { ChunkAssembler, chunkSizeFor, splitIntoChunks } from "./chunks.js";
import { DurableChannels } from "./durable-channels.js";
import { FrameFlag, FrameKind, FrameReader, FrameWriter } from "./frames.js";
import { GroupSubscriptions } from "./group-subscriptions.js";
import { InstanceEndpoint } from "./instance-endpoint.js";
import { JetStreamCalls, unavailable } from "./jetstream.js";
import type { LocalChannels } from "./local-channels.js";
import { NamedMemberships } from "./named-memberships.js";
import { Publisher } from "./publisher.js";
import { RemoteSends } from "./remote-sends.js";
import { NoResponders, Requests } from "./requests.js";
import type { SubjectMap } from "./subjects.js";

/** What a session needs from its layer. */
export interface SessionContext {
  instanceId: string;
  subjects: SubjectMap;
  local: LocalChannels;
  serializer: MessageSerializer;
  expiryMs: number;
  groupExpiryMs: number;
  requestTimeoutMs: number;
  ackWaitMs: number;
  capacityFor(channel: string): number;
}

/** Lapsed memberships of groups nobody sends to are swept at most this often. */
const MAX_SWEEP_INTERVAL_MS = 30_000;

/**
 * Everything a layer instance does over one NATS connection: its subscriptions (its own subject,
 * its groups, flush notices, reply and pull inboxes), JetStream, and reconnect handling. Made
 * once the connection is up; the layer sends its own process-local channels' messages without it.
 */
export class Session {
  readonly publisher: Publisher;
  readonly requests: Requests;
  readonly js: JetStreamCalls;
  readonly durable: DurableChannels;
  readonly memberships: NamedMemberships;
  readonly remote: RemoteSends;
  readonly groups: GroupSubscriptions;
  readonly chunks: ChunkAssembler;
  /** Largest body sent in one piece: the server's max_payload less room for the frame. */
  readonly chunkSize: number;
  private readonly endpoint: InstanceEndpoint;
  private readonly control: Subscription;
  private readonly sweepTimer: NodeJS.Timeout;
  private statuses: { stop?(): void } | undefined;
  private transfers = 0;
  connected = true;
  /** Times the connection came back after a loss. */
  reconnects = 0;

  private constructor(
    readonly nc: NatsConnection,
    private readonly ctx: SessionContext,
  ) {
    const { subjects, local, serializer } = ctx;
    this.chunkSize = chunkSizeFor(nc.info?.max_payload ?? 1024 * 1024);
    this.publisher = new Publisher(nc, this.chunkSize);
    this.requests = new Requests(nc, this.publisher, ctx.requestTimeoutMs);
    this.js = new JetStreamCalls(nc, this.requests, ctx.requestTimeoutMs);
    this.chunks = new ChunkAssembler(Math.max(ctx.requestTimeoutMs, 10_000));
    this.durable = new DurableChannels(
      nc,
      this.publisher,
      this.js,
      subjects,
      new BlobStore(this.js, subjects, ctx.expiryMs, this.chunkSize),
      {
        expiryMs: ctx.expiryMs,
        ackWaitMs: ctx.ackWaitMs,
        capacityFor: ctx.capacityFor,
        serializer,
        chunkSize: this.chunkSize,
        connected: () => this.connected,
      },
    );
    this.memberships = new NamedMemberships(this.js, subjects, ctx.groupExpiryMs);
    this.remote = new RemoteSends(this.requests, this.publisher, () => this.connected, ctx.instanceId);
    this.groups = new GroupSubscriptions(nc, subjects, local, serializer, this.chunks, ctx.instanceId);
    this.endpoint = new InstanceEndpoint(
      nc,
      this.publisher,
      subjects.instance(ctx.instanceId),
      local,
      this.groups,
      serializer,
      this.chunks,
      ctx.capacityFor,
    );
    this.control = nc.subscribe(subjects.control, { callback: (_error, msg) => this.controlArrived(msg) });
    this.sweepTimer = setInterval(
      () => {
        for (const group of local.sweepMemberships()) this.groups.unsubscribe(group);
      },
      Math.min(ctx.groupExpiryMs, MAX_SWEEP_INTERVAL_MS),
    ).unref();
    this.watchStatus();
  }

  /** A session on `nc`, once the server has its subscriptions. */
  static async open(nc: NatsConnection, ctx: SessionContext): Promise<Session> {
    const session = new Session(nc, ctx);
    await nc.flush();
    return session;
  }

  /** Sends an encoded message to a process-local channel of the instance `owner`. */
  sendToInstance(channel: string, owner: string, body: Uint8Array): Promise<void> {
    const subject = this.ctx.subjects.instance(owner);
    const head = 2 + FrameWriter.stringSize(channel) + FrameWriter.stringSize(this.ctx.instanceId);
    if (body.byteLength <= this.chunkSize) {
      const frame = new FrameWriter(head + body.byteLength)
        .u8(FrameKind.send)
        .u8(0)
        .string(channel)
        .string(this.ctx.instanceId)
        .raw(body);
      return this.remote.send(channel, owner, subject, frame.bytes, 1);
    }
    const { key, count, tail } = this.publishChunks(subject, body);
    const frame = new FrameWriter(head + FrameWriter.stringSize(key) + 4 + tail.byteLength)
      .u8(FrameKind.send)
      .u8(FrameFlag.chunked)
      .string(channel)
      .string(this.ctx.instanceId)
      .string(key)
      .u32(count)
      .raw(tail);
    return this.remote.send(channel, owner, subject, frame.bytes, 1, false);
  }

  /** Publishes an encoded message once on the group's subject, for every other instance's members. */
  publishToGroup(group: string, body: Uint8Array): void {
    const subject = this.ctx.subjects.group(group);
    const sender = FrameWriter.stringSize(this.ctx.instanceId);
    if (body.byteLength <= this.chunkSize) {
      this.publisher.publish(
        subject,
        new FrameWriter(2 + sender + body.byteLength).u8(FrameKind.group).u8(0).string(this.ctx.instanceId).raw(body)
          .bytes,
      );
      return;
    }
    const { key, count, tail } = this.publishChunks(subject, body);
    this.publisher.publish(
      subject,
      new FrameWriter(2 + sender + FrameWriter.stringSize(key) + 4 + tail.byteLength)
        .u8(FrameKind.group)
        .u8(FrameFlag.chunked)
        .string(this.ctx.instanceId)
        .string(key)
        .u32(count)
        .raw(tail).bytes,
    );
  }

  /** Asks the instance `owner` to add its channel to a group (answered once it is subscribed). */
  join(owner: string, group: string, channel: string): Promise<void> {
    const frame = new FrameWriter(1 + FrameWriter.stringSize(group) + FrameWriter.stringSize(channel) + 8)
      .u8(FrameKind.join)
      .string(group)
      .string(channel)
      .f64(this.ctx.groupExpiryMs);
    return this.ask(owner, frame.bytes);
  }

  leave(owner: string, group: string, channel: string): Promise<void> {
    const frame = new FrameWriter(1 + FrameWriter.stringSize(group) + FrameWriter.stringSize(channel))
      .u8(FrameKind.leave)
      .string(group)
      .string(channel);
    return this.ask(owner, frame.bytes);
  }

  discard(owner: string, channel: string): Promise<void> {
    return this.ask(
      owner,
      new FrameWriter(1 + FrameWriter.stringSize(channel)).u8(FrameKind.discard).string(channel).bytes,
    );
  }

  /** Tells every other instance of the prefix to flush, and empties every stream of the prefix. */
  async flush(): Promise<void> {
    this.publisher.publish(
      this.ctx.subjects.control,
      new FrameWriter(1 + FrameWriter.stringSize(this.ctx.instanceId)).u8(FrameKind.flush).string(this.ctx.instanceId)
        .bytes,
    );
    try {
      const streams = await this.js.streamNames(this.ctx.subjects.everything);
      await Promise.all(streams.map((stream) => this.js.purgeStream(stream)));
      await this.publisher.flush();
    } catch (error) {
      throw unavailable("flush", error);
    }
  }

  /** Forgets this instance's own state that flush() cleared (also on another instance's flush notice). */
  flushedHere(): void {
    for (const group of this.ctx.local.flush()) this.groups.unsubscribe(group);
    this.remote.reset();
    this.chunks.clear();
  }

  /**
   * Stops listening, closes the connection if the layer made it, and only then rejects what was
   * pending with `error`: the rejections land just before close() resolves, so a caller that
   * awaits close() and then handles them is not reported for unhandled rejections.
   */
  async close(error: unknown, ownsConnection: boolean): Promise<void> {
    clearInterval(this.sweepTimer);
    this.remote.close();
    this.statuses?.stop?.();
    this.endpoint.close();
    this.groups.unsubscribeAll();
    if (!this.control.isClosed()) this.control.unsubscribe();
    // Held durable messages go back to the server, and sends that resolved ahead of their
    // acknowledgement may still be queued here: out they go before the connection closes.
    this.durable.releaseAll();
    this.publisher.drain();
    if (ownsConnection) {
      await this.nc.flush().catch(() => undefined);
      await this.nc.close().catch(() => undefined);
    }
    this.requests.close(error);
    this.durable.close(error);
  }

  /** A request to another instance; a gone instance (nobody listens) is a no-op. */
  private async ask(owner: string, frame: Uint8Array): Promise<void> {
    try {
      await this.requests.request(this.ctx.subjects.instance(owner), frame, undefined, true);
    } catch (error) {
      if (!(error instanceof NoResponders)) throw error;
    }
  }

  /** Publishes all but the last piece of a large body as chunk frames; the caller sends the closing frame. */
  private publishChunks(subject: string, body: Uint8Array): { key: string; count: number; tail: Uint8Array } {
    const key = `${this.ctx.instanceId}.${++this.transfers}`;
    const { chunks, tail } = splitIntoChunks(key, body, this.chunkSize);
    for (const chunk of chunks) this.publisher.publish(subject, chunk);
    return { key, count: chunks.length, tail };
  }

  private controlArrived(msg: Msg): void {
    try {
      const reader = new FrameReader(msg.data);
      if (reader.u8() === FrameKind.flush && reader.string() !== this.ctx.instanceId) this.flushedHere();
    } catch {
      // Not a frame of ours.
    }
  }

  private watchStatus(): void {
    const statuses = this.nc.status();
    this.statuses = statuses as { stop?(): void };
    (async () => {
      for await (const status of statuses) {
        if (status.type === "disconnect") this.connected = false;
        else if (status.type === "reconnect") {
          this.connected = true;
          this.reconnects++;
          this.remote.reset();
          this.durable.reconnected();
        }
      }
    })().catch(() => undefined);
  }
}
