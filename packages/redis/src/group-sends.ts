import type { GroupHistoryRule, Message } from "@channel-layers/core";
import { isProcessLocal, type LayerDiagnostics, stampHistory } from "@channel-layers/core/backend";
import { keySlot } from "./cluster-slot.js";
import { HISTORY_APPEND } from "./history-scripts.js";
import { localPartOf } from "./key-space.js";
import type { LocalChannels } from "./local-channels.js";
import type { MessageTimes } from "./message-times.js";
import type { Receipts } from "./receipts.js";
import type { RedisHistory } from "./redis-history.js";
import type { RedisTransport, ScriptArgument } from "./redis-transport.js";
import { DELIVER_MANY, GROUP_MEMBERS, GROUP_SEND } from "./scripts.js";
import type { Shard } from "./shards.js";
import type { WakeGate } from "./wake-gate.js";
import { newId, type WireCodec, withHistoryPosition } from "./wire-codec.js";

/** What a group send needs to know of the layer besides its helpers. */
export interface GroupSendSettings {
  prefix: string;
  instanceId: string;
  /** The default capacity, which the one-script path applies to every member. */
  capacity: number;
  /** Whether channelCapacity rules exist: only the sender can evaluate them, so no one-script path. */
  capacityRules: boolean;
  capacityFor(channel: string): number;
}

/**
 * groupSend, with or without history: in one script where the server can build every member
 * itself (one Redis, no encryption, no capacity rules), else in two steps (GroupSends.twoSteps).
 * The sender's own members are handed their message here, before the call resolves, so its
 * sends and groupSends reach one channel in call order (issue 10 item 8).
 */
export class GroupSends {
  private readonly ownGroupMembers = new OwnGroupMembers();

  constructor(
    private readonly transport: RedisTransport,
    private readonly times: MessageTimes,
    private readonly codec: WireCodec,
    private readonly receipts: Receipts,
    private readonly local: LocalChannels,
    private readonly history: RedisHistory,
    private readonly diagnostics: LayerDiagnostics,
    private readonly settings: GroupSendSettings,
    private readonly wakes: WakeGate,
  ) {}

  /** Sends `message` to `group`'s members; with `rule`, appends it to the group's history first. */
  send(group: string, message: Message, rule: GroupHistoryRule | undefined): Promise<void> {
    const body = this.codec.encodeBody(message);
    this.wakes.begin(group);
    const sent =
      this.transport.single && !this.codec.encrypted && !this.settings.capacityRules
        ? this.oneScript(group, body, rule)
        : this.twoSteps(group, body, rule);
    return sent.finally(() => this.wakes.ended(group));
  }

  private oneScript(group: string, body: Buffer, rule: GroupHistoryRule | undefined): Promise<void> {
    const transport = this.transport;
    const shard = transport.shardOfGroup(group);
    const now = Date.now();
    this.receipts.flushShard(shard);
    shard.batchWrites();
    const known = this.ownGroupMembers.get(group);
    const keys = [transport.keys.groupKey(group)];
    const args: ScriptArgument[] = [
      this.settings.prefix,
      this.times.nextScore(now),
      this.times.groupCutoff(now),
      this.times.expiryCutoff(now),
      "",
      this.times.ttlMs,
      this.settings.capacity,
      newId(now).subarray(0, 8),
      body,
      `.${this.settings.instanceId}!`,
      known?.digest ?? "",
    ];
    if (rule !== undefined) {
      keys.push(transport.keys.historyKey(group));
      args.push(group, ...this.history.ruleArgs(rule));
    }
    return transport.run(shard, GROUP_SEND, keys, args, "groupSend").then((reply) => {
      const parts = reply as [number, Buffer, ...Buffer[]];
      // A history group's offset comes last.
      const offset = rule === undefined ? undefined : (parts.pop() as Buffer).toString();
      const [full, digest, ...named] = parts;
      this.diagnostics.counters.channelFull += full;
      const channels = this.ownGroupMembers.update(group, digest.toString(), named, known);
      if (channels.length === 0) return;
      const message = this.codec.decodeBody(body);
      const stamped = offset === undefined ? message : stampHistory(message, group, offset);
      return this.local.groupToSelf(group, channels, stamped, now + this.times.expiryMs);
    });
  }

  /**
   * Where one script cannot do it (a ring of shards, Cluster, encryption, or capacity rules the
   * server cannot evaluate): read the members (and append to the history, which gives the
   * offset), then one script per shard (per slot with Cluster) writes a member per channel,
   * skipping full ones; this instance's own members take the path of its sends to itself.
   */
  private async twoSteps(group: string, body: Buffer, rule: GroupHistoryRule | undefined): Promise<void> {
    const transport = this.transport;
    const keys = transport.keys;
    const shard = transport.shardOfGroup(group);
    const groupKey = keys.groupKey(group);
    const groupCutoff = this.times.groupCutoff(Date.now());
    let members: Buffer[];
    if (rule === undefined) {
      members = (await transport.run(shard, GROUP_MEMBERS, [groupKey], [groupCutoff], "groupSend")) as Buffer[];
    } else {
      const args = [groupCutoff, this.codec.seal(body), ...this.history.ruleArgs(rule)];
      const reply = (await transport.run(
        shard,
        HISTORY_APPEND,
        [groupKey, keys.historyKey(group)],
        args,
        "groupSend",
      )) as Buffer[];
      const offset = (reply.shift() as Buffer).toString();
      body = withHistoryPosition(body, group, offset);
      members = reply;
    }
    const now = Date.now();
    const score = this.times.nextScore(now);
    const batches = new Map<string, { shard: Shard; keys: string[]; args: ScriptArgument[] }>();
    const own: string[] = [];
    for (const raw of members) {
      const channel = raw.toString();
      const local = isProcessLocal(channel);
      if (local && this.local.owns(channel)) {
        own.push(channel);
        continue;
      }
      const key = keys.channelKey(channel);
      const target = local ? transport.shardOfLocal(channel) : transport.shardOfNamed(channel);
      const batchId = keys.cluster ? `${target.index}:${keySlot(key)}` : String(target.index);
      let batch = batches.get(batchId);
      if (batch === undefined) {
        const args = [score, this.times.expiryCutoff(now), this.times.expiryCutoffHex(now), this.times.ttlMs];
        batch = { shard: target, keys: [], args };
        batches.set(batchId, batch);
      }
      const id = newId(now);
      if (local) batch.keys.push(key, keys.receiverKey(key), keys.heldKey(channel));
      else batch.keys.push(key, key, key);
      batch.args.push(
        this.settings.capacityFor(channel),
        this.codec.member(id, body, [channel]),
        local ? localPartOf(channel) : "",
        id.toString("hex"),
      );
    }
    const full = await Promise.all([
      ...[...batches.values()].map((batch) => {
        this.receipts.flushShard(batch.shard);
        return transport.run(batch.shard, DELIVER_MANY, batch.keys, batch.args, "groupSend");
      }),
      own.length > 0
        ? this.local.groupToSelf(group, own, this.codec.decodeBody(body), now + this.times.expiryMs)
        : undefined,
    ]);
    for (const count of full) if (typeof count === "number") this.diagnostics.counters.channelFull += count;
  }
}

/** Groups' own members remembered at most; beyond it they are forgotten and sent again. */
const OWN_GROUP_MEMBERS_LIMIT = 10_000;

/**
 * The sender's own members of each group it sends to, as the group-send script last listed
 * them, under that list's digest: while the digest stays the same, the script sends only it.
 */
class OwnGroupMembers {
  private readonly lists = new Map<string, OwnList>();

  get(group: string): OwnList | undefined {
    return this.lists.get(group);
  }

  /**
   * The group's own members now: the list the script sent, or, when it sent only the digest,
   * `known` (the list whose digest the groupSend passed).
   */
  update(group: string, digest: string, named: readonly Buffer[], known: OwnList | undefined): string[] {
    if (digest === "") {
      this.lists.delete(group);
      return [];
    }
    if (named.length === 0 && known?.digest === digest) return known.channels;
    if (this.lists.size >= OWN_GROUP_MEMBERS_LIMIT) this.lists.clear();
    const channels = named.map((channel) => channel.toString());
    this.lists.set(group, { digest, channels });
    return channels;
  }
}

interface OwnList {
  digest: string;
  channels: string[];
}
