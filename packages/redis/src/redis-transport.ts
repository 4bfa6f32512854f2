import { nonLocalName } from "@channel-layers/core/backend";
import { consistentHash } from "./hash-ring.js";
import { KeySpace } from "./key-space.js";
import type { LuaScript } from "./lua-script.js";
import { DELETE_LAYER_KEYS } from "./scripts.js";
import { connectShards, isCluster, type RedisHost, type Shard } from "./shards.js";

export type ScriptArgument = string | Buffer | number;

/**
 * The layer's Redis: its shards, its key names, which shard holds what (channels_redis' choice),
 * and commands whose failures come back as BACKEND_UNAVAILABLE. Every helper gets this one object.
 */
export class RedisTransport {
  readonly shards: readonly Shard[];
  readonly keys: KeySpace;
  /** One Redis without Cluster: a script may derive any key itself. */
  readonly single: boolean;

  constructor(hosts: readonly RedisHost[] | undefined, prefix: string) {
    this.shards = connectShards(hosts);
    const cluster = this.shards[0]?.isCluster ?? false;
    this.keys = new KeySpace(prefix, cluster);
    this.single = this.shards.length === 1 && !cluster;
  }

  /** Connects every shard; a failure leaves the connections of ours closed for the next try. */
  async open(): Promise<void> {
    const results = await Promise.allSettled(this.shards.map((shard) => shard.open()));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
    if (failed) {
      for (const shard of this.shards) shard.reset();
      throw failed.reason;
    }
  }

  /** Calls `listener` each time a shard's connection is ready again after a loss. */
  onReconnect(listener: (shard: Shard) => void): void {
    for (const shard of this.shards) shard.onReconnect(listener);
  }

  /** channels_redis' shard of a process-local channel: by its non-local part, as its receiver reads. */
  shardOfLocal(channel: string): Shard {
    return this.shardOfName(nonLocalName(channel));
  }

  shardOfGroup(group: string): Shard {
    return this.shardOfName(group);
  }

  /**
   * A named channel's shard. channels_redis sends named channels round the ring and receives from
   * every host; we send each to the one host CRC32 picks, so its order and capacity hold as on one
   * Redis, and receive from every host, so what channels_redis spreads round the ring arrives too.
   */
  shardOfNamed(channel: string): Shard {
    return this.shardOfName(channel);
  }

  /** Runs `script` on `shard`; a failure rejects with BACKEND_UNAVAILABLE naming `operation`. */
  run(
    shard: Shard,
    script: LuaScript,
    keys: readonly string[],
    args: readonly ScriptArgument[],
    operation: string,
  ): Promise<unknown> {
    return script.run(shard.client, keys, args).catch((error: unknown) => {
      throw shard.unavailable(operation, error);
    });
  }

  /** Awaits a command sent on `shard`; a failure rejects with BACKEND_UNAVAILABLE naming `operation`. */
  async command<T>(shard: Shard, operation: string, sent: Promise<T>): Promise<T> {
    try {
      return await sent;
    } catch (error) {
      throw shard.unavailable(operation, error);
    }
  }

  /** Deletes every key of this layer's shapes under the prefix, on every shard (flush). */
  async deleteLayerKeys(): Promise<void> {
    const keys = this.keys;
    await Promise.all(
      this.shards.map(async (shard) => {
        const client = shard.client;
        if (!isCluster(client)) {
          await this.run(shard, DELETE_LAYER_KEYS, [], [keys.pattern, keys.prefix], "flush");
          return;
        }
        const scans = client.nodes("master").map(async (node) => {
          let cursor = "0";
          do {
            const [next, found] = await node.scan(cursor, "MATCH", keys.pattern, "COUNT", 1000);
            cursor = next;
            await Promise.all(found.filter((key) => keys.isClusterKey(key)).map((key) => client.del(key)));
          } while (cursor !== "0");
        });
        await this.command(shard, "flush", Promise.all(scans));
      }),
    );
  }

  close(error: Error): Promise<unknown> {
    return Promise.all(this.shards.map((shard) => shard.close(error)));
  }

  private shardOfName(name: string): Shard {
    const shards = this.shards;
    return (shards.length === 1 ? shards[0] : shards[consistentHash(name, shards.length)]) as Shard;
  }
}
