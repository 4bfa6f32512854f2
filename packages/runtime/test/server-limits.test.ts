import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { attach, path, URLRouter, WebsocketConsumer, type WebsocketData } from "../src/index.js";
import { LiveWebsocketCommunicator } from "../src/testing/index.js";
import { layersClosedAfterEach } from "./fixtures/layers.js";
import {
  cleanupsAfterEach,
  maskedTextFrame,
  RecordingLogger,
  rawConnect,
  serveForTest,
  until,
  wsUrl,
} from "./fixtures/servers.js";

const cleanup = cleanupsAfterEach();
const newLayer = layersClosedAfterEach();

/** Echoes the first word of each frame once `gate` opens; records what reached it. */
class Gated extends WebsocketConsumer {
  static override channelLayer = null;
  static gate: Promise<void> = Promise.resolve();
  static seen: string[] = [];
  static disconnects: number[] = [];
  override async receive(data: WebsocketData) {
    const text = typeof data === "string" ? data : "bytes";
    Gated.seen.push(text.slice(0, 12));
    await Gated.gate;
    await this.send(text.split(" ")[0] ?? "");
  }
  override async disconnect(code: number) {
    Gated.disconnects.push(code);
  }
}

/** Closes Gated's gate; returns what opens it. */
function closeGate(): () => void {
  let open: () => void = () => undefined;
  Gated.gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  Gated.seen = [];
  Gated.disconnects = [];
  cleanup(() => open());
  return open;
}

function socketOf(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

async function openClient(url: string, options: { autoPong?: boolean } = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { origin: "http://127.0.0.1", ...options });
  cleanup(() => ws.terminate());
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return ws;
}

describe("inbound memory per connection", () => {
  it("pauses reading at maxQueuedBytes, so what waits stays bounded in bytes, and loses no frame", async () => {
    const open = closeGate();
    const budget = 256 * 1024;
    const server = await serveForTest(Gated, { maxQueuedBytes: budget }, cleanup);
    const ws = await openClient(wsUrl(server, "/"));
    const frames = 40;
    for (let n = 0; n < frames; n++) ws.send(`${n} ${"x".repeat(64 * 1024)}`);
    await until(() => server.stats().queuedBytes >= budget, "reading to pause at the budget");
    // Reading paused: nothing more comes in while the consumer is stuck.
    expect(server.stats().queuedBytes).toBeLessThanOrEqual(2 * budget);
    expect(server.stats().messages.in).toBeLessThan(frames);
    const echoes: string[] = [];
    ws.on("message", (data: Buffer) => echoes.push(data.toString()));
    open();
    await until(() => echoes.length === frames, "every frame to come back");
    expect(echoes).toEqual(Array.from({ length: frames }, (_, n) => String(n)));
    expect(server.stats().queuedBytes).toBe(0);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it("closes a client whose frames keep piling up past the budget with 1008", async () => {
    const open = closeGate();
    const server = await serveForTest(Gated, { maxQueuedBytes: 1024, maxFrameBytes: 512 }, cleanup);
    const ws = await openClient(wsUrl(server, "/"));
    const closed = new Promise<number>((resolve) => ws.once("close", resolve));
    // One write of 100 frames: ws parses all of it even after reading pauses at 1 KiB.
    socketOf(ws).write(Buffer.concat(Array.from({ length: 100 }, (_, n) => maskedTextFrame(`${n} ${"y".repeat(90)}`))));
    expect(await closed).toBe(1008);
    expect(server.stats().drops["too-much-input"]).toBe(1);
    open();
    await until(() => Gated.disconnects.length === 1, "the consumer's disconnect");
    // The first frame was taken before the client was dropped; none of the rest ever ran.
    expect(Gated.seen).toEqual(["0 yyyyyyyyyy"]);
  });

  it("drops the frames a dropped client had queued: its consumer gets the disconnect next", async () => {
    const open = closeGate();
    const server = await serveForTest(Gated, { pingIntervalMs: 200 }, cleanup);
    // A client that reads nothing, not even pings: keepalive drops it.
    const ws = await openClient(wsUrl(server, "/"), { autoPong: false });
    for (let n = 0; n < 10; n++) ws.send(`frame ${n}`);
    await until(() => Gated.seen.length === 1, "the first frame to reach the consumer");
    await until(() => server.stats().drops["ping-timeout"] === 1, "keepalive to drop the client");
    open();
    await until(() => Gated.disconnects.length === 1, "the consumer's disconnect");
    expect(Gated.seen).toEqual(["frame 0"]);
    expect(Gated.disconnects).toEqual([1006]);
    expect(server.stats().drops["queued-frame-of-dropped-client"]).toBe(9);
  });
});

describe("handshake timeout and maxConnections", () => {
  it("closes a connection that has not sent a whole request within handshakeTimeoutMs", async () => {
    const server = await serveForTest(Gated, { handshakeTimeoutMs: 100 }, cleanup);
    const silent = await rawConnect(server.port, cleanup);
    const partial = await rawConnect(server.port, cleanup);
    partial.socket.write("GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    await Promise.all([silent.closed, partial.closed]);
    expect(silent.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(partial.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(server.stats().rejected["handshake-timeout"]).toBe(2);
  });

  it("answers 503 and closes connections past maxConnections (serve(): every TCP connection)", async () => {
    const server = await serveForTest(Gated, { maxConnections: 2 }, cleanup);
    const [first] = [await rawConnect(server.port, cleanup), await rawConnect(server.port, cleanup)];
    let sockets = 0;
    await until(() => {
      server.httpServer.getConnections((_error, count) => {
        sockets = count;
      });
      return sockets === 2;
    }, "the server to hold both connections");
    const third = await rawConnect(server.port, cleanup);
    await third.closed;
    expect(third.received()).toMatch(/^HTTP\/1\.1 503 /);
    expect(server.stats().rejected["too-many-connections"]).toBe(1);
    first?.socket.destroy();
    await first?.closed;
    // A slot is free again: the next connection is served (404: this server has no HTTP handler).
    const fourth = await rawConnect(server.port, cleanup);
    fourth.socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await until(() => fourth.received().includes("\r\n\r\n"), "an answer to the request");
    expect(fourth.received()).toMatch(/^HTTP\/1\.1 404 /);
  });

  it("with attach(), counts the WebSockets it serves and answers the one past maxConnections 503", async () => {
    const httpServer = createServer((_request, response) => response.end("mine"));
    await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    cleanup(() => new Promise((resolve) => httpServer.close(resolve)));
    const server = await attach(httpServer, Gated, { maxConnections: 1 });
    cleanup(() => server.close());
    const url = `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/`;
    const first = new LiveWebsocketCommunicator(url);
    cleanup(() => first.disconnect());
    expect((await first.connect()).connected).toBe(true);
    const second = new LiveWebsocketCommunicator(url);
    expect(await second.connect()).toMatchObject({ connected: false, status: 503 });
    await first.disconnect();
    await until(() => server.connectionCount === 0, "the first connection to be forgotten");
    const third = new LiveWebsocketCommunicator(url);
    cleanup(() => third.disconnect());
    expect((await third.connect()).connected).toBe(true);
  });
});

/** The tutorial's pattern: a group named from the URL. */
class Room extends WebsocketConsumer {
  override async connect() {
    await this.groupAdd(`chat_${this.scope.url_route.kwargs.room}`);
    await this.accept();
  }
  override async receive(data: WebsocketData) {
    await this.groupAdd(String(data));
  }
}

describe("names the layer refuses", () => {
  it("answers a name from the URL that the layer refuses with 400 and one short, rate-limited log line", async () => {
    const logger = new RecordingLogger();
    const errors: unknown[] = [];
    const server = await serveForTest(
      URLRouter([path("ws/<str:room>/", Room)]),
      { channelLayer: newLayer(), logger, onError: (error) => errors.push(error) },
      cleanup,
    );
    for (let attempt = 0; attempt < 3; attempt++) {
      const client = new LiveWebsocketCommunicator(wsUrl(server, `/ws/${"r".repeat(95)}/`));
      expect(await client.connect()).toMatchObject({ connected: false, status: 400 });
    }
    expect(errors).toEqual([]);
    expect(server.stats().rejected["invalid-name"]).toBe(3);
    const lines = logger.lines.filter((line) => line.level !== "debug");
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe("warn");
    expect(lines[0]?.message.length).toBeLessThan(400);
    expect(JSON.stringify(lines[0])).not.toMatch(/\n\s+at /);
    const fine = new LiveWebsocketCommunicator(wsUrl(server, "/ws/lobby/"));
    cleanup(() => fine.disconnect());
    expect((await fine.connect()).connected).toBe(true);
  });

  it("closes with 1008 when a refused name ends the consumer after accept", async () => {
    const errors: unknown[] = [];
    const server = await serveForTest(
      URLRouter([path("ws/<str:room>/", Room)]),
      { channelLayer: newLayer(), onError: (error) => errors.push(error) },
      cleanup,
    );
    const client = new LiveWebsocketCommunicator(wsUrl(server, "/ws/lobby/"));
    await client.connect();
    await client.sendTo("not a valid group name");
    expect((await client.waitForClose()).code).toBe(1008);
    expect(errors).toEqual([]);
  });
});
