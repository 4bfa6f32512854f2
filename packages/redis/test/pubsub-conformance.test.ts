import { channelLayerConformance } from "@channel-layers/core/conformance";
import { RedisPubSubChannelLayer } from "@channel-layers/redis";
import { Redis } from "ioredis";
import { expect, it } from "vitest";
import { freshPrefix, useRedis } from "./redis-service.js";

const redis = await useRedis();

if (redis.url) {
  const url = redis.url;
  const prefixes = new Set<string>();
  channelLayerConformance<RedisPubSubChannelLayer>({
    name: "RedisPubSubChannelLayer",
    crossInstance: true,
    factory: ({ sibling, ...options }) => {
      const prefix = sibling?.prefix ?? freshPrefix("pubsub");
      prefixes.add(prefix);
      return new RedisPubSubChannelLayer({ ...options, hosts: [url], prefix });
    },
    // Nothing listens on port 1.
    unreachableFactory: () =>
      new RedisPubSubChannelLayer({ hosts: ["redis://127.0.0.1:1"], prefix: freshPrefix("unreachable") }),
  });

  it("leaves no key behind under the prefixes the suite used", async () => {
    const client = new Redis(url);
    try {
      const left: string[] = [];
      for (const prefix of prefixes) left.push(...(await client.keys(`${prefix}*`)));
      expect(left, `keys left on Redis after the suite, under ${prefixes.size} prefixes`).toEqual([]);
    } finally {
      client.disconnect();
    }
  });
} else {
  it.skip("RedisPubSubChannelLayer conformance: no Redis server (set REDIS_URL or install redis-server)", () =>
    undefined);
}
