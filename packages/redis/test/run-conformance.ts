import type { ChannelLayerOptions } from "@channel-layers/core";
import type { BaseChannelLayer } from "@channel-layers/core/backend";
import { channelLayerConformance } from "@channel-layers/core/conformance";
import { Redis } from "ioredis";
import { expect, it } from "vitest";
import { freshPrefix, useRedis } from "./redis-service.js";

type RedisLayerClass<T> = new (options: ChannelLayerOptions & { hosts: string[]; prefix: string }) => T;

/**
 * The conformance suite for one of the Redis layers on the test Redis, each instance under a fresh
 * prefix (a sibling shares its partner's), then a check that the suite left no key behind.
 */
export async function runRedisConformance<T extends BaseChannelLayer & { prefix: string }>(
  Layer: RedisLayerClass<T>,
  prefixLabel: string,
): Promise<void> {
  const redis = await useRedis();
  if (!redis.url) {
    it.skip(`${Layer.name} conformance: no Redis server (set REDIS_URL or install redis-server)`, () => undefined);
    return;
  }
  const url = redis.url;
  const prefixes = new Set<string>();
  channelLayerConformance<T>({
    name: Layer.name,
    crossInstance: true,
    factory: ({ sibling, ...options }) => {
      const prefix = sibling?.prefix ?? freshPrefix(prefixLabel);
      prefixes.add(prefix);
      return new Layer({ ...options, hosts: [url], prefix });
    },
    // Nothing listens on port 1.
    unreachableFactory: () => new Layer({ hosts: ["redis://127.0.0.1:1"], prefix: freshPrefix("unreachable") }),
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
}
