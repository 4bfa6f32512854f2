import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { io as socketIoClient } from "socket.io-client";
import { describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { attach, path, URLRouter, WebsocketConsumer, type WebsocketData } from "../src/index.js";
import { LiveWebsocketCommunicator } from "../src/testing/index.js";
import { cleanupsAfterEach } from "./fixtures/servers.js";
import { startWithExpress } from "./recipes/express.js";
import { startWithFastify } from "./recipes/fastify.js";
import { startWithSocketIo } from "./recipes/socket-io.js";

const cleanup = cleanupsAfterEach();

class Echo extends WebsocketConsumer {
  static override channelLayer = null;
  override async receive(data: WebsocketData) {
    await this.send(`ours: ${String(data)}`);
  }
}
const websocket = URLRouter([path("ws/echo/", Echo)]);

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

async function listening(httpServer: Server): Promise<number> {
  httpServer.listen(0, "127.0.0.1");
  await once(httpServer, "listening");
  cleanup(() => new Promise((resolve) => httpServer.close(resolve)));
  return portOf(httpServer);
}

async function echoesThroughUs(port: number): Promise<void> {
  const client = new LiveWebsocketCommunicator(`ws://127.0.0.1:${port}/ws/echo/`);
  cleanup(() => client.disconnect());
  expect((await client.connect()).connected).toBe(true);
  await client.sendTo("hi");
  expect(await client.receiveFrom()).toBe("ours: hi");
}

/** A second endpoint the way ws documents several on one server: noServer and its own upgrade listener. */
function otherEndpoint(httpServer: Server): void {
  const other = new WebSocketServer({ noServer: true });
  other.on("connection", (ws) => ws.on("message", (data) => ws.send(`other: ${data.toString()}`)));
  httpServer.on("upgrade", (request, socket, head) => {
    if (!request.url?.startsWith("/other")) return;
    other.handleUpgrade(request, socket, head, (ws) => other.emit("connection", ws, request));
  });
  cleanup(() => new Promise((resolve) => other.close(resolve)));
}

async function echoesThroughOther(port: number): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/other`);
  cleanup(() => ws.terminate());
  await once(ws, "open");
  const reply = once(ws, "message");
  ws.send("hi");
  expect(String((await reply)[0])).toBe("other: hi");
}

describe("attach() with a path shares the HTTP server", () => {
  it("beside a second ws endpoint on /other: each answers its own upgrades", async () => {
    const httpServer = createServer();
    otherEndpoint(httpServer);
    const server = await attach(httpServer, websocket, { path: "/ws/" });
    cleanup(() => server.close());
    const port = await listening(httpServer);
    await echoesThroughOther(port);
    await echoesThroughUs(port);
    await echoesThroughOther(port);
    expect(server.stats().rejected).toEqual({});
  });

  it("takes a predicate as well", async () => {
    const httpServer = createServer();
    otherEndpoint(httpServer);
    const server = await attach(httpServer, websocket, { path: (request) => request.url?.startsWith("/ws/") === true });
    cleanup(() => server.close());
    const port = await listening(httpServer);
    await echoesThroughUs(port);
    await echoesThroughOther(port);
  });

  it("answers 404 for an upgrade outside its path when nobody else listens", async () => {
    const httpServer = createServer();
    const server = await attach(httpServer, websocket, { path: "/ws" });
    cleanup(() => server.close());
    const port = await listening(httpServer);
    const stray = new LiveWebsocketCommunicator(`ws://127.0.0.1:${port}/wsx/echo/`);
    expect(await stray.connect()).toMatchObject({ connected: false, status: 404 });
    expect(server.stats().rejected).toEqual({ "no-route": 1 });
    await echoesThroughUs(port);
  });

  it("beside Socket.IO on the same server (the recipe in docs/runtime.md)", async () => {
    const { httpServer, io, server } = await startWithSocketIo(websocket, 0);
    cleanup(() => new Promise((resolve) => httpServer.close(resolve)));
    cleanup(() => io.close());
    cleanup(() => server.close());
    io.on("connection", (socket) =>
      socket.on("ping-me", (text: string, answer: (reply: string) => void) => answer(`io: ${text}`)),
    );
    const port = portOf(httpServer);
    const client = socketIoClient(`http://127.0.0.1:${port}`, { transports: ["websocket"] });
    cleanup(() => client.disconnect());
    await new Promise<void>((resolve) => client.once("connect", resolve));
    expect(await client.emitWithAck("ping-me", "hi")).toBe("io: hi");
    await echoesThroughUs(port);
    expect(await client.emitWithAck("ping-me", "again")).toBe("io: again");
  });

  it("behind Express (the recipe in docs/runtime.md)", async () => {
    const { httpServer, server } = await startWithExpress(websocket, 0);
    cleanup(() => new Promise((resolve) => httpServer.close(resolve)));
    cleanup(() => server.close());
    const port = portOf(httpServer);
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).json()).toEqual({ ok: true });
    await echoesThroughUs(port);
  });

  it("behind Fastify (the recipe in docs/runtime.md)", async () => {
    const { fastify, server } = await startWithFastify(websocket, 0);
    cleanup(() => fastify.close());
    cleanup(() => server.close());
    const port = portOf(fastify.server);
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).json()).toEqual({ ok: true });
    await echoesThroughUs(port);
  });
});
