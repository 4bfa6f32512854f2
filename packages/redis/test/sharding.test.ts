import { execFileSync } from "node:child_process";
import { channelLayerConformance } from "@channel-layers/core/conformance";
import { RedisChannelLayer } from "@channel-layers/redis";
import type { TestService } from "@channel-layers/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consistentHash } from "../src/hash-ring.js";
import { ChannelsRedisPeer, channelsRedisMissing, PYTHON } from "./python-peer.js";
import { freshPrefix } from "./redis-service.js";
import { startRing, throwawayRedisMissing } from "./throwaway-servers.js";

// channels_redis' sharding: several Redis servers form a ring; process keys and groups live on
// the host CRC32(name) & 0xFFF picks, named channels go round the ring.
const missing = throwawayRedisMissing();

describe.skipIf(missing !== undefined)("a ring of 3 Redis servers", () => {
  let ring: TestService[] = [];
  const urls = () => ring.map((server) => server.url);
  beforeAll(async () => {
    ring = await startRing(3);
  });
  afterAll(async () => {
    await Promise.all(ring.map((server) => server.stop()));
  });

  channelLayerConformance<RedisChannelLayer>({
    name: "RedisChannelLayer on a 3-host ring",
    crossInstance: true,
    factory: ({ sibling, ...options }) =>
      new RedisChannelLayer({ ...options, hosts: urls(), prefix: sibling?.prefix ?? freshPrefix("ring") }),
  });

  it.skipIf(channelsRedisMissing() !== undefined)("picks each name's host exactly as channels_redis does", () => {
    const names = Array.from({ length: 300 }, (_, i) => `specific.${(i * 7919).toString(16)}!`).concat(
      ["chat", "room-1", "안녕", "asgi:group:x", ""].map(String),
    );
    for (const size of [2, 3, 5]) {
      const python = execFileSync(PYTHON, [
        "-c",
        "import json,sys; from channels_redis.utils import _consistent_hash as h; " +
          "print(json.dumps([h(n, int(sys.argv[1])) for n in json.loads(sys.argv[2])]))",
        String(size),
        JSON.stringify(names),
      ]);
      expect(names.map((name) => consistentHash(name, size))).toEqual(JSON.parse(python.toString()));
    }
  });

  it("keeps groups and process keys on the hosts channels_redis reads them from", async () => {
    const prefix = freshPrefix("ring-keys");
    const [sender, receiver] = [
      new RedisChannelLayer({ hosts: urls(), prefix }),
      new RedisChannelLayer({ hosts: urls(), prefix }),
    ];
    const clients = urls().map((url) => new Redis(url));
    try {
      const channel = await receiver.newChannel();
      const processKey = prefix + channel.slice(0, channel.indexOf("!") + 1);
      const groups = Array.from({ length: 12 }, (_, i) => `ring-group-${i}`);
      for (const group of groups) await sender.groupAdd(group, channel);
      for (const group of groups) {
        const home = consistentHash(group, 3);
        for (const [index, client] of clients.entries()) {
          expect(await client.zscore(`${prefix}:group:${group}`, channel)).toSatisfy((score) =>
            index === home ? score !== null : score === null,
          );
        }
      }
      const home = clients[consistentHash(processKey.slice(prefix.length), 3)] as Redis;
      expect(await home.exists(`${processKey}$receiver`)).toBe(1);
      for (const group of groups) await sender.groupSend(group, { type: "ring", group });
      for (const group of groups) {
        expect(await receiver.receive(channel, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "ring", group });
      }
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
      for (const client of clients) client.disconnect();
    }
  });

  it("keeps each group's history and presence on the group's host", async () => {
    const prefix = freshPrefix("ring-history");
    const options = { hosts: urls(), prefix, groupHistory: { "ring-*": { maxLength: 5 } } };
    const [sender, receiver] = [new RedisChannelLayer(options), new RedisChannelLayer(options)];
    const clients = urls().map((url) => new Redis(url));
    try {
      const channel = await receiver.newChannel();
      const groups = Array.from({ length: 12 }, (_, i) => `ring-${i}`);
      for (const group of groups) {
        await receiver.groupAdd(group, channel);
        await receiver.presenceTrack(group, channel, "alice");
        await sender.groupSend(group, { type: "kept", group });
      }
      for (const group of groups) {
        const home = consistentHash(group, 3);
        for (const [index, client] of clients.entries()) {
          const held = [
            await client.exists(`${prefix}:history:${group}`),
            await client.exists(`${prefix}:presence:${group}`),
            await client.zscore(
              `${prefix}:presence:$deadlines`,
              `${group} ${(await receiver.presenceList(group)).alice?.metas[0]?.ref}`,
            ),
          ];
          expect(held, `${group} on host ${index} (its home is ${home})`).toEqual(
            index === home ? [1, 1, expect.any(String)] : [0, 0, null],
          );
        }
        expect((await sender.groupHistory(group, { after: "0-1" })).messages).toHaveLength(1);
      }
    } finally {
      await sender.flush();
      await Promise.all([sender.close(), receiver.close()]);
      for (const client of clients) client.disconnect();
    }
  });

  it.skipIf(channelsRedisMissing() !== undefined)("is one layer with channels_redis on the same ring", async () => {
    const prefix = freshPrefix("ring-interop");
    const node = new RedisChannelLayer({ hosts: urls(), prefix });
    const peer = new ChannelsRedisPeer(JSON.stringify(urls()), prefix);
    try {
      const pythonChannel = await peer.newChannel();
      const nodeChannel = await node.newChannel();
      await node.send(pythonChannel, { type: "node.to.python" });
      expect(await peer.receive(pythonChannel)).toEqual({ type: "node.to.python" });
      await peer.groupAdd("ring-room", nodeChannel);
      await peer.groupAdd("ring-room", pythonChannel);
      await peer.groupSend("ring-room", { type: "from.python" });
      expect(await node.receive(nodeChannel, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "from.python" });
      expect(await peer.receive(pythonChannel)).toEqual({ type: "from.python" });
      await node.groupSend("ring-room", { type: "from.node" });
      expect(await node.receive(nodeChannel, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "from.node" });
      expect(await peer.receive(pythonChannel)).toEqual({ type: "from.node" });
    } finally {
      await Promise.all([node.close(), peer.close()]);
    }
  });
});
