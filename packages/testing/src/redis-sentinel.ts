import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { findBinary } from "./binaries.js";
import { freePort } from "./free-port.js";
import { localServersAllowed, makeDataDir, startLocalServer } from "./local-server.js";
import { planLocalRedis, redisAnswers } from "./redis.js";
import { redisCommand, redisInfo } from "./redis-command.js";
import { resolveService } from "./resolve.js";
import { servicesRequired, type TestService } from "./service.js";
import { portOf, type ServiceGroup, serviceGroup, settleOrStop, startNodes } from "./service-group.js";
import { waitFor } from "./wait-for.js";

export interface StartRedisSentinelOptions {
  /** The name the sentinels monitor the master under; default "mymaster". */
  masterName?: string;
  /** `down-after-milliseconds`: how long the master may not answer before a sentinel calls it down; default 1000. */
  downAfterMs?: number;
  /** `failover-timeout`; default 10000. */
  failoverTimeoutMs?: number;
  /** Reject instead of resolving undefined; default under CI=true or REQUIRE_SERVICES=1. */
  required?: boolean;
}

/** One master, one replica and three sentinels (quorum 2), all throwaway local servers. */
export interface RedisSentinelService extends ServiceGroup {
  readonly masterName: string;
  /** The data node that was the master at start (`url` is its URL). */
  readonly master: TestService;
  /** The data node that was its replica at start. */
  readonly replica: TestService;
  readonly sentinelNodes: readonly TestService[];
  /** The sentinels' addresses, for a Sentinel-aware client (ioredis: `{ sentinels, name: masterName }`). */
  readonly sentinels: ReadonlyArray<{ host: string; port: number }>;
  /** The master the sentinels name now (after a failover, the promoted replica). */
  currentMaster(): Promise<{ host: string; port: number; url: string }>;
}

/** A `SENTINEL MASTER <name>` reply (flat key/value pairs) as a map. */
async function sentinelView(port: number, name: string): Promise<Map<string, string>> {
  const reply = await redisCommand(port, ["SENTINEL", "MASTER", name]);
  const fields = new Map<string, string>();
  if (!Array.isArray(reply)) return fields;
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), String(reply[i + 1]));
  return fields;
}

/**
 * Timers for a throwaway set on a busy test machine. A sentinel whose timer stalls for over 2 s
 * (a slow fsync of its rewritten config, a starved core) enters TILT mode and does nothing for
 * 30 s, which once left a returning old master unconverted for over 90 s. Here only a stall of 30 s
 * tilts, for 5 s, and a returning old master is converted after 4 s (4 publish periods) not 8.
 */
const TEST_TIMERS = ["tilt-trigger", "30000", "tilt-period", "5000", "publish-period", "1000"];

/** True once the sentinel answered; an error reply (before Redis 7, no SENTINEL DEBUG) keeps its defaults. */
async function tuneForTests(port: number): Promise<boolean> {
  await redisCommand(port, ["SENTINEL", "DEBUG", ...TEST_TIMERS]);
  return true;
}

async function planSentinel(binary: string, masterPort: number, options: Required<StartRedisSentinelOptions>) {
  const port = await freePort();
  const dataDir = makeDataDir("sentinel");
  const config = join(dataDir, "sentinel.conf");
  const name = options.masterName;
  // Sentinels rewrite their config file as they learn (replicas, other sentinels, failovers).
  writeFileSync(
    config,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dataDir}`,
      `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${name} ${options.downAfterMs}`,
      `sentinel failover-timeout ${name} ${options.failoverTimeoutMs}`,
      "",
    ].join("\n"),
  );
  const sentinelArgs = binary.endsWith("redis-sentinel") ? [config] : [config, "--sentinel"];
  return startLocalServer({
    kind: "redis",
    url: `redis://127.0.0.1:${port}`,
    dataDir,
    command: { command: binary, args: sentinelArgs, ready: () => redisAnswers(port) },
  });
}

async function startSentinelSet(
  redisServer: string,
  sentinelBinary: string,
  options: Required<StartRedisSentinelOptions>,
) {
  const master = await startLocalServer(await planLocalRedis(redisServer));
  const masterPort = portOf(master.url);
  let others: TestService[];
  try {
    others = await startNodes([
      async () => startLocalServer(await planLocalRedis(redisServer, ["--replicaof", "127.0.0.1", String(masterPort)])),
      ...Array.from({ length: 3 }, () => () => planSentinel(sentinelBinary, masterPort, options)),
    ]);
  } catch (error) {
    await master.stop();
    throw error;
  }
  const [replica, ...sentinelNodes] = others as [TestService, ...TestService[]];
  const nodes = [master, replica, ...sentinelNodes];
  const sentinelPorts = sentinelNodes.map((node) => portOf(node.url));
  // Ready when every sentinel knows a master, its replica and the two other sentinels.
  const settled = async () => {
    // SENTINEL DEBUG settings are not kept in the config file: set again after a restart.
    for (const port of sentinelPorts) await waitFor(`sentinel ${port} to take test timers`, () => tuneForTests(port));
    for (const port of sentinelPorts) {
      await waitFor(
        `sentinel ${port} to see the set`,
        async () => {
          const view = await sentinelView(port, options.masterName);
          return view.get("num-slaves") === "1" && view.get("num-other-sentinels") === "2";
        },
        60_000,
      );
    }
  };
  await settleOrStop(nodes, async () => {
    await waitFor(
      "the replica to sync",
      async () => {
        const replication = await redisInfo(portOf(replica.url), "replication");
        return replication.get("master_link_status") === "up";
      },
      60_000,
    );
    await settled();
  });
  const service: RedisSentinelService = {
    ...serviceGroup(nodes, settled),
    masterName: options.masterName,
    master,
    replica,
    sentinelNodes,
    sentinels: sentinelPorts.map((port) => ({ host: "127.0.0.1", port })),
    async currentMaster() {
      let lastError: unknown;
      for (const port of sentinelPorts) {
        try {
          const reply = await redisCommand(port, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", options.masterName]);
          if (Array.isArray(reply) && reply.length === 2) {
            const [host, masterPortNow] = [String(reply[0]), Number(reply[1])];
            return { host, port: masterPortNow, url: `redis://${host}:${masterPortNow}` };
          }
        } catch (error) {
          lastError = error;
        }
      }
      throw new Error(`No sentinel named a master for ${options.masterName}`, { cause: lastError });
    },
  };
  return service;
}

/**
 * A Redis Sentinel set from the local binaries (redis-server, and redis-sentinel when installed,
 * else `redis-server --sentinel`): a master, a replica of it and three sentinels with quorum 2,
 * resolved once every sentinel sees the replica and the other two. Kill `master` and the
 * sentinels promote `replica`. No environment URL or container: undefined (or a rejection when
 * required) without the binaries.
 */
export async function startRedisSentinel(
  options: StartRedisSentinelOptions = {},
): Promise<RedisSentinelService | undefined> {
  const redisServer = findBinary("redis-server");
  const sentinel = findBinary("redis-sentinel") ?? redisServer;
  const settings: Required<StartRedisSentinelOptions> = {
    masterName: options.masterName ?? "mymaster",
    downAfterMs: options.downAfterMs ?? 1000,
    failoverTimeoutMs: options.failoverTimeoutMs ?? 10_000,
    required: options.required ?? servicesRequired(),
  };
  return resolveService({
    what: "a Redis Sentinel set",
    hint: "install redis-server (Debian: redis-server, redis-sentinel)",
    throwaway: true,
    containerRuntime: async () => false,
    local:
      redisServer && sentinel && localServersAllowed()
        ? () => startSentinelSet(redisServer, sentinel, settings)
        : undefined,
    required: settings.required,
  });
}
