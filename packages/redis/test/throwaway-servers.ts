import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  freePort,
  hasLocalBinary,
  probeTcp,
  ServerProcess,
  type Service,
  servicesRequired,
  startLocalServer,
  waitFor,
} from "@channel-layers/integration";
import { Redis } from "ioredis";

const run = promisify(execFile);

/** Why throwaway redis-server processes cannot be started here, or undefined. Fails under CI instead. */
export function throwawayRedisMissing(): string | undefined {
  if (hasLocalBinary("redis")) return undefined;
  if (servicesRequired()) throw new Error("These tests need the redis-server binary (apt-get install redis-server)");
  return "redis-server is not installed";
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** `count` separate throwaway Redis servers: a ring of shards. */
export async function startRing(count: number): Promise<Service[]> {
  return Promise.all(Array.from({ length: count }, () => startLocalServer("redis")));
}

/**
 * A 3-master Redis Cluster on free ports: cluster-enabled servers joined by
 * `redis-cli --cluster create`, ready once every node reports cluster_state:ok.
 */
export async function startCluster(masters = 3): Promise<Service[]> {
  const nodes = await Promise.all(
    Array.from({ length: masters }, () =>
      startLocalServer("redis", ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]),
    ),
  );
  const addresses = nodes.map((node) => `127.0.0.1:${portOf(node.url)}`);
  await run("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"]);
  for (const node of nodes) {
    const client = new Redis(node.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await waitFor("cluster_state:ok", async () => (await client.cluster("INFO")).includes("cluster_state:ok"));
    } finally {
      client.disconnect();
    }
  }
  return nodes;
}

/** A throwaway Sentinel watching `master` under the name `name`. */
export async function startSentinel(master: Service, name: string): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "channel-layers-sentinel-"));
  const config = join(dir, "sentinel.conf");
  writeFileSync(
    config,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${portOf(master.url)} 1`,
      `sentinel down-after-milliseconds ${name} 2000`,
      "",
    ].join("\n"),
  );
  const sentinel = new ServerProcess({
    command: "redis-server",
    args: [config, "--sentinel"],
    ready: () => waitFor(`sentinel on ${port}`, () => probeTcp(port, "+PONG", "PING\r\n")),
  });
  await sentinel.start();
  return {
    port,
    async stop() {
      await sentinel.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
