import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { InMemoryChannelLayer } from "@channel-layers/memory";
import { RedisChannelLayer } from "@channel-layers/redis";
import { hasLocalBinary, servicesRequired, startRedis } from "@channel-layers/testing";
import { afterAll, describe, expect, it } from "vitest";
import {
  attach,
  createHealthChecks,
  onShutdown,
  ProtocolTypeRouter,
  shutdown,
  WebsocketConsumer,
  withHealthChecks,
} from "../src/index.js";
import { LiveWebsocketCommunicator } from "../src/testing/index.js";
import { cleanupsAfterEach, serveForTest } from "./fixtures/servers.js";

const cleanup = cleanupsAfterEach();
const memory = new InMemoryChannelLayer();
afterAll(() => memory.close());

async function get(url: string, method = "GET"): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method });
  const text = await response.text();
  return { status: response.status, body: text === "" ? "" : JSON.parse(text) };
}

describe("withHealthChecks()", () => {
  it("answers /healthz and /readyz on a working layer and hands every other request on", async () => {
    const http = withHealthChecks((_request, response) => void response.end("the app"), { channelLayer: memory });
    const server = await serveForTest(ProtocolTypeRouter({ http }), { channelLayer: null }, cleanup);
    expect(await get(`${server.url}/healthz`)).toEqual({ status: 200, body: { status: "alive" } });
    expect(await get(`${server.url}/readyz?probe=1`)).toEqual({ status: 200, body: { status: "ready" } });
    expect(await get(`${server.url}/readyz`, "HEAD")).toEqual({ status: 200, body: "" });
    expect((await get(`${server.url}/readyz`, "POST")).status).toBe(405);
    expect(await (await fetch(`${server.url}/chat/`)).text()).toBe("the app");
    // The round trips left nothing in the layer.
    expect(memory.stats()).toMatchObject({ channels: 0 });
  });

  it("answers 404 for other paths without a handler, and takes other paths", async () => {
    const http = withHealthChecks(undefined, { channelLayer: null, livenessPath: "/live", readinessPath: "/ready" });
    const server = await serveForTest(ProtocolTypeRouter({ http }), { channelLayer: null }, cleanup);
    expect((await get(`${server.url}/live`)).status).toBe(200);
    expect(await get(`${server.url}/ready`)).toEqual({ status: 200, body: { status: "ready" } });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(404);
  });
});

describe("createHealthChecks()", () => {
  it("is not ready on a closed layer", async () => {
    const layer = new InMemoryChannelLayer();
    const health = createHealthChecks({ channelLayer: layer });
    expect(await health.check()).toEqual({ ready: true });
    await layer.close();
    expect(await health.check()).toEqual({ ready: false, reason: "layer-closed" });
  });

  it("refuses a timeout that is not a positive number", () => {
    expect(() => createHealthChecks({ timeoutMs: 0 })).toThrow(/timeoutMs must be a positive number/);
  });

  // A throwaway redis-server of our own, to pause; CI must have the binary.
  const redisMissing = !hasLocalBinary("redis") || process.env.CHANNEL_LAYERS_LOCAL_SERVERS === "0";
  if (redisMissing && servicesRequired()) throw new Error("The health tests need the redis-server binary");
  it.skipIf(redisMissing)(
    "is not ready while the Redis server does not answer, and ready again once it does",
    async () => {
      const redis = await startRedis({ throwaway: true, required: true });
      if (redis === undefined) throw new Error("no throwaway redis-server");
      cleanup(() => redis.stop());
      const layer = new RedisChannelLayer({ hosts: [redis.url], prefix: "health" });
      cleanup(() => layer.close());
      const health = createHealthChecks({ channelLayer: layer, timeoutMs: 500 });
      expect(await health.check()).toEqual({ ready: true });

      await redis.kill("SIGSTOP"); // a server that hangs: commands neither answer nor fail
      cleanup(() => redis.kill("SIGCONT"));
      const [first, second] = await Promise.all([health.check(), health.check()]);
      expect(first).toEqual({ ready: false, reason: "layer-unavailable" });
      expect(second).toBe(first); // probes that arrive together share one round trip

      await redis.kill("SIGCONT");
      expect(await health.check()).toEqual({ ready: true });
    },
  );
});

// Last in the file: it runs this process's shutdown.
it("answers 503 shutting-down from the first step of the shutdown while liveness stays 200", async () => {
  let releaseDisconnect: () => void = () => undefined;
  const disconnecting = new Promise<void>((resolve) => {
    releaseDisconnect = resolve;
  });
  let disconnectStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    disconnectStarted = resolve;
  });
  class SlowToLeave extends WebsocketConsumer {
    override async disconnect() {
      disconnectStarted();
      await disconnecting;
    }
  }
  // attach(): the HTTP server is ours and stays up through the drain, so /readyz can be asked.
  const httpServer = createServer(withHealthChecks(undefined, { channelLayer: memory }));
  httpServer.listen(0, "127.0.0.1");
  await once(httpServer, "listening");
  const base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  await attach(httpServer, SlowToLeave, { channelLayer: null, path: "/ws/" });
  onShutdown(() => new Promise((resolve) => httpServer.close(resolve)));
  const client = new LiveWebsocketCommunicator(`${base.replace("http", "ws")}/ws/`);
  expect((await client.connect()).connected).toBe(true);
  expect(await get(`${base}/readyz`)).toEqual({ status: 200, body: { status: "ready" } });

  const done = shutdown();
  await started;
  expect((await client.waitForClose(10_000)).code).toBe(1001);
  expect(await get(`${base}/readyz`)).toEqual({ status: 503, body: { status: "not-ready", reason: "shutting-down" } });
  expect(await get(`${base}/healthz`)).toEqual({ status: 200, body: { status: "alive" } });
  releaseDisconnect();
  await done;
  expect(httpServer.listening).toBe(false);
});
