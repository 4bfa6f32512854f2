import { channelLayerConformance } from "@channel-layers/core/conformance";
import { RedisChannelLayer } from "@channel-layers/redis";
import { it } from "vitest";
import { freshPrefix, useRedis } from "./redis-service.js";

const redis = await useRedis();

if (redis.url) {
  const url = redis.url;
  channelLayerConformance({
    name: "RedisChannelLayer",
    crossInstance: true,
    factory: ({ prefix, ...options }) => {
      return new RedisChannelLayer({ ...options, hosts: [url], prefix: prefix ?? freshPrefix("conformance") });
    },
  });
} else {
  it.skip("RedisChannelLayer conformance: no Redis server (set REDIS_URL or install redis-server)", () => undefined);
}
