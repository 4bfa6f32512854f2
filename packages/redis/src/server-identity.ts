import type { LayerDiagnostics } from "@channel-layers/core/backend";
import { isCluster, type RedisClient, type Shard } from "./shards.js";

/** The `run_id` line of `INFO server`: a new one for every start of a Redis process. */
function runIdOf(info: string): string | undefined {
  return /^run_id:(\w+)/m.exec(info)?.[1];
}

/** A Redis's run_id; a Cluster's masters' run_ids together (a failover changes one of them). */
async function identityOf(client: RedisClient): Promise<string | undefined> {
  if (!isCluster(client)) return runIdOf(await client.info("server"));
  const masters = client.nodes("master");
  const ids = await Promise.all(masters.map(async (node) => runIdOf(await node.info("server"))));
  return ids.every((id) => id !== undefined) ? ids.sort().join(",") : undefined;
}

/**
 * Tells when a shard's server is not the one the layer saw before: a Redis restarted (its memory
 * gone) or a failover to a replica, which may lack recent writes. Read after every reconnect and
 * on the layer's upkeep tick.
 */
export class ServerIdentity {
  private readonly seen = new Map<Shard, string>();

  constructor(private readonly diagnostics: LayerDiagnostics) {}

  /** Whether `shard`'s server changed since the last look (false the first time); remembers it. */
  async changed(shard: Shard): Promise<boolean> {
    let identity: string | undefined;
    try {
      identity = await identityOf(shard.client);
    } catch (error) {
      this.diagnostics.backgroundError(error, { where: "INFO server", shard: shard.index });
      return false;
    }
    if (identity === undefined) return false;
    const before = this.seen.get(shard);
    this.seen.set(shard, identity);
    return before !== undefined && before !== identity;
  }
}
