import { RedisChannelLayer } from "@channel-layers/redis";
import { runRedisConformance } from "./run-conformance.js";

await runRedisConformance(RedisChannelLayer, "conformance");
