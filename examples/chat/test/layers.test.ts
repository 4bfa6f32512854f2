import { randomBytes } from "node:crypto";
import { hasHistory } from "@channel-layers/core";
import { closeChannelLayers } from "@channel-layers/runtime";
import { startService, type TestService } from "@channel-layers/testing";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { configureChatLayer, describeChatLayer } from "../src/layers.js";

// How the example sets up its layer: rooms keep history where the layer can, and chat on without
// it where it cannot (a backend that refused messages to history groups would stop every room).

let redis: TestService | undefined;
beforeAll(async () => {
  redis = await startService("redis");
}, 60_000);
afterEach(async () => {
  await closeChannelLayers();
});
afterAll(async () => {
  await redis?.stop();
});

it("keeps the rooms' history on a layer that has it", async () => {
  const chat = await configureChatLayer({ channelLayer: undefined, chatHistoryLength: 7 });
  expect(chat).toMatchObject({ presence: true, resume: true });
  if (!hasHistory(chat.layer)) throw new Error("the in-memory layer keeps history");
  expect(chat.layer.groupHistoryRule("chat_lobby")).toEqual({ maxLength: 7, maxAgeMs: 3_600_000 });
  expect(chat.layer.groupHistoryRule("online_lobby")).toBeUndefined();
  expect(describeChatLayer(chat)).toBe("Rooms show who is online, resume after reconnect");
});

it("keeps none with CHAT_HISTORY_LENGTH=0", async () => {
  const chat = await configureChatLayer({ channelLayer: "memory://", chatHistoryLength: 0 });
  expect(chat).toMatchObject({ presence: true, resume: false });
  await chat.layer.groupSend("chat_lobby", { type: "chat_message", message: "kept by nobody" });
});

it("goes without history and presence on a layer that lists neither, and its rooms still chat", async (test) => {
  if (redis === undefined) return test.skip("no redis server");
  const chat = await configureChatLayer({
    channelLayer: {
      backend: "redis-pubsub",
      url: redis.url,
      options: { prefix: `chat${randomBytes(6).toString("hex")}` },
    },
    chatHistoryLength: 100,
  });
  expect(chat.layer.constructor.name).toBe("RedisPubSubChannelLayer");
  expect(chat).toMatchObject({ presence: false, resume: false });
  expect(describeChatLayer(chat)).toBe(
    "Rooms show no list of who is online (RedisPubSubChannelLayer has no presence), no resume after reconnect (the rooms keep no history)",
  );
  const channel = await chat.layer.newChannel();
  await chat.layer.groupAdd("chat_lobby", channel);
  await chat.layer.groupSend("chat_lobby", { type: "chat_message", message: "hello" });
  expect(await chat.layer.receive(channel)).toMatchObject({ message: "hello" });
});
