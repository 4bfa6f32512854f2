import type { MessageSerializer } from "@channel-layers/core/backend";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { ChunkAssembler } from "./chunks.js";
import { FrameKind, FrameReader } from "./frames.js";
import { unavailable } from "./jetstream.js";
import type { LocalChannels } from "./local-channels.js";
import type { SubjectMap } from "./subjects.js";

interface GroupSubscription {
  subscription: Subscription;
  /** Resolves once the server has the subscription, so a groupSend after groupAdd reaches it. */
  ready: Promise<void>;
  /** The last confirmation failed (no connection): the next groupAdd asks again. */
  failed: boolean;
}

/**
 * One subscription per group that has members among this instance's channels. A groupSend
 * publishes once on the group's subject, the server hands one copy to each instance with members,
 * and each instance fans it out to its own members: one publish per group, however many members
 * and processes.
 */
export class GroupSubscriptions {
  private readonly subscriptions = new Map<string, GroupSubscription>();
  /** Group messages that could not be read (a chunk lost, or not a message). */
  unreadable = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: SubjectMap,
    private readonly local: LocalChannels,
    private readonly serializer: MessageSerializer,
    private readonly chunks: ChunkAssembler,
    private readonly instanceId: string,
  ) {}

  get size(): number {
    return this.subscriptions.size;
  }

  /** Subscribes to `group` unless subscribed; resolves once the server has the subscription. */
  subscribe(group: string): Promise<void> {
    let entry = this.subscriptions.get(group);
    if (entry === undefined) {
      const subscription = this.nc.subscribe(this.subjects.group(group), {
        callback: (_error, msg) => this.arrived(group, msg),
      });
      entry = { subscription, ready: this.confirm(group), failed: false };
      this.subscriptions.set(group, entry);
    } else if (entry.failed) {
      entry.failed = false;
      entry.ready = this.confirm(group);
    }
    return entry.ready;
  }

  /** Resolves once the server has answered a PING sent after the SUB; a failure is retried by the next call. */
  private confirm(group: string): Promise<void> {
    return this.nc.flush().catch((error: unknown) => {
      const entry = this.subscriptions.get(group);
      if (entry) entry.failed = true;
      throw unavailable(`subscribe to group ${group}`, error);
    });
  }

  unsubscribe(group: string): void {
    const entry = this.subscriptions.get(group);
    if (entry === undefined) return;
    this.subscriptions.delete(group);
    if (!entry.subscription.isClosed()) entry.subscription.unsubscribe();
  }

  unsubscribeAll(): void {
    for (const group of [...this.subscriptions.keys()]) this.unsubscribe(group);
  }

  private arrived(group: string, msg: Msg): void {
    try {
      const reader = new FrameReader(msg.data);
      const kind = reader.u8();
      if (kind === FrameKind.chunk) {
        const key = reader.string();
        // Our own publishes come back to us; we delivered to our members when sending.
        if (!key.startsWith(this.instanceId)) this.chunks.add(key, reader.rest());
        return;
      }
      if (kind !== FrameKind.group) return;
      const flags = reader.u8();
      if (reader.string() === this.instanceId) return;
      const body = this.chunks.bodyOf(reader, flags);
      if (body === undefined) {
        this.unreadable++;
        return;
      }
      this.local.fanOut(group, this.serializer.decode(body));
    } catch {
      this.unreadable++;
    }
  }
}
