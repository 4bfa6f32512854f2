import { RedisChannelLayer } from "@channel-layers/redis";
import { startService, type TestService, waitFor } from "@channel-layers/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix } from "./redis-service.js";

// Redis killed with SIGKILL and started again on the same port comes back empty. Each instance
// adds its own channels' memberships back once it sees the new server (docs/redis.md says within
// 10 s of Redis answering again), so a room does not go silent.

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
});
