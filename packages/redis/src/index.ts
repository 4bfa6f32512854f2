export { InvalidToken, MultiFernet } from "./fernet.js";
export { consistentHash } from "./hash-ring.js";
export { RedisChannelLayer, type RedisChannelLayerOptions } from "./redis-channel-layer.js";
export { RedisPubSubChannelLayer, type RedisPubSubChannelLayerOptions } from "./redis-pubsub-channel-layer.js";
export type { RedisClusterHost, RedisHost } from "./shards.js";
