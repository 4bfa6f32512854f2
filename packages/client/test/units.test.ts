import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ChannelLayersClient, ClientError, type ClientOptions, reconnectDelay } from "../src/index.js";
import { utf8ByteLength } from "../src/send-queue.js";

const schedule = { reconnectDelayMs: 100, maxReconnectDelayMs: 1_000, reconnectFactor: 2, reconnectJitter: 0 };

describe("reconnectDelay", () => {
  it("grows by the factor per attempt up to the maximum", () => {
    const delays = [1, 2, 3, 4, 5, 6, 100, 5_000].map((attempt) => reconnectDelay(attempt, schedule));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000]);
  });

  it("takes a random share of up to `jitter` off each delay", () => {
    const half = { ...schedule, reconnectJitter: 0.5 };
    expect(reconnectDelay(3, half, () => 0)).toBe(400);
    expect(reconnectDelay(3, half, () => 0.5)).toBe(300);
    expect(reconnectDelay(3, half, () => 0.999)).toBe(200);
    const full = { ...schedule, reconnectJitter: 1 };
    expect(reconnectDelay(3, full, () => 0.999)).toBe(0);
    for (let n = 0; n < 200; n++) {
      const delay = reconnectDelay(4, half);
      expect(delay).toBeGreaterThanOrEqual(400);
      expect(delay).toBeLessThanOrEqual(800);
    }
  });

  it("stays zero with a zero first delay, however many attempts", () => {
    expect(reconnectDelay(10_000, { ...schedule, reconnectDelayMs: 0 })).toBe(0);
  });
});

describe("utf8ByteLength", () => {
  it("counts what Node's UTF-8 encoder counts", () => {
    for (const text of ["", "plain", "é", "€uro", "😀", "a😀b€é", JSON.stringify({ t: "\ud800" }), "\ud800x"]) {
      expect(utf8ByteLength(text), text).toBe(Buffer.byteLength(text, "utf8"));
    }
  });
});

describe("options", () => {
  const url = "ws://127.0.0.1:9/";
  const invalid: ClientOptions[] = [
    { reconnectDelayMs: -1 },
    { maxReconnectDelayMs: Number.NaN },
    { reconnectFactor: 0.5 },
    { reconnectJitter: 1.5 },
    { maxReconnectAttempts: 1.5 },
    { maxQueuedMessages: -1 },
    { maxQueuedBytes: Number.NaN },
    { heartbeatIntervalMs: Number.POSITIVE_INFINITY },
    { heartbeatIntervalMs: 1_000, heartbeatTimeoutMs: 0 },
    { connectTimeoutMs: -5 },
    { shouldReconnect: 3 as unknown as () => boolean },
  ];
  for (const options of invalid) {
    it(`refuses ${JSON.stringify(options)} with INVALID_OPTIONS`, () => {
      expect(() => new ChannelLayersClient(url, { WebSocket, ...options })).toThrow(
        expect.objectContaining({ code: "INVALID_OPTIONS" }),
      );
    });
  }

  it("needs a WebSocket class where there is no global one (Node 20), saying how to pass one", () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket;
    try {
      expect(() => new ChannelLayersClient(url)).toThrow(expect.objectContaining({ code: "NO_WEBSOCKET" }));
      expect(() => new ChannelLayersClient(url)).toThrow(/WebSocket from the ws package/);
    } finally {
      if (saved !== undefined) global.WebSocket = saved;
    }
  });

  it("refuses a URL the WebSocket class refuses with INVALID_URL, keeping the cause", () => {
    let error: unknown;
    try {
      new ChannelLayersClient("not a url", { WebSocket });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ code: "INVALID_URL" });
    expect((error as ClientError).cause).toBeInstanceOf(Error);
  });
});
