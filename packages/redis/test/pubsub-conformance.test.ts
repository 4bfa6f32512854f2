import { RedisPubSubChannelLayer } from "@channel-layers/redis";
import { runRedisConformance } from "./run-conformance.js";

await runRedisConformance(RedisPubSubChannelLayer, "pubsub");
