import type { PresenceMeta } from "@channel-layers/core";
import type { PresenceEntry } from "@channel-layers/core/backend";
import { PRESENCE_REFRESH, PRESENCE_SWEEP, PRESENCE_TRACK, PRESENCE_UNTRACK } from "./presence-scripts.js";
import type { RedisTransport, ScriptArgument } from "./redis-transport.js";
import type { Shard } from "./shards.js";
import type { WireCodec } from "./wire-codec.js";

/** Entries per script call at most, so one call never holds Redis for long. */
const CHUNK = 500;
/** Lapsed entries one sweep script removes at most; the sweep calls it again while it finds that many. */
const SWEEP_LIMIT = 1000;
/** The `type` of an encoded entry (the serializer encodes messages); short, as every byte is kept per member. */
const ENTRY_TYPE = "p";

/**
 * Presence entries in Redis (presence-scripts.ts): a hash per group and a sorted set of deadlines
 * per shard, on the group's shard. It remembers this instance's own entries, to put them back
 * when a server lost them (a restart, a failover).
 */
export class RedisPresence {
  /** This instance's entries in Redis, by ref. */
  private readonly own = new Map<string, PresenceEntry>();

  constructor(
    private readonly transport: RedisTransport,
    private readonly codec: WireCodec,
    private readonly instanceId: string,
    /** How long an entry lives after its last refresh: what a restored one gets. */
    private readonly timeoutMs: number,
  ) {}

  /** This instance's entries now. */
  get size(): number {
    return this.own.size;
  }

  /** Stores `entry` and removes `replaced` in one script; false when `replaced` was already gone (swept). */
  async track(entry: PresenceEntry, replaced: PresenceEntry | undefined, ttlMs: number): Promise<boolean> {
    const replacedWasThere = await this.write(entry, replaced?.ref ?? "", ttlMs, "presenceTrack");
    if (replaced !== undefined) this.own.delete(replaced.ref);
    this.own.set(entry.ref, entry);
    return replacedWasThere !== 0;
  }

  async untrack(entries: readonly PresenceEntry[]): Promise<PresenceEntry[]> {
    for (const entry of entries) this.own.delete(entry.ref);
    const keys = this.transport.keys;
    return this.perShard(entries, (shard, chunk) => {
      const args: ScriptArgument[] = [keys.presencePrefix];
      for (const entry of chunk) args.push(entry.group, entry.ref);
      return this.transport.run(shard, PRESENCE_UNTRACK, [keys.presenceDeadlinesKey], args, "presenceUntrack");
    });
  }

  async list(group: string): Promise<PresenceEntry[]> {
    const shard = this.transport.shardOfGroup(group);
    const key = this.transport.keys.presenceKey(group);
    const stored = await this.transport.command(shard, "presenceList", shard.client.hgetallBuffer(key));
    const entries: PresenceEntry[] = [];
    for (const [ref, payload] of Object.entries(stored)) {
      const entry = this.decode(group, ref, payload, key);
      if (entry !== undefined) entries.push(entry);
    }
    return entries;
  }

  /** Extends this instance's entries; returns those gone (swept meanwhile), which the caller tracks again. */
  async refresh(entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]> {
    const keys = this.transport.keys;
    const gone = await this.perShard(entries, (shard, chunk) => {
      const args: ScriptArgument[] = [keys.presencePrefix, ttlMs];
      for (const entry of chunk) args.push(entry.group, entry.ref);
      return this.transport.run(shard, PRESENCE_REFRESH, [keys.presenceDeadlinesKey], args, "presenceRefresh");
    });
    for (const entry of gone) this.own.delete(entry.ref);
    return gone;
  }

  /** Removes every lapsed entry of any instance from every shard; returns those this call removed. */
  async sweep(): Promise<PresenceEntry[]> {
    const keys = this.transport.keys;
    const swept = await Promise.all(
      this.transport.shards.map(async (shard) => {
        const removed: PresenceEntry[] = [];
        for (;;) {
          const args = [keys.presencePrefix, SWEEP_LIMIT];
          const reply = (await this.transport.run(
            shard,
            PRESENCE_SWEEP,
            [keys.presenceDeadlinesKey],
            args,
            "presence sweep",
          )) as [number, ...Buffer[]];
          for (let i = 1; i < reply.length; i += 3) {
            const [group, ref] = [(reply[i] as Buffer).toString(), (reply[i + 1] as Buffer).toString()];
            const entry = this.decode(group, ref, reply[i + 2] as Buffer, keys.presenceKey(group));
            if (entry !== undefined) removed.push(entry);
          }
          if (reply[0] < SWEEP_LIMIT) return removed;
        }
      }),
    );
    const removed = swept.flat();
    // Own entries swept while this instance was unresponsive: their leaves are out, so they are
    // not put back silently; the next refresh finds them gone and the base tracks them again.
    for (const entry of removed) if (entry.instance === this.instanceId) this.own.delete(entry.ref);
    return removed;
  }

  /** Puts this instance's entries on `shard` back, without diffs (nobody saw them leave); returns how many. */
  async restore(shard: Shard): Promise<number> {
    const entries = [...this.own.values()].filter((entry) => this.transport.shardOfGroup(entry.group) === shard);
    await Promise.all(entries.map((entry) => this.write(entry, "", this.timeoutMs, "restore presence")));
    return entries.length;
  }

  /** flush removed every entry. */
  clear(): void {
    this.own.clear();
  }

  private write(entry: PresenceEntry, replacedRef: string, ttlMs: number, operation: string): Promise<unknown> {
    const shard = this.transport.shardOfGroup(entry.group);
    const keys = this.transport.keys;
    const scriptKeys = [keys.presenceDeadlinesKey, keys.presenceKey(entry.group)];
    const args = [ttlMs, entry.group, entry.ref, this.encode(entry), replacedRef];
    return this.transport.run(shard, PRESENCE_TRACK, scriptKeys, args, operation);
  }

  /**
   * Runs `script` for `entries` per shard (their groups' shards), in chunks; each call returns the
   * 1-based positions of the chunk's entries it reports, and those entries come back.
   */
  private async perShard(
    entries: readonly PresenceEntry[],
    script: (shard: Shard, chunk: readonly PresenceEntry[]) => Promise<unknown>,
  ): Promise<PresenceEntry[]> {
    const byShard = new Map<Shard, PresenceEntry[]>();
    for (const entry of entries) {
      const shard = this.transport.shardOfGroup(entry.group);
      const list = byShard.get(shard);
      if (list === undefined) byShard.set(shard, [entry]);
      else list.push(entry);
    }
    const calls: Promise<PresenceEntry[]>[] = [];
    for (const [shard, list] of byShard) {
      for (let start = 0; start < list.length; start += CHUNK) {
        const chunk = list.slice(start, start + CHUNK);
        calls.push(
          script(shard, chunk).then((positions) => (positions as number[]).map((n) => chunk[n - 1] as PresenceEntry)),
        );
      }
    }
    return (await Promise.all(calls)).flat();
  }

  /** An entry as its group's hash keeps it under its ref: key, channel, meta and instance, with one-letter names. */
  private encode(entry: PresenceEntry): Buffer {
    const { key, channel, meta, instance } = entry;
    return this.codec.seal(this.codec.encodeBody({ type: ENTRY_TYPE, k: key, c: channel, m: meta, i: instance }));
  }

  /** An entry read back, or undefined when it is not one (dropped and counted as undecodable by unseal). */
  private decode(group: string, ref: string, payload: Buffer, redisKey: string): PresenceEntry | undefined {
    const decoded = this.codec.unseal(payload, redisKey);
    if (decoded === undefined || decoded.type !== ENTRY_TYPE) return undefined;
    const { k: key, c: channel, m: meta, i: instance } = decoded;
    if (typeof key !== "string" || typeof channel !== "string" || typeof instance !== "string") return undefined;
    if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return undefined;
    return { group, key, channel, ref, meta: meta as PresenceMeta, instance };
  }
}
