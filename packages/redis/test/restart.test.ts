import { RedisChannelLayer } from "@channel-layers/redis";
import { startService, type TestService, waitFor } from "@channel-layers/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix } from "./redis-service.js";

// Redis killed with SIGKILL and started again on the same port comes back empty. Each instance
// adds its own channels' memberships and presence entries back once it sees the new server
// (docs/redis.md says within 10 s of Redis answering again), so a room does not go silent and
// nobody seems to leave; a history is gone, and a resume from before the restart is told so.

/** The bound docs/redis.md promises (10 s), with room for a slow machine. */
const RESTORED_WITHIN_MS = 20_000;

describe("Redis restarted empty", () => {
  let redis: TestService | undefined;
  beforeAll(async () => {
    redis = await startService("redis", { throwaway: true });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("gets its members back, so a groupSend after the restart reaches them", { timeout: 60_000 }, async ({ skip }) => {
    if (!redis) skip();
    const server = redis as TestService;
    const prefix = freshPrefix("restart");
    const [member, sender] = [
      new RedisChannelLayer({ hosts: [server.url], prefix }),
      new RedisChannelLayer({ hosts: [server.url], prefix }),
    ];
    let admin: Redis | undefined;
    try {
      const [remote, own] = [await member.newChannel(), await sender.newChannel()];
      await member.groupAdd("room", remote);
      await sender.groupAdd("room", own);
      await sender.groupSend("room", { type: "before", n: 0 });
      expect(await member.receive(remote, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "before", n: 0 });
      expect(await sender.receive(own, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "before", n: 0 });

      await server.kill("SIGKILL");
      await server.restart();
      admin = new Redis(server.url);
      const client = admin;
      await waitFor(
        "both memberships back in Redis",
        async () => (await client.zcard(`${prefix}:group:room`)) === 2,
        RESTORED_WITHIN_MS,
      );
      await waitFor("the sender to send again", async () =>
        sender.groupSend("room", { type: "after", n: 1 }).then(
          () => true,
          () => false,
        ),
      );
      expect(await member.receive(remote, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "after", n: 1 });
      expect(await sender.receive(own, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "after", n: 1 });
      expect(member.stats().serverChanges).toBeGreaterThanOrEqual(1);
      expect(member.stats().ownMemberships).toBe(1);
    } finally {
      admin?.disconnect();
      await Promise.all([member.close(), sender.close()]);
    }
  });

  it("puts its presence entries back without a diff, and a resume from before the restart gets a gap", {
    timeout: 60_000,
  }, async ({ skip }) => {
    if (!redis) skip();
    const server = redis as TestService;
    // No heartbeat within the test: what comes back can only come back through the restart path.
    const options = {
      hosts: [server.url],
      prefix: freshPrefix("restart-presence"),
      presenceHeartbeatMs: 60_000,
      groupHistory: { room: { maxLength: 10 } },
    };
    const [member, watcher] = [new RedisChannelLayer(options), new RedisChannelLayer(options)];
    const receive = (layer: RedisChannelLayer, channel: string, ms = 5000) =>
      layer.receive(channel, { signal: AbortSignal.timeout(ms) });
    try {
      const [tracked, watching] = [await member.newChannel(), await watcher.newChannel()];
      await watcher.groupAdd("room", watching);
      const ref = await member.presenceTrack("room", tracked, "alice", { n: 1 });
      expect(await receive(watcher, watching)).toMatchObject({ type: "presence.diff", joins: { alice: {} } });
      await member.groupSend("room", { type: "before" });
      const before = await receive(watcher, watching);

      await server.kill("SIGKILL");
      await server.restart();
      await waitFor(
        "alice listed again",
        async () => {
          const list = await watcher.presenceList("room").catch(() => ({}));
          return JSON.stringify(list) === JSON.stringify({ alice: { metas: [{ n: 1, ref }] } });
        },
        RESTORED_WITHIN_MS,
      );
      expect(member.stats().presenceEntries).toBe(1);
      const silence = await receive(watcher, watching, 500).catch((error: Error) => error.name);
      expect(silence, "nobody saw alice leave, so no diff says she is back").toBe("AbortError");
      const history = await watcher.groupHistory("room", { after: before.__offset__ as string });
      expect(history, "the history died with Redis' memory").toEqual({ messages: [], complete: false });
    } finally {
      await Promise.all([member.close(), watcher.close()]);
    }
  });
});
