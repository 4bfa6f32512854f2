import { RedisChannelLayer } from "@channel-layers/redis";
import { waitFor } from "@channel-layers/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headroom } from "../src/local-channels.js";
import { freshPrefix, useRedis } from "./redis-service.js";

// The per-channel capacity bookkeeping must not leak: every entry a send adds to a process key's
// held set is removed by the receive that takes the message, or by discardChannel; what the
// receiving instance reserved for its sends to itself stays bounded and goes with the channel.
const redis = await useRedis();

describe.runIf(redis.url)("held sets", () => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(redis.url as string);
  });
  afterAll(() => client.disconnect());

  async function pair() {
    const prefix = freshPrefix("held");
    const sender = new RedisChannelLayer({ hosts: [redis.url as string], prefix });
    const receiver = new RedisChannelLayer({ hosts: [redis.url as string], prefix });
    return { prefix, sender, receiver };
  }

  it("are empty again once every message has been received", async () => {
    const { prefix, sender, receiver } = await pair();
    try {
      const channels = await Promise.all(Array.from({ length: 5 }, () => receiver.newChannel()));
      for (const channel of channels) await sender.groupAdd("held-room", channel);
      for (let n = 0; n < 20; n++) {
        await sender.send(channels[n % 5] as string, { type: "direct", n });
        await sender.groupSend("held-room", { type: "group", n });
      }
      await receiver.send(channels[0] as string, { type: "self" });
      for (const [i, channel] of channels.entries()) {
        for (let n = 0; n < 24 + (i === 0 ? 1 : 0); n++)
          await receiver.receive(channel, { signal: AbortSignal.timeout(5000) });
      }
      const heldKey = `${prefix}${(channels[0] as string).split("!")[0]}!$held`;
      // Receipts go out on the next turn of the event loop. What stays is the receiving
      // instance's reservations, for its send to itself and for the group messages (which it
      // counts itself): a few entries a channel, released with the channel.
      const localParts = channels.map((channel) => channel.split("!")[1] as string);
      const onlyReservations = async () => {
        const left = await client.zrange(heldKey, "0", "-1");
        return localParts.every((local) => {
          const own = left.filter((entry) => entry.startsWith(`${local}|`));
          return own.every((entry) => entry.startsWith(`${local}|r`)) && own.length <= 2 * headroom(100);
        });
      };
      await waitFor("the receipts", onlyReservations, 5000);
      await receiver.discardChannel(channels[0] as string);
      const left = await client.zrange(heldKey, "0", "-1");
      expect(left.filter((entry) => entry.startsWith(`${localParts[0]}|`))).toEqual([]);
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
  });

  it("lose a discarded channel's entries, and only its", async () => {
    const { prefix, sender, receiver } = await pair();
    try {
      const [gone, kept] = [await receiver.newChannel(), await receiver.newChannel()];
      for (let n = 0; n < 3; n++) {
        await sender.send(gone, { type: "unread", n });
        await sender.send(kept, { type: "unread", n });
      }
      const heldKey = `${prefix}${gone.split("!")[0]}!$held`;
      expect(await client.zcard(heldKey)).toBe(6);
      await receiver.discardChannel(gone);
      const left = await client.zrange(heldKey, "0", "-1");
      expect(left).toHaveLength(3);
      expect(left.every((entry) => entry.startsWith(`${kept.split("!")[1]}|`))).toBe(true);
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
  });
});
