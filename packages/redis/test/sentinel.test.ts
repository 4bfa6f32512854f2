import { type Service, startLocalServer } from "@channel-layers/integration";
import { RedisChannelLayer } from "@channel-layers/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix } from "./redis-service.js";
import { startSentinel, throwawayRedisMissing } from "./throwaway-servers.js";

// Sentinel: the layer is given the sentinels and the master's name (ioredis options), asks them
// where the master is, and works there as on any Redis.
const missing = throwawayRedisMissing();

describe.skipIf(missing !== undefined)("Redis behind a Sentinel", () => {
  let master: Service | undefined;
  let sentinel: Awaited<ReturnType<typeof startSentinel>> | undefined;
  beforeAll(async () => {
    master = await startLocalServer("redis");
    sentinel = await startSentinel(master, "channels");
  });
  afterAll(async () => {
    await sentinel?.stop();
    await master?.stop();
  });

  it("finds the master through the sentinel and is one layer there", async () => {
    const hosts = [{ sentinels: [{ host: "127.0.0.1", port: sentinel?.port as number }], name: "channels" }];
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
