import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { findBinary } from "./binaries.js";
import { freePorts } from "./free-port.js";
import { getJson } from "./http-json.js";
import { localServersAllowed, makeDataDir, startLocalServer } from "./local-server.js";
import { natsAnswers } from "./nats.js";
import { resolveService } from "./resolve.js";
import { servicesRequired } from "./service.js";
import { type ServiceGroup, serviceGroup, settleOrStop, startNodes } from "./service-group.js";
import { waitFor } from "./wait-for.js";

export interface StartNatsClusterOptions {
  /** Servers in the cluster; default 3, enough for streams with 3 replicas. */
  nodes?: number;
  /** Reject instead of resolving undefined; default under CI=true or REQUIRE_SERVICES=1. */
  required?: boolean;
}

/** NATS servers joined by routes into one JetStream cluster, all throwaway local servers. */
export interface NatsClusterService extends ServiceGroup {
  /** Every node's client URL: give them all to a client (nats.js `servers`) so it can fail over. */
  readonly urls: readonly string[];
}

interface NodePorts {
  client: number;
  route: number;
  monitor: number;
}

/** Whether the node's monitoring port shows every route up and a JetStream meta leader elected. */
async function nodeSettled(ports: NodePorts, routes: number): Promise<boolean> {
  const base = `http://127.0.0.1:${ports.monitor}`;
  const routez = (await getJson(`${base}/routez`)) as { num_routes?: number };
  const jsz = (await getJson(`${base}/jsz`)) as { meta_cluster?: { leader?: string } };
  return routez.num_routes === routes && Boolean(jsz.meta_cluster?.leader);
}

async function startCluster(binary: string, count: number): Promise<NatsClusterService> {
  const cluster = `cl-${randomBytes(4).toString("hex")}`;
  const free = await freePorts(count * 3);
  const ports: NodePorts[] = Array.from({ length: count }, (_, i) => ({
    client: free[i * 3] as number,
    route: free[i * 3 + 1] as number,
    monitor: free[i * 3 + 2] as number,
  }));
  const nodes = await startNodes(
    ports.map((own, index) => async () => {
      const dataDir = makeDataDir("nats-cluster");
      const config = join(dataDir, "nats.conf");
      const routes = ports.filter((other) => other !== own).map((other) => `nats-route://127.0.0.1:${other.route}`);
      writeFileSync(
        config,
        [
          `server_name: ${cluster}-n${index + 1}`,
          `listen: "127.0.0.1:${own.client}"`,
          `http: "127.0.0.1:${own.monitor}"`,
          `jetstream { store_dir: ${JSON.stringify(join(dataDir, "jetstream"))} }`,
          `cluster { name: ${cluster}, listen: "127.0.0.1:${own.route}", routes: ${JSON.stringify(routes)} }`,
          "",
        ].join("\n"),
      );
      return startLocalServer({
        kind: "nats",
        url: `nats://127.0.0.1:${own.client}`,
        dataDir,
        command: { command: binary, args: ["-c", config], ready: () => natsAnswers(own.client) },
      });
    }),
  );
  const settled = async () => {
    for (const own of ports) {
      await waitFor(`NATS node ${own.client} to join the cluster`, () => nodeSettled(own, count - 1), 60_000);
    }
  };
  await settleOrStop(nodes, settled);
  return { ...serviceGroup(nodes, settled), urls: nodes.map((node) => node.url) };
}

/**
 * A JetStream cluster from the local nats-server: `nodes` servers (default 3) on free ports,
 * joined by routes, resolved once every node sees all its routes and a JetStream meta leader.
 * Streams with 3 replicas live on all three; kill one node through `nodes` and they go on. No
 * environment URL or container: undefined (or a rejection when required) without the binary.
 */
export async function startNatsCluster(options: StartNatsClusterOptions = {}): Promise<NatsClusterService | undefined> {
  const binary = findBinary("nats-server");
  const count = options.nodes ?? 3;
  return resolveService({
    what: "a NATS cluster",
    hint: "install nats-server",
    throwaway: true,
    containerRuntime: async () => false,
    local: binary && localServersAllowed() ? () => startCluster(binary, count) : undefined,
    required: options.required ?? servicesRequired(),
  });
}
