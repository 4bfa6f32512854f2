import { BackendUnavailable, InvalidOptions } from "@channel-layers/core";
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import type { RedisClient } from "./scripts.js";

/** A Redis Cluster the layer connects to (and closes) itself: its seed nodes and ioredis ClusterOptions. */
export interface RedisClusterHost {
  cluster: readonly ClusterNode[];
  clusterOptions?: ClusterOptions;
}

/**
 * One entry of `hosts`: a redis:// or rediss:// URL, ioredis options (Sentinel too), a Cluster's
 * seed nodes, or a Redis / Cluster client you own.
 */
export type RedisHost = string | RedisOptions | RedisClusterHost | RedisClient;

/**
 * How the clients this layer creates behave while Redis is away: reconnect quickly, and give up
 * on a command after a few attempts, so a send rejects with BACKEND_UNAVAILABLE in about a
 * second instead of waiting for ever. Your own ioredis options override any of these.
 */
const OWNED_CLIENT_DEFAULTS: RedisOptions = {
  maxRetriesPerRequest: 2,
  retryStrategy: (times) => Math.min(100 * 2 ** times, 1000),
  connectTimeout: 5000,
};

/** One Redis (a shard of the ring) or one Cluster, and the connections the layer makes to it. */
export class Shard {
  private readonly spares: RedisClient[] = [];
  private readonly made = new Set<RedisClient>();
  private corked = false;
  /** The last error the connection reported (refused, TLS, auth...), for BACKEND_UNAVAILABLE messages. */
  lastConnectionError: Error | undefined;

  constructor(
    readonly index: number,
    /** Commands that do not block go through this one connection (ordered, pipelined by ioredis). */
    readonly client: RedisClient,
    /** Whether this layer created `client` (and so closes it). */
    readonly owned: boolean,
  ) {
    client.on("error", this.rememberError);
  }

  private readonly rememberError = (error: Error): void => {
    this.lastConnectionError = error;
  };

  /** A failed command on this shard as the layer reports it, naming the connection's last error. */
  unavailable(operation: string, cause: unknown): BackendUnavailable {
    return unavailable(operation, cause, this.lastConnectionError);
  }

  get isCluster(): boolean {
    return isCluster(this.client);
  }

  /**
   * Gathers the commands sent on the command connection during this tick into one socket write
   * (cork now, uncork on the next tick): a burst of sends costs one system call, not one each,
   * and a lone command waits only until the current tick ends.
   */
  batchWrites(): void {
    if (this.corked || isCluster(this.client)) return;
    const client = this.client;
    const stream = client.stream;
    if (client.status !== "ready" || stream === undefined || stream.writableCorked > 0) return;
    stream.cork();
    this.corked = true;
    process.nextTick(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  /**
   * A connection of its own for a blocking loop, waiting through outages rather than failing:
   * a blocked BZMPOP that a restart interrupts is sent again once Redis is back.
   */
  acquireBlocking(): RedisClient {
    const spare = this.spares.pop();
    if (spare) return spare;
    const client = isCluster(this.client)
      ? this.client.duplicate()
      : this.client.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, lazyConnect: false });
    client.on("error", () => {
      // Reconnection is ioredis' job; the loop sees the outage as a command that waits.
    });
    this.made.add(client);
    return client;
  }

  /** Returns a blocking connection whose loop ended, keeping a few for the next loop. */
  releaseBlocking(client: RedisClient): void {
    if (this.spares.length < 4 && client.status === "ready") this.spares.push(client);
    else this.discard(client);
  }

  discard(client: RedisClient): void {
    this.made.delete(client);
    client.disconnect();
  }

  /** Ends every connection this layer made; a client you passed in is left open. */
  async close(): Promise<void> {
    for (const client of this.made) client.disconnect();
    this.made.clear();
    this.spares.length = 0;
    this.client.off("error", this.rememberError);
    if (this.owned) await quitOrDisconnect(this.client);
  }
}

export function isCluster(client: RedisClient): client is import("ioredis").Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

function isClient(host: unknown): host is RedisClient {
  return (
    typeof host === "object" &&
    host !== null &&
    typeof (host as { duplicate?: unknown }).duplicate === "function" &&
    typeof (host as { sendCommand?: unknown }).sendCommand === "function"
  );
}

/** Waits for pending replies when Redis answers, but never longer than a second. */
async function quitOrDisconnect(client: RedisClient): Promise<void> {
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.quit().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1000);
    }),
  ]);
  clearTimeout(timer);
  client.disconnect();
}

/** Turns `hosts` into shards; the default is one Redis at redis://localhost:6379, as channels_redis. */
export function connectShards(hosts: readonly RedisHost[] | undefined): Shard[] {
  if (typeof hosts === "string") {
    throw new InvalidOptions('hosts must be a list of hosts, even if there is only one: hosts: ["redis://..."]');
  }
  const list = hosts === undefined || hosts.length === 0 ? ["redis://localhost:6379"] : hosts;
  if (!Array.isArray(list)) throw new InvalidOptions("hosts must be a list of URLs, ioredis options or clients");
  const shards = list.map((host, index) => {
    if (isClient(host)) return new Shard(index, host, false);
    if (typeof host === "object" && host !== null && "cluster" in host) {
      const cluster = new Cluster([...host.cluster], {
        ...host.clusterOptions,
        redisOptions: { ...OWNED_CLIENT_DEFAULTS, ...host.clusterOptions?.redisOptions },
      });
      cluster.on("error", () => {
        // As for a single Redis: ioredis reconnects, failed commands become BACKEND_UNAVAILABLE.
      });
      return new Shard(index, cluster, true);
    }
    let client: Redis;
    if (typeof host === "string") {
      if (!/^rediss?:\/\//.test(host)) {
        throw new InvalidOptions(`hosts entries must be redis:// or rediss:// URLs; got ${JSON.stringify(host)}`);
      }
      client = new Redis(host, OWNED_CLIENT_DEFAULTS);
    } else if (typeof host === "object" && host !== null) {
      client = new Redis({ ...OWNED_CLIENT_DEFAULTS, ...host });
    } else {
      throw new InvalidOptions(`hosts entries must be URLs, ioredis options or clients; got ${String(host)}`);
    }
    client.on("error", () => {
      // ioredis reconnects by itself; failed commands reject and become BACKEND_UNAVAILABLE.
    });
    return new Shard(index, client, true);
  });
  if (shards.length > 1 && shards.some((shard) => shard.isCluster)) {
    throw new InvalidOptions(
      "A Redis Cluster client must be the only entry of hosts: the cluster does its own sharding",
    );
  }
  return shards;
}

/** A failed Redis command as the layer reports it. */
export function unavailable(operation: string, cause: unknown, connectionError?: Error): BackendUnavailable {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const last =
    connectionError && connectionError.message !== reason ? `; last connection error: ${connectionError.message}` : "";
  return new BackendUnavailable(
    `Redis ${operation} failed (${reason}${last}): check that Redis is reachable; the layer reconnects by itself`,
    { cause },
  );
}
