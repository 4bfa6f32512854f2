import { randomBytes } from "node:crypto";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { RedisChannelLayer, RedisPubSubChannelLayer } from "@channel-layers/redis";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix, useRedis } from "./redis-service.js";

// A peer's bytes that are not a valid message (no `type`, a msgpack extension type) are dropped,
// counted and published, and the consumer lives on: the next good message still arrives.
const redis = await useRedis();

/** A msgpack fixstr. */
function str(text: string): Buffer {
  const bytes = Buffer.from(text);
  return Buffer.concat([Buffer.from([0xa0 | bytes.length]), bytes]);
}

/** A msgpack fixmap of already encoded keys and values. */
function map(entries: [string, Buffer][]): Buffer {
  return Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries.flatMap(([key, value]) => [str(key), value])]);
}

/** msgpack's timestamp extension (type -1, 4 bytes): a Date to msgpackr, refused by the layers. */
const TIMESTAMP = Buffer.from([0xd6, 0xff, 0x65, 0x00, 0x00, 0x00]);

/** The two bad payloads, each optionally addressed to `channel` as channels_redis addresses members. */
function badPayloads(channel?: string): Buffer[] {
  const address: [string, Buffer][] = channel === undefined ? [] : [["__asgi_channel__", str(channel)]];
  return [map([["n", Buffer.from([0x01])], ...address]), map([["type", str("x")], ["at", TIMESTAMP], ...address])];
}

const member = (payload: Buffer) => Buffer.concat([randomBytes(12), payload]);
/** A second ago: the bad members sort before the good one sent after them. */
const score = () => ((Date.now() - 1000) / 1000).toFixed(6);

describe.runIf(redis.url)("undecodable messages from peers", () => {
  let raw: Redis;
  beforeAll(() => {
    raw = new Redis(redis.url as string);
  });
  afterAll(() => raw.disconnect());

  it("are dropped and counted by RedisChannelLayer, on process-local and named channels", async () => {
    const prefix = freshPrefix("decoding");
    const [layer, peer] = [
      new RedisChannelLayer({ hosts: [redis.url as string], prefix }),
      new RedisChannelLayer({ hosts: [redis.url as string], prefix }),
    ];
    const events: unknown[] = [];
    const onEvent = (event: unknown) => events.push(event);
    subscribe("channel-layers:redis", onEvent);
    try {
      const channel = await layer.newChannel();
      const processKey = prefix + channel.slice(0, channel.indexOf("!") + 1);
      for (const payload of badPayloads(channel)) await raw.zadd(processKey, score(), member(payload));
      await peer.send(channel, { type: "good.local" });
      expect(await layer.receive(channel, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "good.local" });

      for (const payload of badPayloads()) await raw.zadd(`${prefix}decoding-named`, score(), member(payload));
      await peer.send("decoding-named", { type: "good.named" });
      expect(await layer.receive("decoding-named", { signal: AbortSignal.timeout(5000) })).toEqual({
        type: "good.named",
      });
      expect(layer.stats().droppedUndecodable).toBe(4);
      expect(events).toContainEqual(expect.objectContaining({ event: "dropped", reason: "undecodable" }));
    } finally {
      unsubscribe("channel-layers:redis", onEvent);
      await layer.flush();
      await Promise.all([layer.close(), peer.close()]);
    }
  });

  it("are dropped and counted by RedisPubSubChannelLayer", async () => {
    const prefix = freshPrefix("decoding-pubsub");
    const layer = new RedisPubSubChannelLayer({ hosts: [redis.url as string], prefix });
    try {
      const channel = await layer.newChannel();
      for (const payload of badPayloads()) await raw.publish(channel, payload);
      // `__asgi_channel__` never travels over pub/sub: a message holding it is refused too.
      await raw.publish(
        channel,
        map([
          ["type", str("x")],
          ["__asgi_channel__", str(channel)],
        ]),
      );
      await layer.send(channel, { type: "good" });
      expect(await layer.receive(channel, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "good" });
      expect(layer.stats().droppedUndecodable).toBe(3);
    } finally {
      await layer.close();
    }
  });
});
