import { channelLayerConformance } from "@channel-layers/core/conformance";
import { RedisChannelLayer } from "@channel-layers/redis";
import type { TestService } from "@channel-layers/testing";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix } from "./redis-service.js";
import { portOf, startCluster, throwawayRedisMissing } from "./throwaway-servers.js";

// Redis Cluster (which channels_redis does not support): every key carries a hash tag so each
// script touches one slot, and the layer follows the cluster's slot map through ioredis.
const missing = throwawayRedisMissing();

describe.skipIf(missing !== undefined)("a 3-master Redis Cluster", () => {
  let nodes: TestService[] = [];
  const seeds = () => nodes.map((node) => ({ host: "127.0.0.1", port: portOf(node.url) }));
  beforeAll(async () => {
    nodes = await startCluster(3);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  });

  channelLayerConformance<RedisChannelLayer>({
    name: "RedisChannelLayer on Redis Cluster",
    crossInstance: true,
    factory: ({ sibling, ...options }) =>
      new RedisChannelLayer({
        ...options,
        hosts: [{ cluster: seeds() }],
        prefix: sibling?.prefix ?? freshPrefix("cluster"),
      }),
  });

  it("works on a Cluster client you own, and leaves it open", async () => {
    const client = new Cluster(seeds());
    const prefix = freshPrefix("cluster-owned");
    const [a, b] = [
      new RedisChannelLayer({ hosts: [client], prefix }),
      new RedisChannelLayer({ hosts: [client], prefix }),
    ];
    try {
      const channels = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).newChannel()));
      for (const [i, channel] of channels.entries()) await a.groupAdd(`cluster-room-${i % 5}`, channel);
      for (let g = 0; g < 5; g++) await b.groupSend(`cluster-room-${g}`, { type: "spread", g });
      for (const [i, channel] of channels.entries()) {
        const layer = i % 2 ? a : b;
        expect(await layer.receive(channel, { signal: AbortSignal.timeout(5000) })).toEqual({
          type: "spread",
          g: i % 5,
        });
      }
      // The five groups' slots (fixed by their names) are spread over more than one master.
      const holders = await Promise.all(
        client.nodes("master").map(async (node) => (await node.keys(`${prefix}:group:*`)).length),
      );
      expect(holders.reduce((sum, count) => sum + count, 0)).toBe(5);
      expect(holders.filter((count) => count > 0).length).toBeGreaterThan(1);
      await a.close();
      await b.close();
      expect(await client.ping()).toBe("PONG");
    } finally {
      await Promise.all([a.close(), b.close()]);
      client.disconnect();
    }
  });
});
