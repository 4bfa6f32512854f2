import type { Message } from "@channel-layers/core";
import { RedisChannelLayer, type RedisChannelLayerOptions, RedisPubSubChannelLayer } from "@channel-layers/redis";
import { servicesRequired, waitFor } from "@channel-layers/testing";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { ChannelsRedisPeer, channelsRedisMissing } from "./python-peer.js";
import { freshPrefix, useRedis } from "./redis-service.js";

// Wire compatibility with Django Channels: a channels_redis 4 layer in a Python process and a
// RedisChannelLayer here, on one Redis and prefix, are one layer, in both directions.
const redis = await useRedis();
const missing = channelsRedisMissing();
if (missing && servicesRequired()) throw new Error(`The interop tests need channels_redis: ${missing}`);

const MESSAGE = {
  type: "interop.message",
  text: "안녕하세요 🎉 naïve",
  n: 42,
  negative: -7,
  large: 2 ** 40,
  fraction: 0.25,
  flag: true,
  nothing: null,
  bytes: new Uint8Array([0, 1, 2, 254, 255]),
  nested: { list: [1, "two", [3], { four: 4 }] },
};

/** Bytes arrive as Buffer (a Uint8Array); compare them as plain Uint8Arrays. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)]));
  }
  return value;
}

describe.skipIf(missing !== undefined || !redis.url).each([
  { label: "plain", keys: [] as string[] },
  { label: "encrypted", keys: ["interop-secret", "an-older-secret"] },
])("interop with channels_redis 4 ($label)", ({ keys }) => {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((each) => each.close()));
  });

  function pair(options: RedisChannelLayerOptions = {}) {
    const prefix = freshPrefix("interop");
    const node = new RedisChannelLayer({
      ...options,
      hosts: [redis.url as string],
      prefix,
      symmetricEncryptionKeys: keys,
    });
    const python = new ChannelsRedisPeer(redis.url as string, prefix, keys);
    opened.push(node, python);
    return { node, python };
  }

  it("Node sends to a Python process-local channel", async () => {
    const { node, python } = pair();
    const channel = await python.newChannel();
    await node.send(channel, MESSAGE);
    expect(await python.receive(channel)).toEqual(MESSAGE);
  });

  it("Python sends to a Node process-local channel", async () => {
    const { node, python } = pair();
    const channel = await node.newChannel();
    await python.send(channel, MESSAGE);
    expect(plain(await node.receive(channel, { signal: AbortSignal.timeout(5000) }))).toEqual(MESSAGE);
  });

  it("shares named channels both ways", async () => {
    const { node, python } = pair();
    await node.send("interop-named", { type: "from.node" });
    expect(await python.receive("interop-named")).toEqual({ type: "from.node" });
    await python.send("interop-named", { type: "from.python" });
    expect(await node.receive("interop-named", { signal: AbortSignal.timeout(5000) })).toEqual({
      type: "from.python",
    });
  });

  it("delivers one groupSend from each side to members on both sides", async () => {
    const { node, python } = pair();
    const [nodeA, nodeB] = [await node.newChannel(), await node.newChannel()];
    const pythonChannel = await python.newChannel();
    await node.groupAdd("interop-room", nodeA);
    await python.groupAdd("interop-room", nodeB);
    await python.groupAdd("interop-room", pythonChannel);
    await node.groupAdd("interop-room", "interop-named-member");
    for (const [send, type] of [
      [(message: Message) => node.groupSend("interop-room", message), "from.node"],
      [(message: Message) => python.groupSend("interop-room", message), "from.python"],
    ] as const) {
      await send({ ...MESSAGE, type });
      const signal = AbortSignal.timeout(5000);
      expect(plain(await node.receive(nodeA, { signal }))).toEqual({ ...MESSAGE, type });
      expect(plain(await node.receive(nodeB, { signal }))).toEqual({ ...MESSAGE, type });
      expect(plain(await node.receive("interop-named-member", { signal }))).toEqual({ ...MESSAGE, type });
      expect(await python.receive(pythonChannel)).toEqual({ ...MESSAGE, type });
    }
  });

  it("delivers a history group's messages to a Python member as normal messages, with __group__ and __offset__", async () => {
    const { node, python } = pair({ groupHistory: { "interop-history": { maxLength: 10 } } });
    const [nodeChannel, pythonChannel] = [await node.newChannel(), await python.newChannel()];
    await python.groupAdd("interop-history", pythonChannel);
    await node.groupAdd("interop-history", nodeChannel);
    await node.groupSend("interop-history", MESSAGE);
    const atNode = await node.receive(nodeChannel, { signal: AbortSignal.timeout(5000) });
    expect(plain(atNode)).toEqual({ ...MESSAGE, __group__: "interop-history", __offset__: atNode.__offset__ });
    expect(await python.receive(pythonChannel)).toEqual({
      ...MESSAGE,
      __group__: "interop-history",
      __offset__: atNode.__offset__,
    });
    const history = await node.groupHistory("interop-history", { after: "0-1" });
    expect(history.messages.map((entry) => plain(entry.message))).toEqual([plain(atNode)]);
    // channels_redis knows nothing of histories: its group_send is delivered as it always was, and not kept.
    await python.groupSend("interop-history", { type: "from.python" });
    expect(await node.receive(nodeChannel, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "from.python" });
    expect(await python.receive(pythonChannel)).toEqual({ type: "from.python" });
    expect(await node.groupHistory("interop-history", { after: atNode.__offset__ as string })).toEqual({
      messages: [],
      complete: true,
    });
  });

  it("keeps capacity per channel for Node receivers, whoever sends", async () => {
    const { node, python } = pair();
    const sender = new RedisChannelLayer({
      hosts: [redis.url as string],
      prefix: node.prefix,
      capacity: 2,
      symmetricEncryptionKeys: keys,
    });
    opened.push(sender);
    const [busy, quiet] = [await node.newChannel(), await node.newChannel()];
    await sender.send(busy, { type: "one" });
    await sender.send(busy, { type: "two" });
    await expect(sender.send(busy, { type: "three" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
    await sender.send(quiet, { type: "quiet" });
    // channels_redis counts the whole process key, which the receive loop keeps drained.
    await python.send(quiet, { type: "from.python" });
    const signal = AbortSignal.timeout(5000);
    expect(await node.receive(quiet, { signal })).toEqual({ type: "quiet" });
    expect(await node.receive(quiet, { signal })).toEqual({ type: "from.python" });
    expect(await node.receive(busy, { signal })).toEqual({ type: "one" });
  });
});

describe.skipIf(missing !== undefined || !redis.url)("interop with channels_redis 4's pub/sub layer", () => {
  it("sends plain messages both ways", async () => {
    // channels_redis' pub/sub layer puts the prefix in channel names: no ":" in it, then.
    const prefix = freshPrefix("interop-pubsub").replace(":", ".");
    const node = new RedisPubSubChannelLayer({ hosts: [redis.url as string], prefix });
    const python = new ChannelsRedisPeer(redis.url as string, prefix, [], "pubsub");
    try {
      const pythonChannel = await python.newChannel();
      // channels_redis' new_channel() returns before Redis has the subscription; pub/sub keeps
      // nothing for a channel nobody is subscribed to yet.
      const admin = new Redis(redis.url as string);
      try {
        await waitFor("the Python subscription", async () => {
          const [, subscribers] = (await admin.pubsub("NUMSUB", pythonChannel)) as [string, number];
          return subscribers > 0;
        });
      } finally {
        admin.disconnect();
      }
      await node.send(pythonChannel, MESSAGE);
      expect(await python.receive(pythonChannel)).toEqual(MESSAGE);
      const nodeChannel = await node.newChannel();
      await python.send(nodeChannel, MESSAGE);
      expect(plain(await node.receive(nodeChannel, { signal: AbortSignal.timeout(5000) }))).toEqual(MESSAGE);
    } finally {
      await Promise.all([node.close(), python.close()]);
    }
  });
});
