import { channelLayerConformance } from "@channel-layers/core/conformance";
import { RedisPubSubChannelLayer } from "@channel-layers/redis";
import { it } from "vitest";
import { freshPrefix, useRedis } from "./redis-service.js";

const redis = await useRedis();

if (redis.url) {
  const url = redis.url;
  channelLayerConformance({
    name: "RedisPubSubChannelLayer",
    crossInstance: true,
    factory: ({ prefix, ...options }) => {
      return new RedisPubSubChannelLayer({ ...options, hosts: [url], prefix: prefix ?? freshPrefix("pubsub") });
    },
  });
} else {
  it.skip("RedisPubSubChannelLayer conformance: no Redis server (set REDIS_URL or install redis-server)", () =>
    undefined);
}
