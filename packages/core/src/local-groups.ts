import { coarseNow } from "./clock.js";

/** Lapsed memberships of groups nobody sends to are swept at most this often. */
const MIN_SWEEP_INTERVAL_MS = 1000;

/**
 * Group memberships kept in one process: group -> member channel -> when the membership lapses,
 * with the reverse index channel -> groups, so discarding a channel is quick. Plain memory and no
 * timers; the owner does its backend's part with what the methods return (a group's first member
 * here, a group left empty).
 */
export class LocalGroups {
  private readonly groups = new Map<string, Map<string, number>>();
  private readonly channelGroups = new Map<string, Set<string>>();
  private readonly groupExpiryMs: number;
  private nextSweepAt = 0;

  /** `groupExpiryMs`: how long a membership lasts after add(); default forever. */
  constructor(options: { groupExpiryMs?: number } = {}) {
    this.groupExpiryMs = options.groupExpiryMs ?? Number.POSITIVE_INFINITY;
  }

  /** Groups with at least one member (lapsed ones not yet swept included). */
  get groupCount(): number {
    return this.groups.size;
  }

  /** Memberships over all groups (lapsed ones not yet swept included). */
  get membershipCount(): number {
    let count = 0;
    for (const members of this.groups.values()) count += members.size;
    return count;
  }

  has(group: string): boolean {
    return this.groups.has(group);
  }

  /** Adds or renews a membership; returns true when it is the group's first member here. */
  add(group: string, channel: string, now = coarseNow()): boolean {
    let members = this.groups.get(group);
    const first = members === undefined;
    if (members === undefined) {
      members = new Map();
      this.groups.set(group, members);
    }
    members.set(channel, now + this.groupExpiryMs);
    let groups = this.channelGroups.get(channel);
    if (groups === undefined) {
      groups = new Set();
      this.channelGroups.set(channel, groups);
    }
    groups.add(group);
    return first;
  }

  /** Removes a membership (a no-op for a non-member); returns true when it left the group empty. */
  remove(group: string, channel: string): boolean {
    const members = this.groups.get(group);
    if (members === undefined || !members.delete(channel)) return false;
    const groups = this.channelGroups.get(channel);
    if (groups?.delete(group) && groups.size === 0) this.channelGroups.delete(channel);
    if (members.size > 0) return false;
    this.groups.delete(group);
    return true;
  }

  /** The groups `channel` is in. */
  groupsOf(channel: string): string[] {
    const groups = this.channelGroups.get(channel);
    return groups === undefined ? [] : [...groups];
  }

  /** Takes `channel` out of every group; returns the groups it was in (`has` tells which are now empty). */
  removeChannel(channel: string): string[] {
    const groups = this.groupsOf(channel);
    for (const group of groups) this.remove(group, channel);
    return groups;
  }

  /** The group's unexpired members, in the order they joined; lapsed ones are dropped on the way. */
  members(group: string, now = coarseNow()): string[] {
    const members = this.groups.get(group);
    if (members === undefined) return [];
    const live: string[] = [];
    for (const [channel, expiresAt] of members) {
      if (expiresAt > now) live.push(channel);
      else this.remove(group, channel);
    }
    return live;
  }

  /** Drops every lapsed membership; returns the groups left empty. */
  sweep(now = coarseNow()): string[] {
    this.nextSweepAt = now + Math.max(MIN_SWEEP_INTERVAL_MS, Math.min(this.groupExpiryMs, 2 ** 31));
    const emptied: string[] = [];
    for (const [group, members] of this.groups) {
      for (const [channel, expiresAt] of members) {
        if (expiresAt <= now && this.remove(group, channel)) emptied.push(group);
      }
    }
    return emptied;
  }

  /** sweep(), at most once a group expiry (and at most once a second); [] when not due. */
  sweepIfDue(now = coarseNow()): string[] {
    return now < this.nextSweepAt ? [] : this.sweep(now);
  }

  /** Forgets every membership; returns the groups there were. */
  clear(): string[] {
    const groups = [...this.groups.keys()];
    this.groups.clear();
    this.channelGroups.clear();
    return groups;
  }
}
