import type { Message } from "@channel-layers/core";
import { coarseNow, copyMessage, LocalGroups, LocalMailboxes, stampHistory } from "@channel-layers/core/backend";
import type { Msg, Subscription } from "@nats-io/transport-node";
import { ChunkAssembler, chunkedFieldsSize, publishChunks } from "./chunks.js";
import { FrameFlag, FrameKind, FrameReader, FrameWriter } from "./frames.js";
import { historyOffset } from "./group-histories.js";
import { unavailable } from "./jetstream.js";
import { RepublishOrder } from "./republish-order.js";
import type { NatsTransport } from "./transport.js";

/** How long messages wait and how many a channel holds: the layer's options. */
export interface Limits {
  readonly expiryMs: number;
  readonly groupExpiryMs: number;
  capacityFor(channel: string): number;
}

interface GroupSubscription {
  subscription: Subscription;
  /** Resolves once the server has the subscription, so a groupSend after groupAdd reaches it. */
  ready: Promise<void>;
  /** The last confirmation failed (no connection): the next join asks again. */
  failed: boolean;
}

/**
 * The process-local channels this instance made: their buffers (in memory, as the in-memory
 * layer keeps them) and their group memberships, which live only here, in the owner. Each group
 * with members here has one subscription to the group's subject: a groupSend is one publish, and
 * every instance with members fans it out to its own.
 */
export class OwnChannels {
  private readonly mailboxes: LocalMailboxes;
  private readonly memberships: LocalGroups;
  private readonly subscriptions = new Map<string, GroupSubscription>();
  private readonly chunks: ChunkAssembler;
  /** History messages back in stream order (the server may republish two senders' out of order). */
  private readonly order = new RepublishOrder();

  constructor(
    private readonly transport: NatsTransport,
    private readonly limits: Limits,
  ) {
    const { diagnostics, settings } = transport;
    this.mailboxes = new LocalMailboxes(diagnostics.counters);
    this.memberships = new LocalGroups({ groupExpiryMs: limits.groupExpiryMs });
    this.chunks = new ChunkAssembler(Math.max(settings.requestTimeoutMs, 10_000), diagnostics);
  }

  /** Channels holding messages or waiting receives (idle ones are swept first). */
  get channelCount(): number {
    this.mailboxes.sweep();
    return this.mailboxes.size;
  }

  get groupCount(): number {
    return this.memberships.groupCount;
  }

  get membershipCount(): number {
    return this.memberships.membershipCount;
  }

  /** Group messages dropped because a chunk went missing. */
  get incompleteTransfers(): number {
    return this.chunks.incomplete;
  }

  /**
   * Buffers `message` or hands it to a waiting receive. Returns the room left after it, or -1
   * (counted as channelFull) when the channel is full; `mustAccept` buffers it even then (its
   * sender already counted it in).
   */
  deliver(channel: string, message: Message, mustAccept: boolean, now = coarseNow()): number {
    const box = this.mailboxes.open(channel, now);
    const capacity = this.limits.capacityFor(channel);
    if (mustAccept) box.deliver(message, now + this.limits.expiryMs);
    else if (!box.offer(message, now + this.limits.expiryMs, capacity, now)) {
      this.transport.diagnostics.counters.channelFull++;
      return -1;
    }
    return capacity - box.size(now);
  }

  capacityOf(channel: string): number {
    return this.limits.capacityFor(channel);
  }

  take(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    return this.mailboxes.take(channel, signal);
  }

  /** Adds or renews a membership; resolves once the server has this instance's subscription to the group. */
  join(group: string, channel: string): Promise<void> {
    this.sweepIfDue();
    this.memberships.add(group, channel);
    return this.subscribe(group);
  }

  leave(group: string, channel: string): void {
    if (this.memberships.remove(group, channel)) this.unsubscribe(group);
  }

  /** Drops the channel's buffer, rejects its receives with `error`, and takes it out of every group. */
  discard(channel: string, error: unknown): void {
    this.mailboxes.discard(channel, error);
    for (const group of this.memberships.removeChannel(channel)) {
      if (!this.memberships.has(group)) this.unsubscribe(group);
    }
  }

  /**
   * A groupSend: this instance's members get it at once (so a send after the groupSend never
   * overtakes it), every other instance's through one publish on the group's subject.
   */
  sendToGroup(group: string, body: Uint8Array): void {
    if (this.memberships.has(group)) {
      // The layer encoded it a moment ago; decoding gives the members a copy as the wire would.
      this.fanOut(group, this.transport.serializer.decode(body));
    }
    const { subjects, instanceId } = this.transport;
    const subject = subjects.group(group);
    const sender = FrameWriter.stringSize(instanceId);
    if (body.byteLength <= this.transport.chunkSize) {
      const frame = new FrameWriter(2 + sender + body.byteLength).u8(FrameKind.group).u8(0).string(instanceId);
      this.transport.publish(subject, frame.raw(body).bytes);
      return;
    }
    const chunked = publishChunks(this.transport, subject, body);
    const frame = new FrameWriter(2 + sender + chunkedFieldsSize(chunked) + chunked.tail.byteLength)
      .u8(FrameKind.group)
      .u8(FrameFlag.chunked)
      .string(instanceId)
      .string(chunked.key)
      .u32(chunked.count);
    this.transport.publish(subject, frame.raw(chunked.tail).bytes);
  }

  /** Sweeps lapsed memberships now (stats). */
  sweep(): void {
    for (const group of this.memberships.sweep()) this.unsubscribe(group);
  }

  /** Drops every buffered message and membership (flush), keeping waiting receives. */
  flush(): void {
    this.mailboxes.dropBuffered();
    for (const group of this.memberships.clear()) this.unsubscribe(group);
    this.chunks.clear();
    this.order.clear();
  }

  /** Rejects every waiting receive with `error` and forgets everything (close). */
  close(error: unknown): void {
    this.mailboxes.clear(error);
    this.memberships.clear();
    this.subscriptions.clear();
    this.chunks.clear();
    this.order.clear();
  }

  /** Delivers to every unexpired member with room (full ones skipped); the last one gets `message` itself. */
  private fanOut(group: string, message: Message): void {
    const now = coarseNow();
    const members = this.memberships.members(group, now);
    if (!this.memberships.has(group)) this.unsubscribe(group);
    const last = members.length - 1;
    for (let i = 0; i <= last; i++) {
      this.deliver(members[i] as string, i === last ? message : copyMessage(message), false, now);
    }
  }

  private sweepIfDue(): void {
    for (const group of this.memberships.sweepIfDue()) this.unsubscribe(group);
  }

  private subscribe(group: string): Promise<void> {
    let entry = this.subscriptions.get(group);
    if (entry === undefined) {
      const subscription = this.transport.subscribe(this.transport.subjects.group(group), (msg) =>
        this.arrived(group, msg),
      );
      entry = { subscription, ready: this.confirm(group), failed: false };
      this.subscriptions.set(group, entry);
    } else if (entry.failed) {
      entry.failed = false;
      entry.ready = this.confirm(group);
    }
    return entry.ready;
  }

  /** Resolves once the server has answered a PING sent after the SUB; a failure is retried by the next join. */
  private confirm(group: string): Promise<void> {
    return this.transport.flush().catch((error: unknown) => {
      const entry = this.subscriptions.get(group);
      if (entry) entry.failed = true;
      throw unavailable(`subscribe to group ${group}`, error);
    });
  }

  private unsubscribe(group: string): void {
    this.order.forget(group);
    const entry = this.subscriptions.get(group);
    if (entry === undefined) return;
    this.subscriptions.delete(group);
    this.transport.unsubscribe(entry.subscription);
  }

  private arrived(group: string, msg: Msg): void {
    let body: Uint8Array | undefined;
    try {
      const reader = new FrameReader(msg.data);
      const kind = reader.u8();
      if (kind === FrameKind.chunk) {
        const key = reader.string();
        // Our own publishes come back to us; we delivered to our members when sending.
        if (!key.startsWith(this.transport.instanceId)) this.chunks.add(key, reader.rest());
        return;
      }
      if (kind === FrameKind.history) {
        this.historyArrived(group, msg, reader.rest());
        return;
      }
      if (kind !== FrameKind.group) throw new RangeError(`Frame kind ${kind} on a group subject`);
      const flags = reader.u8();
      if (reader.string() === this.transport.instanceId) return;
      body = this.chunks.bodyOf(reader, flags);
    } catch (error) {
      this.transport.dropUnreadable({ group }, error);
      return;
    }
    if (body === undefined) return;
    const message = this.transport.decode(body, { group });
    if (message !== undefined) this.fanOut(group, message);
  }

  /**
   * A history group's message as its stream republished it, the sender's own included (it was
   * not delivered when sent): stamped with the offset its stream sequence makes.
   */
  private historyArrived(group: string, msg: Msg, body: Uint8Array): void {
    const seq = Number(msg.headers?.get("Nats-Sequence"));
    const subject = msg.headers?.get("Nats-Subject") ?? "";
    const tag = this.transport.subjects.historyTagOf(subject);
    if (!Number.isSafeInteger(seq) || seq <= 0 || tag === undefined) {
      this.transport.dropUnreadable({ group }, new RangeError("A history frame without its stream's headers"));
      return;
    }
    // The sequence before it on the group's subject; a server without the header orders nothing.
    const previous = Number(msg.headers?.get("Nats-Last-Sequence") ?? 0) || 0;
    const offset = historyOffset(tag, seq);
    const message = this.transport.decode(body, { group, offset });
    if (message === undefined) return;
    this.order.arrived(group, subject, seq, previous, () => this.fanOut(group, stampHistory(message, group, offset)));
  }

  /**
   * Resolves once this instance's members got message `seq` of a history group: the stream
   * republishes it before it acknowledges the store, so it is here, at most waiting its turn.
   */
  historyHandedOn(group: string, seq: number): Promise<void> {
    return this.order.handedOn(group, seq);
  }
}
