import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Cluster, Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import {
  findBinary,
  portAnswers,
  portOf,
  type RedisSentinelService,
  redisCommand,
  startNatsCluster,
  startRedisCluster,
  startRedisSentinel,
  waitFor,
} from "../src/index.js";

const localServers = process.env.CHANNEL_LAYERS_LOCAL_SERVERS !== "0";
const redisServer = findBinary("redis-server") !== undefined;

describe.runIf(redisServer && findBinary("redis-cli") !== undefined && localServers)("startRedisCluster", () => {
  it("forms a 3-master cluster; a killed master comes back on its port and the cluster is whole again", {
    timeout: 120_000,
  }, async () => {
    const cluster = await startRedisCluster();
    if (!cluster) throw new Error("no cluster");
    const client = new Cluster([...cluster.seeds], { clusterRetryStrategy: () => 100 });
    client.on("error", () => undefined);
    try {
      expect(cluster.nodes).toHaveLength(3);
      for (const key of ["a", "b", "c", "d", "e"]) await client.set(`{${key}}k`, key);
      const holding = await Promise.all(client.nodes("master").map(async (node) => (await node.dbsize()) > 0));
      expect(holding.filter(Boolean).length).toBeGreaterThan(1);

      const victim = cluster.nodes[1];
      if (!victim) throw new Error("no second node");
      await victim.kill();
      expect(await portAnswers(portOf(victim.url))).toBe(false);
      const survivor = portOf(cluster.nodes[0]?.url as string);
      await waitFor("the cluster to notice", async () =>
        String(await redisCommand(survivor, ["CLUSTER", "INFO"])).includes("cluster_state:fail"),
      );
      await victim.restart();
      await waitFor("cluster_state:ok", async () =>
        String(await redisCommand(survivor, ["CLUSTER", "INFO"])).includes("cluster_state:ok"),
      );
      await client.set("{after}k", "restart");
      expect(await client.get("{after}k")).toBe("restart");
    } finally {
      client.disconnect();
      await cluster.stop();
    }
    for (const node of cluster.nodes) expect(await portAnswers(portOf(node.url))).toBe(false);
  });
});

/** What each sentinel thinks of the set, for a failure message: TILT, and the replicas' flags and roles. */
async function sentinelsReport(set: RedisSentinelService): Promise<string> {
  const lines: string[] = [];
  for (const sentinel of set.sentinels) {
    const info = await redisCommand(sentinel.port, ["INFO", "sentinel"]).catch((error: Error) => error);
    const tilt = String(info).match(/sentinel_tilt:\d+|sentinel_tilt_since_seconds:-?\d+/g) ?? [];
    const replicas = await redisCommand(sentinel.port, ["SENTINEL", "REPLICAS", set.masterName]).catch(
      (error: Error) => error,
    );
    const described = Array.isArray(replicas)
      ? replicas.map((fields) => {
          const pairs = Array.isArray(fields) ? fields.map(String) : [];
          const field = (name: string) => pairs[pairs.indexOf(name) + 1];
          return `${field("port")} flags=${field("flags")} role-reported=${field("role-reported")} for ${field("role-reported-time")} ms`;
        })
      : [String(replicas)];
    lines.push(`sentinel ${sentinel.port}: ${tilt.join(" ")}; replicas: ${described.join("; ")}`);
  }
  return lines.join("\n");
}

describe.runIf(redisServer && localServers)("startRedisSentinel", () => {
  it("promotes the replica when the master is killed, and a Sentinel client follows", {
    timeout: 180_000,
  }, async () => {
    const set = await startRedisSentinel({ masterName: "channels" });
    if (!set) throw new Error("no sentinel set");
    const client = new Redis({ sentinels: [...set.sentinels], name: set.masterName, maxRetriesPerRequest: null });
    client.on("error", () => undefined);
    try {
      expect(set.sentinelNodes).toHaveLength(3);
      expect(set.nodes).toHaveLength(5);
      expect(set.url).toBe(set.master.url);
      expect(await set.currentMaster()).toMatchObject({ port: portOf(set.master.url) });
      await client.set("before", "failover");
      await waitFor("the replica to copy the write", async () => {
        const value = await redisCommand(portOf(set.replica.url), ["GET", "before"]);
        return value === "failover";
      });

      await set.master.kill();
      await waitFor(
        "the sentinels to promote the replica",
        async () => {
          return (await set.currentMaster()).port === portOf(set.replica.url);
        },
        60_000,
      );
      const role = await redisCommand(portOf(set.replica.url), ["ROLE"]);
      expect(Array.isArray(role) && role[0]).toBe("master");
      // The Sentinel client asks the sentinels again and writes to the promoted replica.
      expect(await client.get("before")).toBe("failover");
      await client.set("after", "failover");
      expect(await redisCommand(portOf(set.replica.url), ["GET", "after"])).toBe("failover");

      // The old master comes back as a replica of the new one.
      await set.master.restart();
      await waitFor(
        "the old master to follow the new one",
        async () => {
          const oldRole = await redisCommand(portOf(set.master.url), ["ROLE"]);
          return Array.isArray(oldRole) && oldRole[0] === "slave" && oldRole[2] === portOf(set.replica.url);
        },
        // A sentinel converts a returning old master once it has reported itself a master for 4
        // publish periods (4 s with the set's test timers); a sentinel in TILT mode waits longer.
        90_000,
      ).catch(async (error: Error) => {
        throw new Error(`${error.message}\n${await sentinelsReport(set)}`);
      });
    } finally {
      client.disconnect();
      await set.stop();
    }
  });
});

describe.runIf(findBinary("nats-server") !== undefined && localServers)("startNatsCluster", () => {
  it("joins three nodes; a stream with 3 replicas keeps every message when one node is killed", {
    timeout: 120_000,
  }, async () => {
    const cluster = await startNatsCluster();
    if (!cluster) throw new Error("no cluster");
    const connection = await connect({ servers: [...cluster.urls], maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      expect(cluster.nodes).toHaveLength(3);
      const manager = await jetstreamManager(connection);
      await manager.streams.add({
        name: "R3",
        subjects: ["r3.>"],
        num_replicas: 3,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
      });
      const js = jetstream(connection);
      for (let n = 0; n < 50; n++) await js.publish("r3.n", String(n), { msgID: String(n) });

      const info = await manager.streams.info("R3");
      const replicaNames = (info.cluster?.replicas ?? []).map((replica) => replica.name);
      expect([info.cluster?.leader, ...replicaNames].filter(Boolean)).toHaveLength(3);
      // Kill the node the client is connected to, or another one: either way the stream lives on.
      const victim = cluster.nodes[0];
      if (!victim) throw new Error("no node");
      await victim.kill();
      // Publishes sent while the stream elects a new leader may time out: retried with the same
      // message id, the stream keeps one copy of each.
      for (let n = 50; n < 100; n++) {
        await waitFor(
          `message ${n} to be stored`,
          async () => {
            await js.publish("r3.n", String(n), { msgID: String(n), timeout: 2000 });
            return true;
          },
          60_000,
        );
      }
      await waitFor(
        "the stream to hold every message",
        async () => {
          const now = await manager.streams.info("R3");
          return now.state.messages === 100;
        },
        60_000,
      );
      // JetStream API calls may time out while the cluster elects new leaders: each is retried.
      const seen: number[] = [];
      for (let seq = 1; seq <= 100; seq++) {
        await waitFor(
          `message ${seq}`,
          async () => {
            const message = await manager.streams.getMessage("R3", { seq });
            if (message) seen.push(Number(message.string()));
            return message !== null;
          },
          60_000,
        );
      }
      expect(seen).toEqual(Array.from({ length: 100 }, (_, n) => n));

      // The killed node comes back on its ports; then the whole cluster restarts and works again.
      await victim.restart();
      await cluster.restart();
      await waitFor(
        "a stream on the restarted cluster",
        async () => {
          await manager.streams.add({ name: "AFTER", subjects: ["after.>"], num_replicas: 3 });
          return true;
        },
        60_000,
      );
      await waitFor(
        "a publish on the restarted cluster",
        async () => {
          await js.publish("after.n", "1", { msgID: "after-1", timeout: 2000 });
          return true;
        },
        60_000,
      );
    } finally {
      await connection.close();
      await cluster.stop();
    }
  });
});
