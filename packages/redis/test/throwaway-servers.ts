import {
  hasLocalBinary,
  type RedisSentinelService,
  servicesRequired,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
  type TestService,
} from "@channel-layers/testing";

/** Why throwaway redis-server processes cannot be started here, or undefined. Fails under CI instead. */
export function throwawayRedisMissing(): string | undefined {
  if (hasLocalBinary("redis") && process.env.CHANNEL_LAYERS_LOCAL_SERVERS !== "0") return undefined;
  if (servicesRequired()) throw new Error("These tests need the redis-server binary (apt-get install redis-server)");
  return "redis-server is not installed";
}

export { portOf } from "@channel-layers/testing";

/** A throwaway redis-server from the local binary, with extra command-line arguments. */
export async function startLocalRedis(args: string[] = []): Promise<TestService> {
  const service = await startRedis({ args, required: true });
  if (!service) throw new Error("redis-server did not start");
  return service;
}

/** `count` separate throwaway Redis servers: a ring of shards. */
export async function startRing(count: number): Promise<TestService[]> {
  return Promise.all(Array.from({ length: count }, () => startLocalRedis()));
}

/** A 3-master Redis Cluster on free ports, ready once every node reports cluster_state:ok. */
export async function startCluster(masters = 3): Promise<TestService[]> {
  const cluster = await startRedisCluster({ masters, required: true });
  if (!cluster) throw new Error("The Redis Cluster did not start");
  return [...cluster.nodes];
}

/** A master, its replica and three sentinels watching it under `name`. */
export async function startSentinelSet(name: string): Promise<RedisSentinelService> {
  const set = await startRedisSentinel({ masterName: name, required: true });
  if (!set) throw new Error("The Sentinel set did not start");
  return set;
}
