import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ChannelLayersClient, ClientError, type ClientOptions, reconnectUnlessFinal } from "../src/index.js";
import { closedAfterTest, LifecycleRecorder, startSilentServer, TestServer } from "./fixtures/servers.js";

/** Short delays so reconnects happen quickly; nothing asserts how quickly. */
const fast: ClientOptions = { WebSocket, reconnectDelayMs: 5, maxReconnectDelayMs: 40, heartbeatIntervalMs: 0 };

function connect(url: string, options: ClientOptions = {}) {
  const client = closedAfterTest(new ChannelLayersClient(url, { ...fast, ...options }));
  return { client, lifecycle: new LifecycleRecorder(client) };
}

describe("reconnecting", () => {
  it("reconnects when the server drops the connection, and reports the close on the way", async () => {
    const server = await TestServer.start();
    const { client, lifecycle } = connect(server.url);
    expect(await lifecycle.nth("open", 1)).toEqual({ reconnected: false });
    expect(client.state).toBe("open");

    server.latest.terminate();
    const close = await lifecycle.nth("close", 1);
    expect(close).toMatchObject({ code: 1006, wasClean: false, willReconnect: true });
    expect(await lifecycle.nth("open", 2)).toEqual({ reconnected: true });
    expect(lifecycle.names).toEqual(["open", "close", "reconnecting", "open"]);
    expect(lifecycle.of("reconnecting")[0]?.attempt).toBe(1);
    await server.until(() => server.sockets.length === 2);
  });

  it("keeps trying while the server is down and comes back when it restarts on the same port", async () => {
    const first = await TestServer.start();
    const { client, lifecycle } = connect(first.url);
    await lifecycle.nth("open", 1);
    const port = first.port;
    await first.stop();

    // Three refused attempts, with growing attempt numbers, prove it keeps trying.
    await lifecycle.nth("reconnecting", 3);
    const attempts = lifecycle.of("reconnecting").map((event) => event.attempt);
    expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
    expect(client.state).not.toBe("closed");

    const second = await TestServer.start(port);
    expect(await lifecycle.nth("open", 2)).toEqual({ reconnected: true });
    client.send({ type: "hello.again" });
    await second.until(() => second.frames.includes('{"type":"hello.again"}'));
  });

  it("also retries a first connection that fails, then opens once the server is there", async () => {
    const probe = await TestServer.start();
    const port = probe.port;
    await probe.stop();
    const { lifecycle } = connect(`ws://127.0.0.1:${port}/`);
    await lifecycle.nth("reconnecting", 2);
    await TestServer.start(port);
    expect(await lifecycle.nth("open", 1)).toEqual({ reconnected: false });
  });

  it("gives up after maxReconnectAttempts failed attempts in a row and closes", async () => {
    const server = await TestServer.start();
    const { client, lifecycle } = connect(server.url, { maxReconnectAttempts: 3 });
    await lifecycle.nth("open", 1);
    await server.stop();

    const final = await lifecycle.nth("close", 4);
    expect(final.willReconnect).toBe(false);
    expect(lifecycle.of("reconnecting").map((event) => event.attempt)).toEqual([1, 2, 3]);
    expect(client.state).toBe("closed");
  });

  it("never reconnects with maxReconnectAttempts 0", async () => {
    const server = await TestServer.start();
    const { client, lifecycle } = connect(server.url, { maxReconnectAttempts: 0 });
    await lifecycle.nth("open", 1);
    server.latest.terminate();
    expect(await lifecycle.nth("close", 1)).toMatchObject({ code: 1006, willReconnect: false });
    expect(client.state).toBe("closed");
    expect(lifecycle.of("reconnecting")).toEqual([]);
  });

  it("gives up on a handshake that hangs after connectTimeoutMs, reported as 1006, and retries", async () => {
    const silent = await startSilentServer();
    const { lifecycle } = connect(silent.url, { connectTimeoutMs: 50 });
    const close = await lifecycle.nth("close", 1);
    expect(close).toMatchObject({ code: 1006, wasClean: false, willReconnect: true });
    expect(close.reason).toMatch(/did not open within 50 ms/);
    await lifecycle.nth("reconnecting", 2);
  });
});

describe("close codes", () => {
  it("reports the server's code and reason, and reconnects after an application code by default", async () => {
    const server = await TestServer.start();
    const { lifecycle } = connect(server.url);
    await lifecycle.nth("open", 1);
    server.latest.close(4001, "session moved");
    expect(await lifecycle.nth("close", 1)).toEqual({
      code: 4001,
      reason: "session moved",
      wasClean: true,
      willReconnect: true,
      unsent: [],
    });
    await lifecycle.nth("open", 2);
  });

  it("reconnects after 1001 (a server going away, as on restart) and 1011", async () => {
    const server = await TestServer.start();
    const { lifecycle } = connect(server.url);
    await lifecycle.nth("open", 1);
    server.latest.close(1001, "Server shutting down");
    expect(await lifecycle.nth("close", 1)).toMatchObject({ code: 1001, willReconnect: true });
    await lifecycle.nth("open", 2);
    server.latest.close(1011);
    expect(await lifecycle.nth("close", 2)).toMatchObject({ code: 1011, willReconnect: true });
    await lifecycle.nth("open", 3);
  });

  for (const code of [1000, 1008, 1003, 1007]) {
    it(`stays closed after ${code}, which says trying again would be refused again`, async () => {
      const server = await TestServer.start();
      const { client, lifecycle } = connect(server.url);
      await lifecycle.nth("open", 1);
      server.latest.close(code, "go away");
      expect(await lifecycle.nth("close", 1)).toMatchObject({ code, reason: "go away", willReconnect: false });
      expect(client.state).toBe("closed");
      expect(lifecycle.names).toEqual(["open", "close"]);
    });
  }

  it("shouldReconnect makes the application's own codes final", async () => {
    const server = await TestServer.start();
    const { client, lifecycle } = connect(server.url, {
      shouldReconnect: (close) => close.code < 4000 && reconnectUnlessFinal(close),
    });
    await lifecycle.nth("open", 1);
    server.latest.close(4003, "forbidden");
    expect(await lifecycle.nth("close", 1)).toMatchObject({ code: 4003, willReconnect: false });
    expect(client.state).toBe("closed");
  });

  it("close() sends its code and reason, stops reconnecting, and connect() opens again", async () => {
    const server = await TestServer.start();
    const { client, lifecycle } = connect(server.url);
    await lifecycle.nth("open", 1);
    const serverSide = new Promise<[number, string]>((resolve) =>
      server.latest.once("close", (code: number, reason: Buffer) => resolve([code, reason.toString()])),
    );
    client.close(4000, "leaving");
    expect(client.state).toBe("closed");
    expect(await serverSide).toEqual([4000, "leaving"]);
    expect(await lifecycle.nth("close", 1)).toMatchObject({ code: 4000, reason: "leaving", willReconnect: false });

    expect(() => client.send({ type: "late" })).toThrow(expect.objectContaining({ code: "CLIENT_CLOSED" }));
    client.connect();
    expect(await lifecycle.nth("open", 2)).toEqual({ reconnected: false });
    expect(server.sockets).toHaveLength(2);
  });

  it("close() while reconnecting cancels the pending attempt", async () => {
    const server = await TestServer.start();
    const { client, lifecycle } = connect(server.url, { reconnectDelayMs: 60_000, maxReconnectDelayMs: 60_000 });
    await lifecycle.nth("open", 1);
    await server.stop();
    await lifecycle.nth("reconnecting", 1);
    client.close();
    expect(client.state).toBe("closed");
    expect(await lifecycle.nth("close", 2)).toMatchObject({ code: 1000, willReconnect: false });
  });

  it("close() while the handshake is still pending closes at once, without an uncaught socket error", async () => {
    const silent = await startSilentServer();
    const { client, lifecycle } = connect(silent.url, { connectTimeoutMs: 0 });
    expect(client.state).toBe("connecting");
    client.close(1000, "changed my mind");
    expect(client.state).toBe("closed");
    expect(lifecycle.names).toEqual(["close"]);
    expect(lifecycle.of("close")[0]).toMatchObject({ code: 1000, reason: "changed my mind", willReconnect: false });
    // The aborted handshake's own error event lands on a detached socket; a later client still works.
    const server = await TestServer.start();
    const next = connect(server.url);
    await next.lifecycle.nth("open", 1);
    expect(lifecycle.names).toEqual(["close"]);
  });

  it("refuses close codes and reasons a browser would refuse, with INVALID_ARGUMENT", async () => {
    const server = await TestServer.start();
    const { client, lifecycle } = connect(server.url);
    await lifecycle.nth("open", 1);
    for (const call of [
      () => client.close(1001),
      () => client.close(2999),
      () => client.close(1000, "x".repeat(124)),
    ]) {
      expect(call).toThrow(ClientError);
      expect(call).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
    expect(client.state).toBe("open");
  });
});
