import { randomBytes } from "node:crypto";
import { RedisChannelLayer } from "@channel-layers/redis";
import type { TestService } from "@channel-layers/testing";
import { Redis } from "ioredis";
import { NO_REDIS, startBenchRedis } from "../src/bench-redis.js";
import { type BenchCase, type BenchSuite, type Measurement, measure, OURS, warmBest } from "../src/harness.js";

/**
 * What presence and history cost on RedisChannelLayer (issue 15), on a private Redis:
 * - group-send-remote / history-send-remote: awaited groupSends to a group of one member on another
 *   instance, without and with a history (maxLength 1,000): the XADD inside the group-send script.
 *   Round trips per call are checked exactly by packages/redis/test/round-trips.test.ts.
 * - presence-track: awaited presenceTracks of distinct keys, each with its join diff to one member.
 * - presence-memory: Redis memory (MEMORY USAGE of the group's hash and the deadlines) per 1,000
 *   tracked members, 10,000 tracked in one group, and 10,000 spread over 100 groups.
 * - history-memory: MEMORY USAGE of a stream per 1,000 kept chat messages (10,000 kept).
 */
const message = (n: number) => ({ type: "chat.message", message: "hello, world", n });

let service: TestService | undefined;
const url = () => service?.url as string;
const newPrefix = () => `bench-${randomBytes(4).toString("hex")}:`;

async function pair(options: Record<string, unknown> = {}) {
  const prefix = newPrefix();
  const settings = { hosts: [url()], prefix, presenceHeartbeatMs: 600_000, ...options };
  const sender = new RedisChannelLayer(settings);
  const other = new RedisChannelLayer(settings);
  const member = await other.newChannel();
  return { sender, other, member, prefix };
}

async function groupSends(group: string, count: number): Promise<number> {
  const { sender, other, member } = await pair({
    capacity: count + 10,
    groupHistory: { "chat-*": { maxLength: 1000 } },
  });
  await sender.groupAdd(group, member);
  const measured = await measure(async () => {
    for (let n = 0; n < count; n++) await sender.groupSend(group, message(n));
    return count;
  });
  await sender.flush();
  await Promise.all([sender.close(), other.close()]);
  return measured.seconds;
}

async function tracks(count: number): Promise<number> {
  const { sender, other, member } = await pair({ capacity: count + 10 });
  await sender.groupAdd("room", member);
  const channel = await sender.newChannel();
  const measured = await measure(async () => {
    for (let n = 0; n < count; n++) await sender.presenceTrack("room", channel, `user-${n}`, { online_at: n });
    return count;
  });
  await sender.flush();
  await Promise.all([sender.close(), other.close()]);
  return measured.seconds;
}

/** Tracks `members` keys over `groups` groups; returns bytes per 1,000 from MEMORY USAGE. */
async function presenceMemory(members: number, groups: number): Promise<Measurement> {
  const { sender, other, prefix } = await pair();
  const admin = new Redis(url());
  const channels = await Promise.all(Array.from({ length: 100 }, () => sender.newChannel()));
  const measured = await measure(async () => {
    for (let n = 0; n < members; n++) {
      const channel = channels[n % channels.length] as string;
      await sender.presenceTrack(`room-${n % groups}`, channel, `user-${n}`, { online_at: 1_718_000_000_000 + n });
    }
    return members;
  });
  let bytes = (await admin.memory("USAGE", `${prefix}:presence:$deadlines`, "SAMPLES", "0")) ?? 0;
  for (let g = 0; g < groups; g++) {
    bytes += (await admin.memory("USAGE", `${prefix}:presence:room-${g}`, "SAMPLES", "0")) ?? 0;
  }
  admin.disconnect();
  await sender.flush();
  await Promise.all([sender.close(), other.close()]);
  return { ...measured, extra: { bytesPer1000: Math.round(bytes / (members / 1000)) } };
}

async function historyMemory(messages: number): Promise<Measurement> {
  const { sender, other, prefix } = await pair({ groupHistory: { "chat-*": { maxLength: messages } } });
  const admin = new Redis(url());
  const measured = await measure(async () => {
    for (let n = 0; n < messages; n++) await sender.groupSend("chat-room", message(n));
    return messages;
  });
  const bytes = (await admin.memory("USAGE", `${prefix}:history:chat-room`, "SAMPLES", "0")) ?? 0;
  admin.disconnect();
  await sender.flush();
  await Promise.all([sender.close(), other.close()]);
  return { ...measured, extra: { bytesPer1000: Math.round(bytes / (messages / 1000)) } };
}

const suite: BenchSuite = {
  name: "redis-presence",
  async unavailable() {
    service = await startBenchRedis();
    return service ? undefined : NO_REDIS;
  },
  cases({ quick }) {
    const scale = quick ? 0.1 : 1;
    const sends = Math.round(5000 * scale);
    const trackCount = Math.round(2000 * scale);
    const members = Math.round(10_000 * scale);
    const cases: BenchCase[] = [
      {
        scenario: "group-send-remote",
        subject: OURS,
        run: () => warmBest(sends, () => groupSends("plain-room", sends)),
      },
      {
        scenario: "history-send-remote",
        subject: OURS,
        run: () => warmBest(sends, () => groupSends("chat-room", sends)),
      },
      { scenario: "presence-track", subject: OURS, run: () => warmBest(trackCount, () => tracks(trackCount)) },
      { scenario: "presence-memory-1-group", subject: OURS, run: () => presenceMemory(members, 1) },
      { scenario: "presence-memory-100-groups", subject: OURS, run: () => presenceMemory(members, 100) },
      { scenario: "history-memory", subject: OURS, run: () => historyMemory(members) },
    ];
    return cases;
  },
  async teardown() {
    await service?.stop();
  },
};

export default suite;
