import type { GroupHistory, GroupHistoryRule, HistoryEntry, HistoryOffset, Message } from "@channel-layers/core";
import { HISTORY_GROUP_KEY, HISTORY_OFFSET_KEY } from "@channel-layers/core";
import { stampHistory } from "@channel-layers/core/backend";
import { HISTORY_READ } from "./history-scripts.js";
import type { RedisTransport, ScriptArgument } from "./redis-transport.js";
import type { WireCodec } from "./wire-codec.js";

/** A stream id as Redis writes them: two unsigned 64-bit integers. */
const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;
const MAX_U64 = 2n ** 64n - 1n;

/** Whether `offset` can be an id of a stream (any other offset is one no history here issued). */
function isStreamId(offset: HistoryOffset): offset is string {
  if (typeof offset !== "string") return false;
  const parts = STREAM_ID.exec(offset);
  return parts !== null && BigInt(parts[1] as string) <= MAX_U64 && BigInt(parts[2] as string) <= MAX_U64;
}

/** `message` without __group__ and __offset__: the layer sets them, and the group-send script appends them. */
export function withoutPosition(message: Message): Message {
  if (!Object.hasOwn(message, HISTORY_GROUP_KEY) && !Object.hasOwn(message, HISTORY_OFFSET_KEY)) return message;
  const { [HISTORY_GROUP_KEY]: _group, [HISTORY_OFFSET_KEY]: _offset, ...rest } = message;
  return rest as Message;
}

/**
 * Group histories in Redis Streams (history-scripts.ts): the group-send scripts append, this reads.
 * Offsets are the entries' stream ids (`<ms>-<n>` strings).
 */
export class RedisHistory {
  constructor(
    private readonly transport: RedisTransport,
    private readonly codec: WireCodec,
    /** A history nobody sent to for this long is dropped, as a group's memberships lapse. */
    private readonly groupExpiryMs: number,
  ) {}

  /** What the append scripts take after the payload: maxLength, maxAgeMs ("" for none), the stream's ttl (ms). */
  ruleArgs(rule: GroupHistoryRule): ScriptArgument[] {
    const maxAge = rule.maxAgeMs === undefined ? "" : Math.max(1, Math.ceil(rule.maxAgeMs));
    const ttl = maxAge === "" ? Math.max(1, Math.ceil(this.groupExpiryMs)) : maxAge;
    return [rule.maxLength, maxAge, ttl];
  }

  async read(group: string, after: HistoryOffset, rule: GroupHistoryRule): Promise<GroupHistory> {
    const shard = this.transport.shardOfGroup(group);
    const key = this.transport.keys.historyKey(group);
    const maxAge = rule.maxAgeMs === undefined ? "" : Math.max(1, Math.ceil(rule.maxAgeMs));
    const args = [isStreamId(after) ? after : "", maxAge];
    const reply = (await this.transport.run(shard, HISTORY_READ, [key], args, "groupHistory")) as [number, ...Buffer[]];
    let complete = reply[0] === 1;
    const messages: HistoryEntry[] = [];
    for (let i = 1; i < reply.length; i += 2) {
      const offset = (reply[i] as Buffer).toString();
      const message = this.codec.unseal(reply[i + 1] as Buffer, key);
      // An entry this instance cannot read (another encryption key) is missing from what it returns.
      if (message === undefined) complete = false;
      else messages.push({ offset, message: stampHistory(message, group, offset) });
    }
    return { messages, complete };
  }
}
