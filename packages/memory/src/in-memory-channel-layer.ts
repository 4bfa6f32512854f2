import {
  ALL_EXTENSIONS,
  BaseChannelLayer,
  ChannelDiscarded,
  ChannelFull,
  type ChannelLayerOptions,
  coarseNow,
  copyMessage,
  LayerClosed,
  LocalMailboxes,
  type Message,
} from "@channel-layers/core";

/** Options of InMemoryChannelLayer: the common ChannelLayerOptions, nothing more. */
export type InMemoryChannelLayerOptions = ChannelLayerOptions;

/** Sizes of the layer's tables, for leak checks: all zero once every consumer is gone. */
export interface InMemoryChannelLayerStats {
  /** Channels holding messages or waiting receivers. */
  channels: number;
  /** Groups with at least one member. */
  groups: number;
  /** Memberships over all groups. */
  memberships: number;
}

const RESOLVED = Promise.resolve();

/** Lapsed memberships in groups nobody sends to are swept at most this often. */
const MIN_SWEEP_INTERVAL_MS = 1000;

/**
 * The embedded default layer: one process, no server, Channels' InMemoryChannelLayer semantics.
 * Messages are copied on send, so sender and receiver never share an object. Send and receive
 * are O(1); expiry is lazy (checked when a channel is touched, plus an occasional sweep run by
 * whichever call comes due), so there is no timer per message or anywhere.
 */
export class InMemoryChannelLayer extends BaseChannelLayer {
  readonly extensions = ALL_EXTENSIONS;
  protected override readonly copiesMessages = true;
  private readonly mailboxes = new LocalMailboxes();
  /** group -> channel -> membership expiry (ms epoch). */
  private readonly groups = new Map<string, Map<string, number>>();
  private nextSweepAt = 0;

  constructor(options: InMemoryChannelLayerOptions = {}) {
    super(options);
  }

  get stats(): InMemoryChannelLayerStats {
    const now = coarseNow();
    this.mailboxes.sweep(now);
    this.nextSweepAt = 0;
    this.sweepGroupsIfDue(now);
    let memberships = 0;
    for (const members of this.groups.values()) memberships += members.size;
    return { channels: this.mailboxes.size, groups: this.groups.size, memberships };
  }

  protected _send(channel: string, message: Message): Promise<void> {
    if (this.deliver(channel, message, coarseNow())) return RESOLVED;
    return Promise.reject(new ChannelFull(channel, this.capacityFor(channel)));
  }

  protected _receive(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    return this.mailboxes.take(channel, signal);
  }

  protected async _groupAdd(group: string, channel: string): Promise<void> {
    const now = coarseNow();
    this.sweepGroupsIfDue(now);
    let members = this.groups.get(group);
    if (members === undefined) {
      members = new Map();
      this.groups.set(group, members);
    }
    members.set(channel, now + this.groupExpiryMs);
  }

  protected async _groupDiscard(group: string, channel: string): Promise<void> {
    this.leaveGroup(group, channel);
  }

  protected async _groupSend(group: string, message: Message): Promise<void> {
    const now = coarseNow();
    this.sweepGroupsIfDue(now);
    const members = this.groups.get(group);
    if (members === undefined) return;
    let remaining = members.size;
    for (const [channel, expiresAt] of members) {
      remaining--;
      if (expiresAt <= now) {
        members.delete(channel);
        continue;
      }
      // The message is already this layer's own copy: the last member can have it.
      this.deliver(channel, remaining === 0 ? message : copyMessage(message), now);
    }
    if (members.size === 0) this.groups.delete(group);
  }

  protected async _discardChannel(channel: string, groups: readonly string[]): Promise<void> {
    this.mailboxes.discard(channel, new ChannelDiscarded(channel));
    for (const group of groups) this.leaveGroup(group, channel);
  }

  protected async _flush(): Promise<void> {
    this.mailboxes.dropBuffered();
    this.groups.clear();
  }

  protected async _close(): Promise<void> {
    this.mailboxes.clear(new LayerClosed());
    this.groups.clear();
  }

  /** Buffers or hands over `message`; false when the channel is full. */
  private deliver(channel: string, message: Message, now: number): boolean {
    return this.mailboxes.open(channel, now).offer(message, now + this.expiryMs, this.capacityFor(channel), now);
  }

  private leaveGroup(group: string, channel: string): void {
    const members = this.groups.get(group);
    if (members?.delete(channel) && members.size === 0) this.groups.delete(group);
  }

  /** Memberships nobody sends to would never be looked at: drop the lapsed ones now and then. */
  private sweepGroupsIfDue(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + Math.max(MIN_SWEEP_INTERVAL_MS, this.groupExpiryMs);
    for (const [group, members] of this.groups) {
      for (const [channel, expiresAt] of members) if (expiresAt <= now) members.delete(channel);
      if (members.size === 0) this.groups.delete(group);
    }
  }
}
