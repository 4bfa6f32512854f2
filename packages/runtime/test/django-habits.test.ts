import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonWebsocketConsumer, WebsocketConsumer, type WebsocketData } from "../src/index.js";
import { WebsocketCommunicator } from "../src/testing/index.js";
import { layersClosedAfterEach } from "./fixtures/layers.js";
import { until } from "./fixtures/servers.js";

const newLayer = layersClosedAfterEach();

describe("an instance field groups = [...]", () => {
  it("joins and leaves its groups like a static one", async () => {
    class Lobby extends JsonWebsocketConsumer {
      groups = ["lobby", "everyone"];
      async chat_message(message: { text?: unknown }) {
        await this.sendJson({ text: message.text });
      }
    }
    const layer = newLayer();
    const communicator = new WebsocketCommunicator(Lobby, "/ws/", { channelLayer: layer });
    expect((await communicator.connect()).connected).toBe(true);
    expect(layer.stats().memberships).toBe(2);
    await layer.groupSend("lobby", { type: "chat.message", text: "hello" });
    expect(await communicator.receiveJsonFrom()).toEqual({ text: "hello" });
    await communicator.disconnect();
    expect(layer.stats()).toMatchObject({ channels: 0, groups: 0, memberships: 0 });
  });
});

describe("Django-named methods this runtime never calls", () => {
  const warnings: Error[] = [];
  const record = (warning: Error) => warnings.push(warning);
  beforeEach(() => {
    warnings.length = 0;
    process.on("warning", record);
  });
  afterEach(() => {
    process.off("warning", record);
  });
  const ours = () => warnings.filter((warning) => (warning as { code?: string }).code === "CHANNEL_LAYERS_DJANGO_NAME");

  async function connectTwice(consumer: typeof WebsocketConsumer): Promise<void> {
    for (let n = 0; n < 2; n++) {
      const communicator = new WebsocketCommunicator(consumer, "/ws/", { channelLayer: null });
      await communicator.connect();
      await communicator.disconnect();
    }
  }

  it("warns once per class, naming the method to define instead", async () => {
    class Chat extends JsonWebsocketConsumer {
      async receive_json(_content: unknown) {}
    }
    await connectTwice(Chat);
    await until(() => ours().length > 0, "the warning");
    expect(ours().map((warning) => warning.message)).toEqual([
      "Chat defines receive_json(), which Channels calls but this runtime never does: define receiveJson(content) instead",
    ]);
  });

  it("knows websocket_receive_json, decode_json and encode_json too", async () => {
    class Codec extends JsonWebsocketConsumer {
      async websocket_receive_json(_content: unknown) {}
      decode_json(text: string) {
        return text;
      }
      encode_json(content: unknown) {
        return String(content);
      }
    }
    await connectTwice(Codec);
    await until(() => ours().length === 3, "three warnings");
    const messages = ours().map((warning) => warning.message);
    expect(
      messages.some((message) => message.includes("websocket_receive_json") && message.includes("receiveJson")),
    ).toBe(true);
    expect(messages.some((message) => message.includes("decode_json") && message.includes("static decodeJson"))).toBe(
      true,
    );
    expect(messages.some((message) => message.includes("encode_json") && message.includes("static encodeJson"))).toBe(
      true,
    );
  });

  it("tells a plain WebsocketConsumer with receiveJson to extend JsonWebsocketConsumer", async () => {
    class Plain extends WebsocketConsumer {
      async receiveJson(_content: unknown) {}
    }
    await connectTwice(Plain);
    await until(() => ours().length === 1, "the warning");
    expect(ours()[0]?.message).toContain("extend JsonWebsocketConsumer");
  });

  it("points out receive(text_data, bytes_data): here one argument carries either", async () => {
    class TwoArguments extends WebsocketConsumer {
      // TypeScript lets an extra optional parameter through; plain JavaScript anything.
      override async receive(text_data?: WebsocketData, _bytes_data?: Uint8Array) {
        await this.send(text_data ?? "");
      }
    }
    await connectTwice(TwoArguments);
    await until(() => ours().length === 1, "the warning");
    expect(ours()[0]?.message).toContain("receive(data) gets one");
  });

  it("says nothing about a consumer written with this runtime's names", async () => {
    class Fine extends JsonWebsocketConsumer {
      override async receiveJson(content: unknown) {
        await this.sendJson(content);
      }
    }
    const communicator = new WebsocketCommunicator(Fine, "/ws/", { channelLayer: null });
    await communicator.connect();
    await communicator.sendJsonTo({ ok: true });
    expect(await communicator.receiveJsonFrom()).toEqual({ ok: true });
    await communicator.disconnect();
    // A warning is emitted on the next tick: one more round trip has passed since connect.
    expect(ours()).toEqual([]);
  });
});
