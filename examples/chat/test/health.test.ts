import { closeChannelLayers } from "@channel-layers/runtime";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ChatServer, startChatServer } from "../src/app.js";
import { readSettings } from "../src/settings.js";

// The endpoints a load balancer, systemd or Kubernetes asks (docs/deployment.md); the drain on
// SIGTERM behind nginx is tested in integration/test/nginx.test.ts.
let chat: ChatServer;

beforeAll(async () => {
  chat = await startChatServer({ ...readSettings({}), port: 0 }, { shutdownSignals: [] });
});
afterAll(async () => {
  await chat.server.close();
  await closeChannelLayers();
});

it("answers /healthz (alive) and /readyz (a round trip through its layer)", async () => {
  const live = await fetch(`${chat.server.url}/healthz`);
  expect([live.status, await live.json()]).toEqual([200, { status: "alive" }]);
  const ready = await fetch(`${chat.server.url}/readyz`);
  expect([ready.status, await ready.json()]).toEqual([200, { status: "ready" }]);
});

it("is not ready once its layer is closed", async () => {
  await closeChannelLayers();
  const ready = await fetch(`${chat.server.url}/readyz`);
  expect([ready.status, await ready.json()]).toEqual([503, { status: "not-ready", reason: "layer-closed" }]);
});
