export {
  RedisChannelLayer,
  type RedisChannelLayerOptions,
  type RedisChannelLayerStats,
} from "./redis-channel-layer.js";
export {
  RedisPubSubChannelLayer,
  type RedisPubSubChannelLayerOptions,
  type RedisPubSubChannelLayerStats,
} from "./redis-pubsub-channel-layer.js";
export type { RedisClusterHost, RedisHost } from "./shards.js";
