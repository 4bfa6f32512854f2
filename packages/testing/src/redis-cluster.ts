import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { findBinary } from "./binaries.js";
import { localServersAllowed, startLocalServer } from "./local-server.js";
import { planLocalRedis } from "./redis.js";
import { redisCommand } from "./redis-command.js";
import { resolveService } from "./resolve.js";
import { servicesRequired } from "./service.js";
import { portOf, type ServiceGroup, serviceGroup, settleOrStop, startNodes } from "./service-group.js";
import { waitFor } from "./wait-for.js";

const run = promisify(execFile);

export interface StartRedisClusterOptions {
  /** Master nodes; default 3 (Redis Cluster's minimum). */
  masters?: number;
  /** Replicas per master; default 0. */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a node may not answer before it counts as failing; default 2000. */
  nodeTimeoutMs?: number;
  /** Reject instead of resolving undefined; default under CI=true or REQUIRE_SERVICES=1. */
  required?: boolean;
}

/** A Redis Cluster of throwaway local servers. */
export interface RedisClusterService extends ServiceGroup {
  /** Every node's address: the seeds for a cluster client (ioredis' `new Cluster(seeds)`). */
  readonly seeds: ReadonlyArray<{ host: string; port: number }>;
}

async function clusterStateOk(port: number): Promise<boolean> {
  const info = await redisCommand(port, ["CLUSTER", "INFO"]);
  return typeof info === "string" && info.includes("cluster_state:ok");
}

/**
 * A Redis Cluster from the local redis-server and redis-cli: cluster-enabled servers on free
 * ports joined by `redis-cli --cluster create`, resolved once every node reports
 * cluster_state:ok. No environment URL or container: undefined (or a rejection when required)
 * without the binaries.
 */
export async function startRedisCluster(
  options: StartRedisClusterOptions = {},
): Promise<RedisClusterService | undefined> {
  const server = findBinary("redis-server");
  const cli = findBinary("redis-cli");
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  const nodeArgs = ["--cluster-enabled", "yes", "--cluster-node-timeout", String(options.nodeTimeoutMs ?? 2000)];
  const start = async (redisServer: string, redisCli: string): Promise<RedisClusterService> => {
    const nodes = await startNodes(
      Array.from(
        { length: masters * (1 + replicas) },
        () => async () => startLocalServer(await planLocalRedis(redisServer, nodeArgs)),
      ),
    );
    const ports = nodes.map((node) => portOf(node.url));
    const settled = async () => {
      for (const port of ports) await waitFor(`cluster_state:ok on ${port}`, () => clusterStateOk(port), 60_000);
    };
    await settleOrStop(nodes, async () => {
      const addresses = ports.map((port) => `127.0.0.1:${port}`);
      await run(redisCli, [
        "--cluster",
        "create",
        ...addresses,
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
      ]);
      await settled();
    });
    return { ...serviceGroup(nodes, settled), seeds: ports.map((port) => ({ host: "127.0.0.1", port })) };
  };
  return resolveService({
    what: "a Redis Cluster",
    hint: "install redis-server and redis-cli (Debian: redis-server, redis-tools)",
    throwaway: true,
    containerRuntime: async () => false,
    local: server && cli && localServersAllowed() ? () => start(server, cli) : undefined,
    required: options.required ?? servicesRequired(),
  });
}
