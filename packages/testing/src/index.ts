export { type BinarySearch, findBinary, findPostgresBinDir } from "./binaries.js";
export {
  type ChromiumLaunchOptions,
  chromiumLaunchOptions,
  type LaunchedChromium,
  launchChromium,
  type PersistentContextLauncher,
} from "./chromium.js";
export { containerRuntimeAnswers } from "./containers.js";
export { freePort, freePorts } from "./free-port.js";
export { NATS_IMAGE, type StartNatsOptions, startNats } from "./nats.js";
export { type NatsClusterService, type StartNatsClusterOptions, startNatsCluster } from "./nats-cluster.js";
export { POSTGRES_IMAGE, startPostgres } from "./postgres.js";
export { postgresAcceptsLogin } from "./postgres-probe.js";
export { lineageOf, type ProcessLineage } from "./process-group.js";
export { REDIS_IMAGE, startRedis } from "./redis.js";
export { type RedisClusterService, type StartRedisClusterOptions, startRedisCluster } from "./redis-cluster.js";
export { type RedisReply, redisCommand, redisInfo } from "./redis-command.js";
export { type RedisSentinelService, type StartRedisSentinelOptions, startRedisSentinel } from "./redis-sentinel.js";
export { resolveService, type ServicePlan } from "./resolve.js";
export { type ServerCommand, ServerProcess } from "./server-process.js";
export {
  ENV_URL,
  missingServiceHint,
  type ServiceKind,
  type ServiceSource,
  type StartServiceOptions,
  servicesRequired,
  type TestService,
} from "./service.js";
export { portOf, type ServiceGroup } from "./service-group.js";
export { hasLocalBinary, startService } from "./start-service.js";
export { portAnswers, probeTcp, waitFor } from "./wait-for.js";
