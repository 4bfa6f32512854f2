import { BackendUnavailable, ChannelLayerError, InvalidOptions } from "@channel-layers/core";
import { redactUrl } from "@channel-layers/core/backend";
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from "ioredis";

/** A Redis or Cluster client: everything the layer sends goes through one of these. */
export type RedisClient = Redis | Cluster;

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
 * on a command after a few attempts, so a send rejects with BACKEND_UNAVAILABLE in seconds
 * instead of waiting for ever. Your own ioredis options override any of these.
 */
const OWNED_CLIENT_DEFAULTS: RedisOptions = {
  maxRetriesPerRequest: 2,
  retryStrategy: (times) => Math.min(100 * 2 ** times, 1000),
  connectTimeout: 5000,
  lazyConnect: true,
};

/** How long opening the layer waits for a Redis that neither answers nor fails. */
const OPEN_TIMEOUT_MS = 10_000;

/** One Redis (a shard of the ring) or one Cluster, and the connections the layer makes to it. */
export class Shard {
  private readonly spares: RedisClient[] = [];
  private readonly made = new Set<RedisClient>();
  private corked = false;
  private opened = false;
  private readonly reconnectListeners: ((shard: Shard) => void)[] = [];
  /** The last error the connection reported (refused, TLS, auth...), for BACKEND_UNAVAILABLE messages. */
  private lastConnectionError: Error | undefined;

  constructor(
    readonly index: number,
    /** Commands that do not block go through this one connection (ordered, pipelined by ioredis). */
    readonly client: RedisClient,
    /** Whether this layer created `client` (and so closes it). */
    readonly owned: boolean,
    /** Where it is, as errors name it (passwords hidden). */
    readonly label: string,
  ) {
    client.on("error", this.rememberError);
    client.on("ready", this.onReady);
  }

  get isCluster(): boolean {
    return isCluster(this.client);
  }

  /** Calls `listener` each time the connection is ready again after a loss. */
  onReconnect(listener: (shard: Shard) => void): void {
    this.reconnectListeners.push(listener);
  }

  /**
   * Connects a client of ours, or waits until yours is ready; rejects on the connection's first
   * error or after OPEN_TIMEOUT_MS, leaving a client of ours disconnected for the next try.
   */
  async open(): Promise<void> {
    const client = this.client;
    if (client.status !== "ready") {
      try {
        await untilReady(client, this.owned || client.status === "wait");
      } catch (error) {
        this.reset();
        throw this.unavailable("connect", error);
      }
    }
    this.opened = true;
  }

  /** After a failed open: disconnects a client of ours, so nothing runs until the next try. */
  reset(): void {
    this.opened = false;
    if (this.owned) abandon(this.client, new BackendUnavailable("Opening the Redis channel layer failed"));
  }

  /** A failed command on this shard as the layer reports it, naming the connection's last error. */
  unavailable(operation: string, cause: unknown): ChannelLayerError {
    if (cause instanceof ChannelLayerError) return cause;
    return unavailable(`${operation} on ${this.label}`, cause, this.lastConnectionError);
  }

  /**
   * Gathers the commands sent on the command connection during this tick into one socket write
   * (cork now, uncork on the next tick): a burst of sends costs one system call, not one each.
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
   * A connection of its own for a blocking loop, waiting through outages rather than failing: a
   * blocked pop that a restart interrupts is sent again once Redis is back.
   */
  acquireBlocking(): RedisClient {
    const spare = this.spares.pop();
    if (spare) return spare;
    const client = isCluster(this.client)
      ? this.client.duplicate()
      : this.client.duplicate({
          maxRetriesPerRequest: null,
          enableOfflineQueue: true,
          lazyConnect: false,
        });
    client.on("error", ignore);
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
    abandon(client, new BackendUnavailable("The blocking connection was closed"));
  }

  /** Ends every connection this layer made; a client you passed in is left open. */
  async close(error: Error): Promise<void> {
    for (const client of this.made) abandon(client, error);
    this.made.clear();
    this.spares.length = 0;
    this.client.off("error", this.rememberError);
    this.client.off("ready", this.onReady);
    if (this.owned) await quitOrAbandon(this.client, error);
  }

  private readonly rememberError = (error: Error): void => {
    this.lastConnectionError = error;
  };

  private readonly onReady = (): void => {
    if (!this.opened) return;
    for (const listener of this.reconnectListeners) listener(this);
  };
}

export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

function ignore(): void {}

/** Resolves once `client` is ready; rejects on its first error, its end, or OPEN_TIMEOUT_MS. */
function untilReady(client: RedisClient, connect: boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: unknown) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      client.off("error", onError);
      client.off("end", onEnd);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onReady = () => settle();
    const onError = (error: Error) => settle(error);
    const onEnd = () => settle(new Error("The connection to Redis ended"));
    const timer = setTimeout(
      () => settle(new Error(`Redis did not answer within ${OPEN_TIMEOUT_MS / 1000} s`)),
      OPEN_TIMEOUT_MS,
    );
    client.on("ready", onReady);
    client.on("error", onError);
    client.on("end", onEnd);
    // "Connection is closed" tells less than the error event that comes with it: let that decide.
    if (connect && client.status !== "connecting" && client.status !== "connect") client.connect().catch(ignore);
  });
}

/**
 * Disconnects `client` and settles what it still holds. ioredis keeps commands queued while it
 * waits to reconnect, and a disconnect then leaves them pending for ever.
 */
function abandon(client: RedisClient, error: Error): void {
  client.disconnect();
  const queued = client as unknown as { flushQueue?: (error: Error) => void };
  if (client.status !== "end" && typeof queued.flushQueue === "function") queued.flushQueue(error);
}

/** Waits for pending replies when Redis answers, but never longer than a second. */
async function quitOrAbandon(client: RedisClient, error: Error): Promise<void> {
  if (client.status === "ready") {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.quit().catch(ignore),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000);
      }),
    ]);
    clearTimeout(timer);
  }
  abandon(client, error);
}

function isClient(host: unknown): host is RedisClient {
  return (
    typeof host === "object" &&
    host !== null &&
    typeof (host as { duplicate?: unknown }).duplicate === "function" &&
    typeof (host as { sendCommand?: unknown }).sendCommand === "function"
  );
}

/** A host entry as error messages show it: passwords hidden. */
function describeHost(host: unknown): string {
  try {
    return redactUrl(typeof host === "string" ? host : JSON.stringify(host));
  } catch {
    return String(host);
  }
}

/** Where a host entry points, for error messages: its URL without the password, or host:port. */
function labelOf(host: RedisHost): string {
  if (typeof host === "string") return redactUrl(host);
  if (isClient(host)) return "the Redis client you passed";
  if ("cluster" in host) return `the Redis Cluster at ${host.cluster.map((node) => describeHost(node)).join(", ")}`;
  if (host.sentinels)
    return `the master "${host.name ?? "mymaster"}" of Sentinels ${host.sentinels.map((node) => `${node.host}:${node.port}`).join(", ")}`;
  return `${host.tls ? "rediss" : "redis"}://${host.host ?? "localhost"}:${host.port ?? 6379}`;
}

/** Turns `hosts` into shards; the default is one Redis at redis://localhost:6379, as channels_redis. */
export function connectShards(hosts: readonly RedisHost[] | undefined): Shard[] {
  if (typeof hosts === "string") {
    throw new InvalidOptions('hosts must be a list of hosts, even if there is only one: hosts: ["redis://..."]');
  }
  const list = hosts === undefined || hosts.length === 0 ? ["redis://localhost:6379"] : hosts;
  if (!Array.isArray(list)) throw new InvalidOptions("hosts must be a list of URLs, ioredis options or clients");
  const shards = list.map((host, index) => {
    if (isClient(host)) return new Shard(index, host, false, labelOf(host));
    if (typeof host === "object" && host !== null && "cluster" in host) {
      const cluster = new Cluster([...host.cluster], {
        lazyConnect: true,
        ...host.clusterOptions,
        redisOptions: { ...OWNED_CLIENT_DEFAULTS, ...host.clusterOptions?.redisOptions },
      });
      cluster.on("error", ignore);
      return new Shard(index, cluster, true, labelOf(host));
    }
    let client: Redis;
    if (typeof host === "string") {
      if (!/^rediss?:\/\//.test(host)) {
        throw new InvalidOptions(`hosts entries must be redis:// or rediss:// URLs; got ${describeHost(host)}`);
      }
      client = new Redis(host, OWNED_CLIENT_DEFAULTS);
    } else if (typeof host === "object" && host !== null) {
      client = new Redis({ ...OWNED_CLIENT_DEFAULTS, ...host });
    } else {
      throw new InvalidOptions(`hosts entries must be URLs, ioredis options or clients; got ${describeHost(host)}`);
    }
    // ioredis reconnects by itself; failed commands reject and become BACKEND_UNAVAILABLE.
    client.on("error", ignore);
    return new Shard(index, client, true, labelOf(host));
  });
  if (shards.length > 1 && shards.some((shard) => shard.isCluster)) {
    throw new InvalidOptions(
      "A Redis Cluster client must be the only entry of hosts: the cluster does its own sharding",
    );
  }
  return shards;
}

/** A failed Redis command as the layer reports it, URLs in it redacted. */
export function unavailable(operation: string, cause: unknown, connectionError?: Error): BackendUnavailable {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const last =
    connectionError && connectionError.message !== reason ? `; last connection error: ${connectionError.message}` : "";
  return new BackendUnavailable(
    redactUrl(
      `Redis ${operation} failed (${reason}${last}): check its address, credentials and TLS settings; the layer reconnects by itself`,
    ),
    { cause },
  );
}
