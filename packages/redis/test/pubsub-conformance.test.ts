import { channelLayerConformance } from "@channel-layers/core/conformance";
import { RedisPubSubChannelLayer } from "@channel-layers/redis";
import { freshPrefix, useRedis } from "./redis-service.js";

const redis = useRedis();

channelLayerConformance({
  name: "RedisPubSubChannelLayer",
  crossInstance: true,
  factory: ({ prefix, ...options }) => {
    if (!redis.url) throw new Error("No Redis for the conformance suite: set REDIS_URL or install redis-server");
    return new RedisPubSubChannelLayer({ ...options, hosts: [redis.url], prefix: prefix ?? freshPrefix("pubsub") });
  },
});
