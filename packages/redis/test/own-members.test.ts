import { RedisChannelLayer } from "@channel-layers/redis";
import { expect, it } from "vitest";
import { freshPrefix, useRedis } from "./redis-service.js";

// A groupSend hands the sender's own members their message itself, and the group-send script
// sends their list only when it changed (a digest stands for it otherwise): every change of the
// group, whoever makes it, must still show in the next groupSend.
const redis = await useRedis();

it.runIf(redis.url)(
  "a groupSend reaches the sender's own members as the group changes, whoever changes it",
  async () => {
    const prefix = freshPrefix("own-members");
    const [layer, other] = [
      new RedisChannelLayer({ hosts: [redis.url as string], prefix }),
      new RedisChannelLayer({ hosts: [redis.url as string], prefix }),
    ];
    const receive = (channel: string) => layer.receive(channel, { signal: AbortSignal.timeout(5000) });
    const nothing = (channel: string) =>
      layer.receive(channel, { signal: AbortSignal.timeout(300) }).then(
        (message) => message,
        () => undefined,
      );
    try {
      const [a, b, c] = [await layer.newChannel(), await layer.newChannel(), await layer.newChannel()];
      await layer.groupAdd("room", a);
      await layer.groupSend("room", { type: "one" });
      expect(await receive(a)).toEqual({ type: "one" });
      await layer.groupAdd("room", b);
      await layer.groupSend("room", { type: "two" });
      expect(await receive(a)).toEqual({ type: "two" });
      expect(await receive(b)).toEqual({ type: "two" });
      // Another instance adds this one's channel, and removes one this one added.
      await other.groupAdd("room", c);
      await other.groupDiscard("room", a);
      await layer.groupSend("room", { type: "three" });
      expect(await receive(b)).toEqual({ type: "three" });
      expect(await receive(c)).toEqual({ type: "three" });
      expect(await nothing(a)).toBeUndefined();
      await layer.groupSend("room", { type: "four" });
      expect(await receive(b)).toEqual({ type: "four" });
      expect(await receive(c)).toEqual({ type: "four" });
      await layer.discardChannel(b);
      await other.groupDiscard("room", c);
      await layer.groupSend("room", { type: "five" });
      expect(await nothing(c)).toBeUndefined();
    } finally {
      await layer.flush();
      await Promise.all([layer.close(), other.close()]);
    }
  },
);
