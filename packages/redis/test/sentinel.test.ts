import { RedisChannelLayer } from "@channel-layers/redis";
import type { RedisSentinelService } from "@channel-layers/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix } from "./redis-service.js";
import { startSentinelSet, throwawayRedisMissing } from "./throwaway-servers.js";

// Sentinel: the layer is given the sentinels and the master's name (ioredis options), asks them
// where the master is, and works there as on any Redis.
const missing = throwawayRedisMissing();

describe.skipIf(missing !== undefined)("Redis behind a Sentinel", () => {
  let set: RedisSentinelService | undefined;
  beforeAll(async () => {
    set = await startSentinelSet("channels");
  });
  afterAll(async () => {
    await set?.stop();
  });

  it("finds the master through the sentinel and is one layer there", async () => {
    const hosts = [{ sentinels: [...(set?.sentinels ?? [])], name: "channels" }];
    const prefix = freshPrefix("sentinel");
    const [a, b] = [new RedisChannelLayer({ hosts, prefix }), new RedisChannelLayer({ hosts, prefix })];
    try {
      const channel = await b.newChannel();
      await a.groupAdd("sentinel-room", channel);
      await a.groupSend("sentinel-room", { type: "via.sentinel" });
      await a.send("sentinel-named", { type: "named" });
      expect(await b.receive(channel, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "via.sentinel" });
      expect(await b.receive("sentinel-named", { signal: AbortSignal.timeout(5000) })).toEqual({ type: "named" });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
