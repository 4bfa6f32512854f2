import { LocalGroups } from "@channel-layers/core/backend";
import { epochSeconds, type MessageTimes } from "./message-times.js";
import type { RedisTransport } from "./redis-transport.js";
import { GROUP_ADD } from "./scripts.js";
import type { Shard } from "./shards.js";

/**
 * The groups this instance added its own channels to: what it adds again when a Redis lost them
 * (a restart, a failover to a replica without them). A restored membership counts from the
 * restore in Redis; here it keeps its first lapse time, after which it is not restored again.
 */
export class OwnMemberships {
  private readonly groups: LocalGroups;
  /** The groups with members here, since LocalGroups lists members, not groups. */
  private readonly names = new Set<string>();

  constructor(
    private readonly transport: RedisTransport,
    private readonly times: MessageTimes,
  ) {
    this.groups = new LocalGroups({ groupExpiryMs: times.groupExpiryMs });
  }

  get count(): number {
    return this.groups.membershipCount;
  }

  added(group: string, channel: string): void {
    this.groups.add(group, channel);
    this.names.add(group);
  }

  removed(group: string, channel: string): void {
    if (this.groups.remove(group, channel)) this.names.delete(group);
  }

  /** The channel is gone: it leaves every group. */
  discarded(channel: string): void {
    for (const group of this.groups.removeChannel(channel)) if (!this.groups.has(group)) this.names.delete(group);
  }

  clear(): void {
    this.groups.clear();
    this.names.clear();
  }

  /** Adds back every unlapsed membership whose group lives on `shard`; returns how many. */
  async restore(shard: Shard): Promise<number> {
    const now = Date.now();
    const score = epochSeconds(now);
    const adds: Promise<unknown>[] = [];
    for (const group of this.names) {
      if (this.transport.shardOfGroup(group) !== shard) continue;
      const members = this.groups.members(group);
      if (members.length === 0) {
        this.names.delete(group);
        continue;
      }
      const key = this.transport.keys.groupKey(group);
      for (const channel of members) {
        adds.push(this.transport.run(shard, GROUP_ADD, [key], [score, this.times.groupTtlMs, channel], "restore"));
      }
    }
    await Promise.all(adds);
    return adds.length;
  }
}
