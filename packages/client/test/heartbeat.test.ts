import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { HEARTBEAT_PING as RUNTIME_PING, HEARTBEAT_PONG as RUNTIME_PONG } from "../../runtime/src/server/heartbeat.js";
import {
  ChannelLayersClient,
  type ClientOptions,
  HEARTBEAT_PING,
  HEARTBEAT_PONG,
  resumeHelloWithOffsets,
} from "../src/index.js";
import { closedAfterTest, LifecycleRecorder, TestServer } from "./fixtures/servers.js";

/** Pings every 20 ms, dead after 150 ms of silence: nothing asserts how long anything took. */
const heartbeat: ClientOptions = {
  WebSocket,
  // No hello: these tests count the frames the server gets.
  hello: resumeHelloWithOffsets,
  heartbeatIntervalMs: 20,
  heartbeatTimeoutMs: 150,
  reconnectDelayMs: 5,
  maxReconnectDelayMs: 40,
};

/** For the tests that a connection stays: a timeout long enough that a busy machine never trips it. */
const patient: ClientOptions = { ...heartbeat, heartbeatTimeoutMs: 1_000 };

describe("heartbeat", () => {
  it("uses the very frames the runtime's server answers", () => {
    expect(HEARTBEAT_PING).toBe(RUNTIME_PING);
    expect(HEARTBEAT_PONG).toBe(RUNTIME_PONG);
  });

  it("pings a live server, whose pongs keep the connection and never reach the handlers", async () => {
    const server = await TestServer.start();
    const client = closedAfterTest(new ChannelLayersClient(server.url, patient));
    const lifecycle = new LifecycleRecorder(client);
    const frames: unknown[] = [];
    client.onAny((content) => frames.push(content));
    await lifecycle.nth("open", 1);
    // 60 pings span more than the timeout, so only the pongs can have kept the first connection.
    await server.until(() => server.pings >= 60);
    expect(lifecycle.names).toEqual(["open"]);
    expect(server.sockets).toHaveLength(1);
    expect(frames).toEqual([]);
    expect(server.frames).toEqual([]);
  });

  it("replaces a connection whose server stops reading (a paused socket), reported as 1006", async () => {
    const server = await TestServer.start();
    const client = closedAfterTest(new ChannelLayersClient(server.url, heartbeat));
    const lifecycle = new LifecycleRecorder(client);
    await lifecycle.nth("open", 1);
    await server.until(() => server.pings >= 1);
    server.latest.pause();

    const close = await lifecycle.nth("close", 1);
    expect(close).toMatchObject({ code: 1006, wasClean: false, willReconnect: true });
    expect(close.reason).toMatch(/No frame arrived within 150 ms of a heartbeat ping/);
    expect(await lifecycle.nth("open", 2)).toEqual({ reconnected: true });
    client.send({ type: "after" });
    await server.until(() => server.frames.includes('{"type":"after"}'));
    expect(server.sockets).toHaveLength(2);
  });

  it("replaces a connection whose server reads but stops answering", async () => {
    const server = await TestServer.start();
    server.answerPings = false;
    const client = closedAfterTest(new ChannelLayersClient(server.url, heartbeat));
    const lifecycle = new LifecycleRecorder(client);
    expect(await lifecycle.nth("close", 1)).toMatchObject({ code: 1006, willReconnect: true });
    await lifecycle.nth("open", 2);
  });

  it("counts any frame as a sign of life: a server that sends but does not answer pings stays connected", async () => {
    const server = await TestServer.start();
    server.answerPings = false;
    const client = closedAfterTest(new ChannelLayersClient(server.url, patient));
    const lifecycle = new LifecycleRecorder(client);
    await lifecycle.nth("open", 1);
    // The server sends something on every ping instead of a pong.
    let chatter = 0;
    client.on("chatter", () => chatter++);
    server.latest.on("message", () => server.latest.send('{"type":"chatter"}'));
    // 60 pings span more than the timeout: only the chatter can have kept the first connection.
    await server.until(() => server.pings >= 60);
    expect(lifecycle.names).toEqual(["open"]);
    expect(chatter).toBeGreaterThan(0);
  });
});
