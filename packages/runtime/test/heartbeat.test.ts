import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { JsonWebsocketConsumer } from "../src/index.js";
import { HEARTBEAT_PING, HEARTBEAT_PONG, heartbeatReply } from "../src/server/heartbeat.js";
import { cleanupsAfterEach, serveForTest, until, wsUrl } from "./fixtures/servers.js";

describe("heartbeatReply", () => {
  it("answers the client's ping frame with the pong frame", () => {
    expect(heartbeatReply('{"type":"channel_layers.ping"}')).toBe('{"type":"channel_layers.pong"}');
    expect(heartbeatReply(HEARTBEAT_PING)).toBe(HEARTBEAT_PONG);
  });

  it("pings and pongs are JSON objects with a type, as every JSON consumer frame", () => {
    expect(JSON.parse(HEARTBEAT_PING)).toEqual({ type: "channel_layers.ping" });
    expect(JSON.parse(HEARTBEAT_PONG)).toEqual({ type: "channel_layers.pong" });
  });

  it("leaves every other frame to the application, including near misses", () => {
    for (const text of [
      "",
      "ping",
      '{"type":"chat.message","message":"hi"}',
      '{ "type": "channel_layers.ping" }',
      '{"type":"channel_layers.ping","extra":1}',
      '{"type":"channel_layers.pong"}',
      '{"type":"CHANNEL_LAYERS.PING"}',
      `${HEARTBEAT_PING}\n`,
    ]) {
      expect(heartbeatReply(text), text).toBeUndefined();
    }
  });
});

describe("the server answers heartbeats itself", () => {
  const cleanup = cleanupsAfterEach();

  it("a client's ping gets a pong, and the consumer only ever sees the client's other frames", async () => {
    const received: string[] = [];
    class Recorder extends JsonWebsocketConsumer {
      override async receiveJson(content: { type?: unknown }) {
        received.push(String(content.type));
        await this.sendJson({ type: "seen", what: content.type });
      }
    }
    const server = await serveForTest(Recorder, { channelLayer: null }, cleanup);
    const client = new WebSocket(wsUrl(server, "/"));
    cleanup(() => client.close());
    const frames: string[] = [];
    client.on("message", (data) => frames.push(String(data)));
    await once(client, "open");
    client.send(HEARTBEAT_PING);
    client.send(JSON.stringify({ type: "chat.message" }));
    await until(() => frames.length === 2, "the pong and the consumer's reply");
    expect(frames).toEqual([HEARTBEAT_PONG, JSON.stringify({ type: "seen", what: "chat.message" })]);
    expect(received).toEqual(["chat.message"]);
  });
});
