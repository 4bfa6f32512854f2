import type { Message } from "@channel-layers/core";
import { describe, expect, it } from "vitest";
import { JsonWebsocketConsumer, WebsocketConsumer, type WebsocketData } from "../src/index.js";
import { WebsocketCommunicator } from "../src/testing/index.js";
import { layersClosedAfterEach } from "./fixtures/layers.js";

const newLayer = layersClosedAfterEach();
const history = (maxLength = 100) => ({ groupHistory: [["chat_*", { maxLength }]] as const });

/** A chat room whose frames carry `group` and `offset`, so the client can resume. */
class RoomConsumer extends JsonWebsocketConsumer {
  static override groups = ["chat_room"];
  static override includePositions = true;

  override async receiveJson(content: unknown) {
    const { join, message } = content as { join?: string; message?: string };
    if (join !== undefined) await this.groupAdd(join);
    if (message !== undefined) await this.groupSend("chat_room", { type: "chat.message", message });
  }

  async chat_message(event: Message) {
    await this.sendJson({ type: "chat.message", message: event.message });
  }
}

/** Waits for the client's first frame as long as a test may take: the tests that check the hold use it. */
class PatientRoom extends RoomConsumer {
  static override resumeWaitMs = 60_000;
}

type Frame = { type: string; message?: string; group?: string; offset?: number };

function open(layer: ReturnType<typeof newLayer>, consumer: typeof WebsocketConsumer = RoomConsumer) {
  return new WebsocketCommunicator(consumer, "/ws/room/", { channelLayer: layer });
}

async function receiveFrames(client: WebsocketCommunicator, count: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) frames.push((await client.receiveJsonFrom(5000)) as Frame);
  return frames;
}

const resumeFrame = (offsets: Record<string, unknown>) => JSON.stringify({ type: "channel_layers.resume", offsets });

async function sendMessages(layer: ReturnType<typeof newLayer>, from: number, count: number): Promise<void> {
  for (let n = from; n < from + count; n++)
    await layer.groupSend("chat_room", { type: "chat.message", message: `m${n}` });
}

describe("resume after reconnect", () => {
  it("replays the 50 messages a client missed, in order and once each, then goes on live", async () => {
    const layer = newLayer(history());
    const first = open(layer);
    expect((await first.connect()).connected).toBe(true);
    await first.sendJsonTo({ message: "m0" });
    const [seen] = await receiveFrames(first, 1);
    expect(seen).toEqual({ type: "chat.message", message: "m0", group: "chat_room", offset: expect.anything() });
    await first.disconnect();

    await sendMessages(layer, 1, 50);
    const again = open(layer);
    expect((await again.connect()).connected).toBe(true);
    await again.sendTo(resumeFrame({ chat_room: seen?.offset }));
    const replayed = await receiveFrames(again, 50);
    expect(replayed.map((frame) => frame.message)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i + 1}`));
    expect(new Set(replayed.map((frame) => frame.offset)).size).toBe(50);
    expect(await again.receiveNothing(200)).toBe(true);
    await sendMessages(layer, 51, 1);
    expect(await again.receiveJsonFrom(5000)).toMatchObject({ message: "m51" });
    await again.disconnect();
  });

  it("holds live messages until the resume frame, then drops their replayed copies: no duplicates", async () => {
    const layer = newLayer(history());
    await sendMessages(layer, 0, 3);
    const { messages } = await layer.groupHistory("chat_room", { after: 0 });
    const client = open(layer, PatientRoom);
    expect((await client.connect()).connected).toBe(true);
    // Sent after the consumer joined, before the client's resume frame: live copies wait in the layer.
    await sendMessages(layer, 3, 5);
    expect(await client.receiveNothing(200), "held until the client's first frame").toBe(true);
    await client.sendTo(resumeFrame({ chat_room: messages[0]?.offset }));
    const frames = await receiveFrames(client, 7);
    expect(frames.map((frame) => frame.message)).toEqual(["m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
    expect(await client.receiveNothing(200), "the live copies of m3..m7 were dropped").toBe(true);
    await client.disconnect();
  });

  it("lets held messages through on the first frame that is not a resume frame, and after resumeWaitMs", async () => {
    const layer = newLayer(history());
    const talker = open(layer, PatientRoom);
    expect((await talker.connect()).connected).toBe(true);
    await sendMessages(layer, 0, 1);
    expect(await talker.receiveNothing(200)).toBe(true);
    await talker.sendJsonTo({ message: "hello" });
    expect((await receiveFrames(talker, 2)).map((frame) => frame.message)).toEqual(["m0", "hello"]);

    class QuickRoom extends RoomConsumer {
      static override resumeWaitMs = 50;
    }
    const silent = open(layer, QuickRoom);
    expect((await silent.connect()).connected).toBe(true);
    await sendMessages(layer, 1, 1);
    expect(await silent.receiveJsonFrom(5000)).toMatchObject({ message: "m1" });
    await Promise.all([talker.disconnect(), silent.disconnect()]);
  });

  it("tells the client about a gap before replaying what is kept, and lets the consumer hook it", async () => {
    const layer = newLayer(history(10));
    await sendMessages(layer, 0, 1);
    const { messages } = await layer.groupHistory("chat_room", { after: 0 });
    await sendMessages(layer, 1, 30);
    const client = open(layer);
    expect((await client.connect()).connected).toBe(true);
    await client.sendTo(resumeFrame({ chat_room: messages[0]?.offset }));
    expect(await client.receiveJsonFrom(5000)).toEqual({ type: "channel_layers.gap", group: "chat_room" });
    const kept = await receiveFrames(client, 10);
    expect(kept.map((frame) => frame.message)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i + 21}`));
    await client.disconnect();

    const gaps: string[] = [];
    class Hooked extends RoomConsumer {
      override async historyGap(group: string) {
        gaps.push(group);
        await this.sendJson({ type: "reload" });
      }
    }
    const hooked = open(layer, Hooked);
    expect((await hooked.connect()).connected).toBe(true);
    await hooked.sendTo(resumeFrame({ chat_room: messages[0]?.offset }));
    expect(await hooked.receiveJsonFrom(5000)).toEqual({ type: "reload" });
    expect(gaps).toEqual(["chat_room"]);
    await hooked.disconnect();
  });

  it("replays a group joined after the resume frame as it is joined", async () => {
    const layer = newLayer({ groupHistory: [["chat_*", { maxLength: 100 }]] });
    await layer.groupSend("chat_side", { type: "chat.message", message: "s0" });
    const { messages } = await layer.groupHistory("chat_side", { after: 0 });
    await layer.groupSend("chat_side", { type: "chat.message", message: "s1" });
    await layer.groupSend("chat_side", { type: "chat.message", message: "s2" });
    const client = open(layer);
    expect((await client.connect()).connected).toBe(true);
    await client.sendTo(resumeFrame({ chat_side: messages[0]?.offset, "bad group!": 1, chat_other: { no: 1 } }));
    await client.sendJsonTo({ join: "chat_side" });
    const frames = await receiveFrames(client, 2);
    expect(frames).toEqual([
      { type: "chat.message", message: "s1", group: "chat_side", offset: expect.anything() },
      { type: "chat.message", message: "s2", group: "chat_side", offset: expect.anything() },
    ]);
    await client.disconnect();
  });

  it("works for a plain WebsocketConsumer through position(), and never hands it the resume frame", async () => {
    const layer = newLayer(history());
    const received: WebsocketData[] = [];
    class Tutorial extends WebsocketConsumer {
      override async connect() {
        await this.groupAdd("chat_room");
        await this.accept();
      }
      override async receive(data: WebsocketData) {
        received.push(data);
      }
      async chat_message(event: Message) {
        await this.send(JSON.stringify({ message: event.message, ...this.position() }));
      }
    }
    await sendMessages(layer, 0, 2);
    const { messages } = await layer.groupHistory("chat_room", { after: 0 });
    const client = open(layer, Tutorial);
    expect((await client.connect()).connected).toBe(true);
    await client.sendTo(resumeFrame({ chat_room: messages[0]?.offset }));
    expect(await client.receiveJsonFrom(5000)).toEqual({
      message: "m1",
      group: "chat_room",
      offset: messages[1]?.offset,
    });
    expect(received).toEqual([]);
    await client.disconnect();
  });

  it("ignores a resume frame on a layer without history, and stamps nothing", async () => {
    const layer = newLayer();
    const client = open(layer);
    expect((await client.connect()).connected).toBe(true);
    await client.sendTo(resumeFrame({ chat_room: 3 }));
    await client.sendJsonTo({ message: "plain" });
    expect(await client.receiveJsonFrom(5000)).toEqual({ type: "chat.message", message: "plain" });
    await client.disconnect();
  });
});
