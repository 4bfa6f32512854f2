import { describe, expect, it } from "vitest";
import { HEARTBEAT_PING, HEARTBEAT_PONG, heartbeatReply } from "../src/server/heartbeat.js";

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
