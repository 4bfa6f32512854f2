import { getEventListeners } from "node:events";
import type { Message } from "@channel-layers/core";
import type { InMemoryChannelLayer } from "@channel-layers/memory";
import { describe, expect, it, vi } from "vitest";
import { AsyncConsumer, ConsumerError, handlerName, StopConsumer, WebsocketConsumer } from "../src/index.js";
import { WebsocketCommunicator } from "../src/testing/index.js";
import { layersClosedAfterEach } from "./fixtures/layers.js";
import { until } from "./fixtures/servers.js";

const newLayer = layersClosedAfterEach();

describe("handlerName", () => {
  it("maps dots to underscores as Channels does", () => {
    expect(handlerName("chat.message")).toBe("chat_message");
    expect(handlerName("websocket.connect")).toBe("websocket_connect");
    expect(handlerName("notify")).toBe("notify");
  });

  it("refuses a leading underscore and non-string types with INVALID_MESSAGE_TYPE", () => {
    for (const type of ["_private", ".hidden", "", 5, undefined]) {
      expect(() => handlerName(type)).toThrow(expect.objectContaining({ code: "INVALID_MESSAGE_TYPE" }));
    }
  });
});

/** Records what its handlers saw; the channel is where tests send it layer messages. */
class Recorder extends WebsocketConsumer {
  static seen: Message[] = [];
  async chat_message(message: Message) {
    Recorder.seen.push(message);
    await this.send(JSON.stringify({ message: message.text }));
  }
  async notify(message: Message) {
    await this.send(`notified ${String(message.data)}`);
  }
  override async receive(data: string | Uint8Array) {
    if (data === "channel?") await this.send(this.channelName);
    if (data === "stop") this.stop();
    if (data === "throw-stop") throw new StopConsumer();
  }
}

async function connected(layer: InMemoryChannelLayer, consumer = Recorder) {
  const communicator = new WebsocketCommunicator(consumer, "/ws/", { channelLayer: layer });
  expect(await communicator.connect()).toEqual({ connected: true, subprotocol: null });
  await communicator.sendTo("channel?");
  const channel = (await communicator.receiveFrom()) as string;
  return { communicator, channel };
}

describe("AsyncConsumer dispatch", () => {
  it("gets its own process-local channel and runs the handler a layer message's type names", async () => {
    const layer = newLayer();
    const { communicator, channel } = await connected(layer);
    expect(channel).toContain("!");
    await layer.send(channel, { type: "chat.message", text: "hi" });
    expect(await communicator.receiveFrom()).toBe('{"message":"hi"}');
    await layer.send(channel, { type: "notify", data: 3 });
    expect(await communicator.receiveFrom()).toBe("notified 3");
    await communicator.disconnect();
  });

  it("takes client frames and layer messages at once, handling one at a time in arrival order", async () => {
    const layer = newLayer();
    const { communicator, channel } = await connected(layer);
    for (let n = 0; n < 20; n++) {
      await layer.send(channel, { type: "chat.message", text: `layer ${n}` });
      await communicator.sendTo("channel?");
    }
    const frames = [];
    for (let n = 0; n < 40; n++) frames.push(await communicator.receiveFrom());
    expect(frames.filter((frame) => frame === channel)).toHaveLength(20);
    expect(frames.filter((frame) => frame !== channel)).toEqual(
      Array.from({ length: 20 }, (_, n) => JSON.stringify({ message: `layer ${n}` })),
    );
    await communicator.disconnect();
  });

  it("ends with a clear NO_HANDLER error for a type without a handler", async () => {
    const layer = newLayer();
    const { communicator, channel } = await connected(layer);
    await layer.send(channel, { type: "chat.unknown" });
    await expect(communicator.wait()).rejects.toMatchObject({
      code: "NO_HANDLER",
      message: expect.stringContaining("define chat_unknown(message) on Recorder"),
    });
    expect(layer.stats()).toMatchObject({ channels: 0, groups: 0, memberships: 0 });
  });

  it("refuses types that reach consumer API methods or underscored names", async () => {
    const layer = newLayer();
    for (const type of ["close", "send", "group.add", "constructor", "to.String", "_secret", "stop"]) {
      const { communicator, channel } = await connected(layer);
      await layer.send(channel, { type });
      const failure = await communicator.wait().catch((error: unknown) => error);
      expect(failure, type).toBeInstanceOf(ConsumerError);
      expect(["NO_HANDLER", "INVALID_MESSAGE_TYPE"], type).toContain((failure as ConsumerError).code);
    }
  });

  it("stops on stop() and on StopConsumer, discarding its channel and leaving its groups", async () => {
    const layer = newLayer();
    class Grouped extends Recorder {
      static override groups = ["everyone"];
      override async connect() {
        await this.groupAdd("joined-later");
        await this.accept();
      }
    }
    for (const command of ["stop", "throw-stop"]) {
      const { communicator } = await connected(layer, Grouped);
      expect(layer.stats()).toMatchObject({ channels: 1, groups: 2, memberships: 2 });
      await communicator.sendTo(command);
      await communicator.wait();
      expect(layer.stats()).toMatchObject({ channels: 0, groups: 0, memberships: 0 });
    }
  });

  it("aborts its signal when it ends, so timers a handler started do not outlive it", async () => {
    const layer = newLayer();
    let signal: AbortSignal | undefined;
    class Timed extends WebsocketConsumer {
      override async connect() {
        signal = this.signal;
        await this.accept();
      }
    }
    const communicator = new WebsocketCommunicator(Timed, "/", { channelLayer: layer });
    await communicator.connect();
    expect(signal?.aborted).toBe(false);
    await communicator.disconnect();
    expect(signal?.aborted).toBe(true);
  });

  it("waits on its channel without an abort listener per message, and that wait ends with the consumer", async () => {
    const layer = newLayer();
    let signal: AbortSignal | undefined;
    class Watched extends Recorder {
      override async connect() {
        signal = this.signal;
        await this.accept();
      }
    }
    const { communicator, channel } = await connected(layer, Watched);
    for (let n = 0; n < 3; n++) {
      await layer.send(channel, { type: "chat.message", text: `m${n}` });
      expect(await communicator.receiveFrom()).toBe(`{"message":"m${n}"}`);
    }
    // Node keeps every listener an AbortSignal has; one per receive was the largest cost of a delivery.
    expect(getEventListeners(signal as AbortSignal, "abort")).toHaveLength(0);
    // The consumer takes its next receive a few ticks after its handler's frame went out.
    await until(() => layer.stats().channels === 1, "the consumer to wait on its channel again");
    await communicator.sendTo("stop");
    await communicator.wait();
    // discardChannel rejected the receive still waiting: nothing is left waiting in the layer.
    expect(layer.stats()).toMatchObject({ channels: 0 });
  });

  it("does not handle a layer message that arrives after stop() while a handler still runs", async () => {
    const layer = newLayer();
    let release: (() => void) | undefined;
    const handled: string[] = [];
    class Slow extends Recorder {
      override async receive(data: string | Uint8Array) {
        if (data !== "slow-stop") return super.receive(data);
        this.stop();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      }
      override async chat_message(message: Message) {
        handled.push(String(message.text));
      }
    }
    const { communicator, channel } = await connected(layer, Slow);
    await communicator.sendTo("slow-stop");
    await vi.waitFor(() => expect(release).not.toBe(undefined), { timeout: 10_000 });
    await layer.send(channel, { type: "chat.message", text: "late" });
    release?.();
    await communicator.wait();
    expect(handled).toEqual([]);
    expect(layer.stats()).toMatchObject({ channels: 0 });
  });

  it("runs without a layer when its class says channelLayer = null, and groupAdd then says what is missing", async () => {
    class Lonely extends WebsocketConsumer {
      static override channelLayer = null;
      override async receive(data: string | Uint8Array) {
        if (data === "join") await this.groupAdd("room");
        await this.send(`channel "${this.channelName}"`);
      }
    }
    const communicator = new WebsocketCommunicator(Lonely, "/", { channelLayer: newLayer() });
    await communicator.connect();
    await communicator.sendTo("hello");
    expect(await communicator.receiveFrom()).toBe('channel ""');
    await communicator.sendTo("join");
    await expect(communicator.wait()).rejects.toMatchObject({ code: "NO_CHANNEL_LAYER" });
  });

  it("lets a plain AsyncConsumer be driven by raw events", async () => {
    const layer = newLayer();
    class Raw extends AsyncConsumer {
      async websocket_connect() {
        await this.sendEvent({ type: "websocket.accept" });
      }
      async websocket_receive(message: Message) {
        await this.sendEvent({ type: "websocket.send", text: String(message.text).toUpperCase() });
      }
      async websocket_disconnect() {
        throw new StopConsumer();
      }
    }
    const communicator = new WebsocketCommunicator(Raw, "/", { channelLayer: layer });
    expect((await communicator.connect()).connected).toBe(true);
    await communicator.sendTo("shout");
    expect(await communicator.receiveFrom()).toBe("SHOUT");
    await communicator.disconnect();
  });
});
