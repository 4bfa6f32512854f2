import { RedisChannelLayer, RedisPubSubChannelLayer } from "@channel-layers/redis";
import { startService, type TestService } from "@channel-layers/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../src/cluster-slot.js";
import { KeySpace } from "../src/key-space.js";

// The prefix is validated as the PostgreSQL and NATS layers validate theirs, and flush deletes only
// keys of the layer's own shapes. A throwaway Redis: with the default prefix "asgi", flush must not
// be run on a server other tests share.

describe("the prefix", () => {
  it("is refused when it could reach other keys", () => {
    const refused: unknown[] = ["", "a b", "x*", "{tag}", "a?b", "é", "x".repeat(65), 42];
    for (const prefix of refused) {
      for (const Layer of [RedisChannelLayer, RedisPubSubChannelLayer]) {
        expect(() => new Layer({ prefix: prefix as string, hosts: ["redis://127.0.0.1:1"] }), String(prefix)).toThrow(
          expect.objectContaining({ code: "INVALID_OPTIONS" }),
        );
      }
    }
  });

  it("is taken with letters, digits, hyphens, underscores, periods and colons", async () => {
    for (const prefix of ["asgi", "my-app:", "a.b_c:d", "x".repeat(64)]) {
      const layer = new RedisChannelLayer({ prefix, hosts: ["redis://127.0.0.1:1"] });
      expect(layer.prefix).toBe(prefix);
      await layer.close();
    }
  });
});

describe("on Cluster, flush", () => {
  it("recognises the layer's hash-tagged keys and nothing else", () => {
    const keys = new KeySpace("asgi", true);
    const channel = "specific.0123456789abcdef!00ff";
    const processKey = keys.channelKey(channel);
    const ours = [keys.channelKey("jobs"), processKey, `${processKey}$held`, keys.receiverKey(processKey)];
    ours.push(keys.groupKey("room"), keys.wakeKey("0123456789abcdef"));
    ours.push(keys.historyKey("room"), keys.presenceKey("room"), keys.presenceDeadlinesKey);
    for (const key of ours) expect(keys.isClusterKey(key), key).toBe(true);
    for (const key of ["asgi2:{x}", "asgi:other", "asgi{a b}", "asgi:group:room", "asgi{x}y", "other{jobs}"]) {
      expect(keys.isClusterKey(key), key).toBe(false);
    }
  });
});

describe("on Cluster, the keys of one script", () => {
  it("share a slot: a group's history its group's, and every presence key one slot", () => {
    const keys = new KeySpace("asgi:", true);
    for (const group of ["room", "lobby", "a.b-c_d"]) {
      expect(keySlot(keys.historyKey(group)), group).toBe(keySlot(keys.groupKey(group)));
      expect(keySlot(keys.presenceKey(group)), group).toBe(keySlot(keys.presenceDeadlinesKey));
    }
  });
});

describe("flush", () => {
  let redis: TestService | undefined;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startService("redis", { throwaway: true });
    if (redis) admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  it("deletes the layer's keys and only those", async ({ skip }) => {
    if (!redis) skip();
    const url = (redis as TestService).url;
    const others = ["asgi2:other", "asgi:other", "asgi:group:", "asgi", "asgix:group:room", "unrelated"];
    others.push("asgi:history:", "asgi:presence:a b", "asgi:presence:$other");
    for (const key of others) await admin.set(key, "not the layer's");
    const options = { hosts: [url], groupHistory: { room: { maxLength: 5 } } };
    const [layer, peer] = [new RedisChannelLayer(options), new RedisChannelLayer(options)];
    try {
      const channel = await layer.newChannel();
      await peer.send(channel, { type: "waiting" });
      await peer.send("jobs", { type: "waiting" });
      await peer.groupAdd("room", channel);
      await peer.groupSend("room", { type: "kept" });
      await peer.presenceTrack("room", channel, "alice");
      await admin.zadd("asgijobs$inflight", 1, "a channels_redis backup");
      const processKey = `asgi${channel.slice(0, channel.indexOf("!") + 1)}`;
      const layerKeys = ["asgijobs", "asgijobs$inflight", "asgi:group:room", `${processKey}$held`];
      layerKeys.push("asgi:history:room", "asgi:presence:room", "asgi:presence:$deadlines");
      for (const key of layerKeys) expect(await admin.exists(key), key).toBe(1);

      await layer.flush();

      for (const key of layerKeys) expect(await admin.exists(key), `${key} after flush`).toBe(0);
      for (const key of others) expect(await admin.get(key), `${key} after flush`).toBe("not the layer's");
    } finally {
      await Promise.all([layer.close(), peer.close()]);
    }
  });
});
