import {
  ChannelDiscarded,
  ChannelFull,
  type ChannelLayerOptions,
  type ChannelLayerStats,
  LayerClosed,
  type Message,
} from "@channel-layers/core";
import {
  ALL_EXTENSIONS,
  BaseChannelLayer,
  coarseNow,
  copyMessage,
  LocalGroups,
  LocalMailboxes,
} from "@channel-layers/core/backend";

/** Options of InMemoryChannelLayer: the common ChannelLayerOptions, nothing more. */
export type InMemoryChannelLayerOptions = ChannelLayerOptions;

/** stats(): the common counters and the sizes of the layer's tables, all zero once every consumer is gone. */
export interface InMemoryChannelLayerStats extends ChannelLayerStats {
  /** Channels holding messages or waiting receivers. */
  channels: number;
  /** Groups with at least one member. */
  groups: number;
  /** Memberships over all groups. */
  memberships: number;
}

const RESOLVED = Promise.resolve();

/**
 * The embedded default layer: one process, no server, Channels' InMemoryChannelLayer semantics.
 * Messages are copied on send and normalised as the wire would (see docs/contract.md), so tests
 * on it show what a networked layer delivers. Expiry is lazy, so there is no timer anywhere.
 */
export class InMemoryChannelLayer extends BaseChannelLayer {
  readonly extensions = ALL_EXTENSIONS;
  protected override readonly copiesMessages: boolean = true;
  private readonly mailboxes = new LocalMailboxes(this.diagnostics.counters);
  private readonly groups = new LocalGroups({ groupExpiryMs: this.groupExpiryMs });

  constructor(options: InMemoryChannelLayerOptions = {}) {
    super(options, "memory");
  }

  /** The common counters and the sizes of the layer's tables (a sweep of idle ones runs first). */
  stats(): InMemoryChannelLayerStats {
    const now = coarseNow();
    this.mailboxes.sweep(now);
    this.groups.sweep(now);
    return {
      ...this.commonStats(),
      channels: this.mailboxes.size,
      groups: this.groups.groupCount,
      memberships: this.groups.membershipCount,
    };
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
    this.groups.sweepIfDue(now);
    this.groups.add(group, channel, now);
  }

  protected async _groupDiscard(group: string, channel: string): Promise<void> {
    this.groups.remove(group, channel);
  }

  protected async _groupSend(group: string, message: Message): Promise<void> {
    const now = coarseNow();
    this.groups.sweepIfDue(now);
    const members = this.groups.members(group, now);
    const last = members.length - 1;
    // The message is already this layer's own copy: the last member can have it.
    for (let i = 0; i <= last; i++)
      this.deliver(members[i] as string, i === last ? message : copyMessage(message), now);
  }

  protected async _discardChannel(channel: string, groups: readonly string[]): Promise<void> {
    this.mailboxes.discard(channel, new ChannelDiscarded(channel));
    for (const group of groups) this.groups.remove(group, channel);
  }

  protected async _flush(): Promise<void> {
    this.mailboxes.dropBuffered();
    this.groups.clear();
  }

  protected async _close(): Promise<void> {
    this.mailboxes.clear(new LayerClosed());
    this.groups.clear();
  }

  /** Buffers or hands over `message`; false (counted) when the channel is full. */
  private deliver(channel: string, message: Message, now: number): boolean {
    if (this.mailboxes.open(channel, now).offer(message, now + this.expiryMs, this.capacityFor(channel), now))
      return true;
    this.diagnostics.counters.channelFull++;
    return false;
  }
}
