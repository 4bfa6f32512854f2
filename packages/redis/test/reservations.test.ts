import { RedisChannelLayer } from "@channel-layers/redis";
import { startService, type TestService, waitFor } from "@channel-layers/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESERVE, SWEEP_HELD } from "../src/scripts.js";
import { freshPrefix } from "./redis-service.js";

// What an instance sends its own channels never touches Redis while the reservations it holds in
// the channel's held set cover it; other senders count those reservations, so the channel never
// holds more than its capacity, and the owner gives them back when others fill the channel.
// A throwaway Redis, so that its slow log shows only this file's commands.

/** The held set's entries of `channel` (made by a layer on `prefix`) that are reservations. */
async function reservations(admin: Redis, prefix: string, channel: string): Promise<number> {
  const [nonLocal, local] = [channel.slice(0, channel.indexOf("!") + 1), channel.slice(channel.indexOf("!") + 1)];
  return admin.zlexcount(`${prefix}${nonLocal}$held`, `[${local}|r`, `(${local}|s`);
}

describe("reservations for sends to oneself", () => {
  let redis: TestService | undefined;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startService("redis", { throwaway: true });
    if (redis) admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  it("let sends to oneself skip Redis while they last", async ({ skip }) => {
    if (!redis) skip();
    const layer = new RedisChannelLayer({ hosts: [(redis as TestService).url], prefix: freshPrefix("reserve") });
    // The slow log, set to log every command with its arguments, shows which scripts ran.
    await admin.config("SET", "slowlog-max-len", "100000");
    await admin.config("SET", "slowlog-log-slower-than", "0");
    const scriptsSoFar = async () => {
      const entries = (await admin.slowlog("GET", -1)) as [number, number, number, string[]][];
      await admin.slowlog("RESET");
      return entries.filter(([, , , args]) => args[0]?.toLowerCase() === "evalsha").map(([, , , args]) => args[1]);
    };
    try {
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "first" });
      await layer.receive(channel);
      expect(await scriptsSoFar()).toContain(RESERVE.sha);
      for (let n = 0; n < 50; n++) {
        await layer.send(channel, { type: "again", n });
        expect(await layer.receive(channel)).toEqual({ type: "again", n });
      }
      // Only the upkeep's sweep may run meanwhile (every 10 s), never a script per send.
      expect((await scriptsSoFar()).filter((sha) => sha !== SWEEP_HELD.sha)).toEqual([]);
    } finally {
      await admin.config("SET", "slowlog-log-slower-than", "10000");
      await layer.close();
    }
  });

  it("are counted by other senders: the channel never holds more than its capacity", async ({ skip }) => {
    if (!redis) skip();
    const url = (redis as TestService).url;
    const prefix = freshPrefix("reserve-count");
    const [owner, other] = [
      new RedisChannelLayer({ hosts: [url], prefix, capacity: 5 }),
      new RedisChannelLayer({ hosts: [url], prefix, capacity: 5 }),
    ];
    try {
      const channel = await owner.newChannel();
      for (let n = 0; n < 3; n++) await owner.send(channel, { type: "own", n });
      await other.send(channel, { type: "other", n: 3 });
      await other.send(channel, { type: "other", n: 4 });
      await expect(other.send(channel, { type: "other", n: 5 })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
      await expect(owner.send(channel, { type: "own", n: 5 })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
      for (let n = 0; n < 5; n++)
        expect((await owner.receive(channel, { signal: AbortSignal.timeout(5000) })).n).toBe(n);
      await other.send(channel, { type: "room again" });
      expect(await owner.receive(channel, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "room again" });
    } finally {
      await Promise.all([owner.close(), other.close()]);
    }
  });

  it("are given back when other senders fill the channel", async ({ skip }) => {
    if (!redis) skip();
    const url = (redis as TestService).url;
    const prefix = freshPrefix("reserve-release");
    const [owner, other] = [
      new RedisChannelLayer({ hosts: [url], prefix, capacity: 100 }),
      new RedisChannelLayer({ hosts: [url], prefix, capacity: 100 }),
    ];
    try {
      const channel = await owner.newChannel();
      await owner.send(channel, { type: "own" });
      await owner.receive(channel);
      expect(await reservations(admin, prefix, channel)).toBeGreaterThan(0);
      for (let n = 0; n < 80; n++) await other.send(channel, { type: "other", n });
      await waitFor(
        "the owner to give its reservations back",
        async () => (await reservations(admin, prefix, channel)) === 0,
      );
      for (let n = 80; n < 100; n++) await other.send(channel, { type: "other", n });
      await expect(other.send(channel, { type: "other", n: 100 })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
    } finally {
      await Promise.all([owner.close(), other.close()]);
    }
  });
});
