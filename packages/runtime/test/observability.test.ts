import { readFileSync } from "node:fs";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  AllowedHostsOriginValidator,
  type ConnectEvent,
  type DisconnectEvent,
  path,
  type RejectEvent,
  URLRouter,
  WebsocketConsumer,
  type WebsocketData,
} from "../src/index.js";
import { LiveWebsocketCommunicator } from "../src/testing/index.js";
import { layersClosedAfterEach } from "./fixtures/layers.js";
import { cleanupsAfterEach, RecordingLogger, serveForTest, until, wsUrl } from "./fixtures/servers.js";
import { registerWebsocketMetrics } from "./recipes/prometheus.js";

const cleanup = cleanupsAfterEach();
const newLayer = layersClosedAfterEach();

/** "close" closes from the server, "fail" throws; anything else is echoed. */
class Tool extends WebsocketConsumer {
  override async receive(data: WebsocketData) {
    if (data === "close") await this.close(4000);
    else if (data === "fail") throw new Error("handler failed on purpose");
    else await this.send(String(data));
  }
}
const application = AllowedHostsOriginValidator(URLRouter([path("ws/", Tool)]));

async function observed(options = {}) {
  const events: { connect: ConnectEvent[]; disconnect: DisconnectEvent[]; reject: RejectEvent[] } = {
    connect: [],
    disconnect: [],
    reject: [],
  };
  const logger = new RecordingLogger();
  const layer = newLayer();
  const server = await serveForTest(
    application,
    {
      channelLayer: layer,
      logger,
      onConnect: (event) => events.connect.push(event),
      onDisconnect: (event) => events.disconnect.push(event),
      onReject: (event) => events.reject.push(event),
      ...options,
    },
    cleanup,
  );
  const client = async (route = "/ws/", origin?: string) => {
    const communicator = new LiveWebsocketCommunicator(wsUrl(server, route), origin === undefined ? {} : { origin });
    cleanup(() => communicator.disconnect());
    return { communicator, result: await communicator.connect() };
  };
  return { events, logger, layer, server, client };
}

describe("hooks", () => {
  it("onConnect, onDisconnect and onReject say what happened and why", async () => {
    const { events, server, client } = await observed();
    const normal = await client();
    expect(events.connect.map((event) => event.scope.path)).toEqual(["/ws/"]);
    await normal.communicator.disconnect(1000);
    const closedByServer = await client();
    await closedByServer.communicator.sendTo("close");
    await closedByServer.communicator.waitForClose();
    const failing = await client();
    await failing.communicator.sendTo("fail");
    await failing.communicator.waitForClose();
    const lost = new WebSocket(wsUrl(server, "/ws/"), { origin: "http://127.0.0.1" });
    await new Promise((resolve) => lost.once("open", resolve));
    lost.terminate();
    await until(() => events.disconnect.length === 4, "four disconnects");
    expect(events.disconnect.map(({ code, reason }) => [code, reason])).toEqual([
      [1000, "client-closed"],
      [4000, "application-closed"],
      [1011, "application-error"],
      [1006, "connection-lost"],
    ]);
    await client("/nowhere/");
    await client("/ws/", "http://evil.example");
    expect(events.reject.map(({ reason, status }) => [reason, status])).toEqual([
      ["denied", 404],
      ["denied", 403],
    ]);
    expect(events.reject[1]?.scope?.path).toBe("/ws/");
    expect(events.reject[1]?.remoteAddress).toBe("127.0.0.1");
  });

  it("a hook that throws is logged and changes nothing", async () => {
    const { logger, client } = await observed({
      onConnect: () => {
        throw new Error("hook failed");
      },
    });
    const { communicator, result } = await client();
    expect(result.connected).toBe(true);
    await communicator.sendTo("still fine");
    expect(await communicator.receiveFrom()).toBe("still fine");
    expect(logger.lines.filter((line) => line.level === "error").map((line) => line.message)).toEqual([
      "the onConnect hook failed",
    ]);
  });
});

describe("stats()", () => {
  it("is a plain snapshot: connections, messages in and out, rejections and drops by reason, the layer's stats", async () => {
    const { server, client } = await observed();
    const first = await client();
    const second = await client();
    await first.communicator.sendTo("a");
    await first.communicator.receiveFrom();
    await second.communicator.sendTo("b");
    await second.communicator.receiveFrom();
    await client("/ws/", "http://evil.example");
    await second.communicator.disconnect();
    await until(() => server.stats().connections.open === 1, "the second socket to close");
    const stats = server.stats();
    expect(stats).toMatchObject({
      connections: { open: 1, handshaking: 0, total: 2 },
      messages: { in: 2, out: 2 },
      queuedBytes: 0,
      rejected: { denied: 1 },
      drops: {},
      layer: { backend: "memory", channels: 1, groups: 0, memberships: 0 },
    });
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
  });

  it("feeds Prometheus through prom-client (the recipe in docs/runtime.md)", async () => {
    const { server, client } = await observed();
    const { communicator } = await client();
    await communicator.sendTo("x");
    await communicator.receiveFrom();
    await client("/ws/", "http://evil.example");
    const registry = new Registry();
    registerWebsocketMetrics(server, registry);
    const metrics = await registry.metrics();
    expect(metrics).toContain("channel_layers_connections_open 1");
    expect(metrics).toContain("channel_layers_connections_total 1");
    expect(metrics).toContain('channel_layers_messages_total{direction="in"} 1');
    expect(metrics).toContain('channel_layers_messages_total{direction="out"} 1');
    expect(metrics).toContain('channel_layers_rejected_total{reason="denied"} 1');
    // Scraped again, totals are not counted twice.
    expect(await registry.metrics()).toContain("channel_layers_connections_total 1");
  });
});

describe("logging", () => {
  it("sends application errors to the logger by default, with the error", async () => {
    const { logger, client } = await observed();
    const { communicator } = await client();
    await communicator.sendTo("fail");
    expect((await communicator.waitForClose()).code).toBe(1011);
    const errors = logger.lines.filter((line) => line.level === "error");
    expect(errors.map((line) => line.message)).toEqual(["the application for /ws/ failed"]);
    expect(errors[0]?.details?.error).toMatchObject({ message: "handler failed on purpose" });
  });

  it("logs a refused Origin once per origin per minute, however often it tries", async () => {
    const { logger, client } = await observed();
    for (let n = 0; n < 3; n++) await client("/ws/", "http://evil.example");
    await client("/ws/", "http://other.example");
    const warnings = logger.lines.filter((line) => line.level === "warn").map((line) => line.message);
    expect(warnings).toEqual([
      'refused a WebSocket from origin "http://evil.example"',
      'refused a WebSocket from origin "http://other.example"',
    ]);
  });
});

describe("docs/runtime.md", () => {
  it("shows the recipes exactly as they are tested", () => {
    const docs = readFileSync(new URL("../../../docs/runtime.md", import.meta.url), "utf8");
    for (const recipe of ["express", "fastify", "socket-io", "prometheus"]) {
      const source = readFileSync(new URL(`./recipes/${recipe}.ts`, import.meta.url), "utf8").trim();
      expect(docs, `docs/runtime.md should show test/recipes/${recipe}.ts as it is`).toContain(source);
    }
  });
});
