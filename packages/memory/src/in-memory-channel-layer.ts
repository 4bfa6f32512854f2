import {
  ChannelDiscarded,
  ChannelFull,
  type ChannelLayerOptions,
  type ChannelLayerStats,
  Extension,
  type GroupHistory,
  type GroupHistoryRule,
  type HistoryOffset,
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
import { MemoryHistory } from "./memory-history.js";
import { MemoryPresence } from "./memory-presence.js";

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
  /** Presence entries (this layer is one process, so all of them are this instance's). */
  presenceEntries: number;
  /** Groups holding history, and the messages they keep (history is not tied to consumers). */
  historyGroups: number;
  historyMessages: number;
}

const RESOLVED = Promise.resolve();
const EXTENSIONS: readonly string[] = Object.freeze([...ALL_EXTENSIONS, Extension.presence, Extension.history]);

/**
 * The embedded default layer: one process, no server, Channels' InMemoryChannelLayer semantics.
 * Messages are copied on send and normalised as the wire would (see docs/contract.md), so tests
 * on it show what a networked layer delivers. Expiry is lazy, so there is no timer, except the
 * presence heartbeat once presence is used. Group histories are ring buffers.
 */
export class InMemoryChannelLayer extends BaseChannelLayer {
  readonly extensions = EXTENSIONS;
  protected override readonly copiesMessages: boolean = true;
  private readonly mailboxes = new LocalMailboxes(this.diagnostics.counters);
  private readonly groups = new LocalGroups({ groupExpiryMs: this.groupExpiryMs });
  private readonly histories = new MemoryHistory();
  private readonly presences = new MemoryPresence();

  constructor(options: InMemoryChannelLayerOptions = {}) {
    super(options, "memory");
    this.presenceStore = this.presences;
  }

  /** The common counters and the sizes of the layer's tables (a sweep of idle ones runs first). */
  stats(): InMemoryChannelLayerStats {
    const now = coarseNow();
    this.mailboxes.sweep(now);
    this.groups.sweep(now);
    this.histories.sweep((group) => this.groupHistoryRule(group), now);
    return {
      ...this.commonStats(),
      channels: this.mailboxes.size,
      groups: this.groups.groupCount,
      memberships: this.groups.membershipCount,
      presenceEntries: this.presences.size,
      historyGroups: this.histories.groupCount,
      historyMessages: this.histories.messageCount,
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
    this.deliverToGroup(group, message, coarseNow());
  }

  protected override async _groupSendWithHistory(
    group: string,
    message: Message,
    rule: GroupHistoryRule,
  ): Promise<void> {
    const now = coarseNow();
    // The history keeps the stamped message; members get copies of it.
    const stamped = this.histories.append(group, message, rule, now);
    this.deliverToGroup(group, copyMessage(stamped), now);
  }

  protected override async _groupHistory(
    group: string,
    after: HistoryOffset,
    rule: GroupHistoryRule,
  ): Promise<GroupHistory> {
    return this.histories.read(group, after, rule, coarseNow());
  }

  protected async _discardChannel(channel: string, groups: readonly string[]): Promise<void> {
    this.mailboxes.discard(channel, new ChannelDiscarded(channel));
    for (const group of groups) this.groups.remove(group, channel);
  }

  protected async _flush(): Promise<void> {
    this.mailboxes.dropBuffered();
    this.groups.clear();
    this.histories.clear();
    this.presences.clear();
  }

  protected async _close(): Promise<void> {
    this.mailboxes.clear(new LayerClosed());
    this.groups.clear();
    this.histories.clear();
    this.presences.clear();
  }

  /** `message` (this layer's own copy) to every member with room: the last member can have it. */
  private deliverToGroup(group: string, message: Message, now: number): void {
    this.groups.sweepIfDue(now);
    const members = this.groups.members(group, now);
    const last = members.length - 1;
    for (let i = 0; i <= last; i++)
      this.deliver(members[i] as string, i === last ? message : copyMessage(message), now);
  }

  /** Buffers or hands over `message`; false (counted) when the channel is full. */
  private deliver(channel: string, message: Message, now: number): boolean {
    if (this.mailboxes.open(channel, now).offer(message, now + this.expiryMs, this.capacityFor(channel), now))
      return true;
    this.diagnostics.counters.channelFull++;
    return false;
  }
}
