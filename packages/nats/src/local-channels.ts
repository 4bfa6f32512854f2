import type { Message } from "@channel-layers/core";
import { coarseNow, copyMessage, LocalMailboxes } from "@channel-layers/core/backend";

/**
 * What one layer instance holds for the process-local channels it made: their buffers, and the
 * groups they belong to. Memberships of a process-local channel live only here, in its owner: a
 * groupAdd from another instance asks the owner (see NatsChannelLayer), and a groupSend reaches
 * the owner through the group's subject. All of it is plain memory; the layer does the NATS part.
 */
export class LocalChannels {
  readonly mailboxes = new LocalMailboxes();
  /** group -> member channel -> membership expiry (ms epoch). */
  private readonly groups = new Map<string, Map<string, number>>();
  /** channel -> the groups it is in, so discarding a channel is quick. */
  private readonly channelGroups = new Map<string, Set<string>>();
  /** Group messages a member did not get because its buffer was full. */
  skippedFull = 0;

  constructor(
    private readonly expiryMs: number,
    private readonly capacityFor: (channel: string) => number,
  ) {}

  get groupCount(): number {
    return this.groups.size;
  }

  get membershipCount(): number {
    let count = 0;
    for (const members of this.groups.values()) count += members.size;
    return count;
  }

  /**
   * Buffers `message` or hands it to a waiting receive. Returns the room left after it, or -1 when
   * the channel is full; `mustAccept` buffers it even then (its sender already counted it in).
   */
  deliver(channel: string, message: Message, mustAccept: boolean, now = coarseNow()): number {
    const box = this.mailboxes.open(channel, now);
    const capacity = this.capacityFor(channel);
    if (mustAccept) box.deliver(message, now + this.expiryMs);
    else if (!box.offer(message, now + this.expiryMs, capacity, now)) return -1;
    return capacity - box.size(now);
  }

  /** Delivers `message` to every unexpired member of `group` with room; the last one gets the original. */
  fanOut(group: string, message: Message): void {
    const members = this.groups.get(group);
    if (members === undefined) return;
    const now = coarseNow();
    let remaining = members.size;
    for (const [channel, expiresAt] of members) {
      remaining--;
      if (expiresAt <= now) {
        this.leave(group, channel);
        continue;
      }
      if (this.deliver(channel, remaining === 0 ? message : copyMessage(message), false, now) < 0) this.skippedFull++;
    }
  }

  /** Adds or renews a membership; returns true when it is the group's first member here. */
  join(group: string, channel: string, expiresAt: number): boolean {
    let members = this.groups.get(group);
    const first = members === undefined;
    if (members === undefined) {
      members = new Map();
      this.groups.set(group, members);
    }
    members.set(channel, expiresAt);
    let groups = this.channelGroups.get(channel);
    if (groups === undefined) {
      groups = new Set();
      this.channelGroups.set(channel, groups);
    }
    groups.add(group);
    return first;
  }

  /** Removes a membership; returns true when the group has no members here any more. */
  leave(group: string, channel: string): boolean {
    const members = this.groups.get(group);
    if (members === undefined) return false;
    members.delete(channel);
    const groups = this.channelGroups.get(channel);
    if (groups?.delete(group) && groups.size === 0) this.channelGroups.delete(channel);
    if (members.size > 0) return false;
    this.groups.delete(group);
    return true;
  }

  /** Drops a channel's buffer, rejects its receives with `error`, and takes it out of every group; returns the groups left empty. */
  discard(channel: string, error: unknown): string[] {
    this.mailboxes.discard(channel, error);
    const emptied: string[] = [];
    for (const group of [...(this.channelGroups.get(channel) ?? [])])
      if (this.leave(group, channel)) emptied.push(group);
    return emptied;
  }

  hasGroup(group: string): boolean {
    return this.groups.has(group);
  }

  /** Drops lapsed memberships; returns the groups left without members. */
  sweepMemberships(now = coarseNow()): string[] {
    const emptied: string[] = [];
    for (const [group, members] of this.groups) {
      for (const [channel, expiresAt] of members) {
        if (expiresAt <= now && this.leave(group, channel)) emptied.push(group);
      }
    }
    return emptied;
  }

  /** Drops every buffered message and membership (flush), keeping waiting receives; returns the groups there were. */
  flush(): string[] {
    this.mailboxes.dropBuffered();
    const groups = [...this.groups.keys()];
    this.groups.clear();
    this.channelGroups.clear();
    return groups;
  }

  /** Rejects every waiting receive with `error` and forgets everything (close). */
  clear(error: unknown): void {
    this.mailboxes.clear(error);
    this.groups.clear();
    this.channelGroups.clear();
  }
}
