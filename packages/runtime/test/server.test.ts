import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Message } from "@channel-layers/core";
import { InMemoryChannelLayer } from "@channel-layers/memory";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  AllowedHostsOriginValidator,
  type Application,
  attach,
  getChannelLayer,
  ProtocolTypeRouter,
  path,
  re_path,
  type ServeOptions,
  serve,
  URLRouter,
  WebsocketConsumer,
  type WebsocketData,
  type WebsocketServer,
} from "../src/index.js";
import { LiveWebsocketCommunicator } from "../src/testing/index.js";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const disconnects: number[] = [];

class ChatConsumer extends WebsocketConsumer {
  group = "";
  override async connect() {
    this.group = `chat_${this.scope.url_route.kwargs.room_name}`;
    await this.groupAdd(this.group);
    await this.accept();
  }
  override async disconnect(code: number) {
    disconnects.push(code);
  }
  override async receive(data: WebsocketData) {
    await this.groupSend(this.group, { type: "chat.message", message: JSON.parse(data as string).message });
  }
  async chat_message(event: Message) {
    await this.send(JSON.stringify({ message: event.message }));
  }
}

/** Test commands: "flood" sends big frames, "fail" throws, "gate" holds the next frames until "open". */
class ToolConsumer extends WebsocketConsumer {
  static gate: Promise<void> = Promise.resolve();
  override async connect() {
    await this.accept(this.scope.subprotocols.includes("tools") ? "tools" : null);
  }
  override async disconnect(code: number) {
    disconnects.push(code);
  }
  override async receive(data: WebsocketData) {
    if (data === "flood") {
      const frame = Buffer.alloc(512 * 1024, 1);
      for (let n = 0; n < 256; n++) {
        await this.send(frame);
        await new Promise((resolve) => setImmediate(resolve));
      }
    } else if (data === "fail") {
      throw new Error("handler failed on purpose");
    } else {
      await ToolConsumer.gate;
      await this.send(typeof data === "string" ? data : "bytes");
    }
  }
}

const websocket = URLRouter([path("ws/chat/<str:room_name>/", ChatConsumer), re_path(/^ws\/tools\/$/, ToolConsumer)]);
const application = ProtocolTypeRouter({
  http: (_request, response) => response.end("plain http"),
  websocket: AllowedHostsOriginValidator(websocket),
});

async function start(options: ServeOptions = {}, app: Application = application): Promise<WebsocketServer> {
  const errors: unknown[] = [];
  const server = await serve(app, { port: 0, shutdownSignals: [], onError: (error) => errors.push(error), ...options });
  cleanups.push(() => server.close());
  return server;
}

function wsUrl(server: WebsocketServer, path: string): string {
  return `${server.url.replace("http", "ws")}${path}`;
}

async function client(server: WebsocketServer, path: string, options = {}) {
  const communicator = new LiveWebsocketCommunicator(wsUrl(server, path), options);
  cleanups.push(() => communicator.disconnect());
  return communicator;
}

/** Polls until `check` is true; the server side finishes its part a few ticks after the client's. */
async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("serve()", () => {
  it("serves HTTP through the http handler and chat over WebSockets", async () => {
    const server = await start();
    expect(await (await fetch(`${server.url}/chat/`)).text()).toBe("plain http");
    const [alice, bob] = [await client(server, "/ws/chat/lobby/"), await client(server, "/ws/chat/lobby/")];
    expect(await alice.connect()).toEqual({ connected: true, subprotocol: null });
    expect((await bob.connect()).connected).toBe(true);
    await alice.sendJsonTo({ message: "안녕하세요" });
    expect(await bob.receiveJsonFrom()).toEqual({ message: "안녕하세요" });
    expect(await alice.receiveJsonFrom()).toEqual({ message: "안녕하세요" });
  });

  it("rejects the handshake with 404 for no route, 403 for a bad Origin and 400 for a malformed upgrade", async () => {
    const server = await start();
    expect(await (await client(server, "/ws/nowhere/")).connect()).toMatchObject({ connected: false, status: 404 });
    const evil = await client(server, "/ws/chat/lobby/", { origin: "http://evil.example" });
    expect(await evil.connect()).toMatchObject({ connected: false, status: 403 });
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${server.url}/ws/chat/lobby/`, {
        headers: {
          connection: "Upgrade",
          upgrade: "websocket",
          "sec-websocket-version": "13",
          "sec-websocket-key": "not a key",
          origin: "http://127.0.0.1",
        },
      });
      request.on("response", (response) => resolve(response.statusCode ?? 0));
      request.on("upgrade", () => reject(new Error("upgraded")));
      request.on("error", reject);
      request.end();
    });
    expect(status).toBe(400);
  });

  it("negotiates a subprotocol the client offered", async () => {
    const server = await start();
    const tools = await client(server, "/ws/tools/", { subprotocols: ["other", "tools"] });
    expect(await tools.connect()).toEqual({ connected: true, subprotocol: "tools" });
  });

  it("closes a client that sends a frame above maxFrameBytes with 1009, and the server goes on", async () => {
    const server = await start({ maxFrameBytes: 1024 });
    const big = await client(server, "/ws/tools/");
    await big.connect();
    await big.sendTo("x".repeat(2048));
    expect((await big.waitForClose()).code).toBe(1009);
    const small = await client(server, "/ws/tools/");
    await small.connect();
    await small.sendTo("x".repeat(1000));
    expect(await small.receiveFrom()).toHaveLength(1000);
  });

  it("drops a client that stops reading once maxBufferedBytes are waiting, instead of buffering", async () => {
    const server = await start({ maxBufferedBytes: 1024 * 1024 });
    disconnects.length = 0;
    const raw = new WebSocket(wsUrl(server, "/ws/tools/"), { origin: "http://127.0.0.1" });
    cleanups.push(() => raw.terminate());
    await new Promise((resolve) => raw.once("open", resolve));
    const closed = new Promise<number>((resolve) => raw.once("close", resolve));
    raw.send("flood");
    // Stop reading: the kernel buffers fill, then the server's own buffer passes the limit.
    (raw as unknown as { _socket: { pause(): void } })._socket.pause();
    await until(() => disconnects.length === 1, "the consumer's disconnect", 20_000);
    expect(disconnects).toEqual([1006]);
    expect(server.connectionCount).toBe(0);
    (raw as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(1006);
  });

  it("pauses reading while a consumer is behind and loses no frame", async () => {
    const server = await start({ maxQueuedFrames: 8 });
    let open: () => void = () => undefined;
    ToolConsumer.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const tools = await client(server, "/ws/tools/");
    await tools.connect();
    for (let n = 0; n < 100; n++) await tools.sendTo(`frame ${n}`);
    open();
    for (let n = 0; n < 100; n++) expect(await tools.receiveFrom()).toBe(`frame ${n}`);
  });

  it("pings every pingIntervalMs and drops a client that does not answer", async () => {
    const server = await start({ pingIntervalMs: 40 });
    const silent = new WebSocket(wsUrl(server, "/ws/tools/"), { origin: "http://127.0.0.1", autoPong: false });
    const lively = new WebSocket(wsUrl(server, "/ws/tools/"), { origin: "http://127.0.0.1" });
    cleanups.push(
      () => silent.terminate(),
      () => lively.terminate(),
    );
    let pings = 0;
    lively.on("ping", () => pings++);
    const silentClosed = new Promise<number>((resolve) => silent.once("close", resolve));
    await Promise.all([silent, lively].map((ws) => new Promise((resolve) => ws.once("open", resolve))));
    expect(await silentClosed).toBe(1006);
    await until(() => pings >= 4, "four pings to the lively client");
    expect(lively.readyState).toBe(WebSocket.OPEN);
  });

  it("closes with 1011 when a handler throws, reports the error, and serves others on", async () => {
    const errors: unknown[] = [];
    const server = await start({ onError: (error) => errors.push(error) });
    const failing = await client(server, "/ws/tools/");
    await failing.connect();
    await failing.sendTo("fail");
    expect((await failing.waitForClose()).code).toBe(1011);
    expect(errors).toEqual([expect.objectContaining({ message: "handler failed on purpose" })]);
    const next = await client(server, "/ws/tools/");
    await next.connect();
    await next.sendTo("still here");
    expect(await next.receiveFrom()).toBe("still here");
  });

  it("treats a client that leaves mid-handshake as a disconnect (1006), not as an application error", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const codes: number[] = [];
    let connecting = false;
    class Slow extends WebsocketConsumer {
      override async connect() {
        connecting = true;
        await gate;
        await this.accept();
      }
      override async disconnect(code: number) {
        codes.push(code);
      }
    }
    const errors: unknown[] = [];
    // A long handshake timeout: the server must notice the client leaving by itself.
    const server = await start(
      { onError: (error) => errors.push(error), handshakeTimeoutMs: 60_000 },
      Slow.asApplication(),
    );
    const ws = new WebSocket(wsUrl(server, "/"));
    ws.on("error", () => undefined);
    await until(() => connecting, "the consumer's connect()");
    ws.terminate();
    // The server has seen the TCP connection end (its count of open sockets is back to 0).
    let sockets = -1;
    await until(() => {
      server.httpServer.getConnections((_error, count) => {
        sockets = count;
      });
      return sockets === 0;
    }, "the server to see the socket close");
    expect(codes).toEqual([]);
    release();
    await until(() => codes.length === 1, "the consumer's disconnect");
    expect(codes).toEqual([1006]);
    await until(() => server.connectionCount === 0, "the connection to be forgotten");
    expect(errors).toEqual([]);
  });

  it("answers 503 when the application does not accept within handshakeTimeoutMs", async () => {
    const stuck: Application = async (_scope, receive) => {
      await receive();
      await new Promise(() => undefined);
    };
    const server = await start({ handshakeTimeoutMs: 50, shutdownTimeoutMs: 50 }, stuck);
    expect(await (await client(server, "/")).connect()).toMatchObject({ connected: false, status: 503 });
  });

  it("close() sends 1001, runs every disconnect (groups left) and leaves the layer to the process's shutdown", async () => {
    const layer = new InMemoryChannelLayer();
    const server = await start({ channelLayer: layer });
    disconnects.length = 0;
    const sockets = [];
    for (let n = 0; n < 5; n++) {
      const socket = await client(server, `/ws/chat/room${n % 2}/`);
      await socket.connect();
      sockets.push(socket);
    }
    expect(layer.stats().memberships).toBe(5);
    await server.close();
    expect(disconnects).toEqual([1001, 1001, 1001, 1001, 1001]);
    expect(layer.stats()).toMatchObject({ channels: 0, groups: 0, memberships: 0 });
    for (const socket of sockets) expect((await socket.waitForClose()).code).toBe(1001);
    // A layer it was given stays open, and so does the settings' layer it uses without one.
    expect(layer.closed).toBe(false);
    await layer.close();
    const fromSettings = await start();
    expect(fromSettings.channelLayer).toBe(await getChannelLayer());
    await fromSettings.close();
    expect((fromSettings.channelLayer as InMemoryChannelLayer).closed).toBe(false);
  });
});

describe("connection churn over the network", () => {
  it("300 sockets opened, used and closed leave no connection, channel or membership behind", async () => {
    const layer = new InMemoryChannelLayer();
    cleanups.push(() => layer.close());
    const server = await start({ channelLayer: layer });
    for (let n = 0; n < 300; n += 30) {
      const batch = Array.from({ length: 30 }, () => new LiveWebsocketCommunicator(wsUrl(server, "/ws/chat/churn/")));
      for (const socket of batch) await socket.connect();
      await batch[0]?.sendJsonTo({ message: `round ${n}` });
      for (const socket of batch) expect(await socket.receiveJsonFrom()).toEqual({ message: `round ${n}` });
      await Promise.all(batch.map((socket, i) => (i % 2 ? socket.disconnect() : socket.disconnect(4000))));
    }
    await until(() => server.connectionCount === 0, "every connection to be forgotten");
    expect(layer.stats()).toMatchObject({ channels: 0, groups: 0, memberships: 0 });
  });
});

describe("attach()", () => {
  it("serves WebSockets on an existing http.Server whose HTTP side stays its own", async () => {
    const httpServer: Server = createServer((_request, response) => response.end("the user's own handler"));
    await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => httpServer.close(resolve)));
    const server = await attach(httpServer, application);
    const base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    expect(await (await fetch(`${base}/`)).text()).toBe("the user's own handler");
    const chat = new LiveWebsocketCommunicator(`${base.replace("http", "ws")}/ws/chat/x/`);
    await chat.connect();
    await chat.sendJsonTo({ message: "attached" });
    expect(await chat.receiveJsonFrom()).toEqual({ message: "attached" });
    await server.close();
    expect((await chat.waitForClose()).code).toBe(1001);
    expect(httpServer.listening).toBe(true);
    expect(await (await fetch(`${base}/`)).text()).toBe("the user's own handler");
  });
});
