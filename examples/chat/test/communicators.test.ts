import { closeChannelLayers, configureChannelLayers, getChannelLayer } from "@channel-layers/runtime";
import { WebsocketCommunicator } from "@channel-layers/runtime/testing";
import { afterEach, expect, it } from "vitest";
import { createApplication } from "../src/asgi.js";
import { readSettings } from "../src/settings.js";

const application = createApplication(readSettings({}));
const headers = { origin: "http://localhost" }; // AllowedHostsOriginValidator wants one

// Each test on a fresh in-memory layer (the settings' default without CHANNEL_LAYER_URL).
afterEach(async () => {
  await closeChannelLayers();
  configureChannelLayers({});
});

it("echo sends back content and user", async () => {
  const communicator = new WebsocketCommunicator(application, "/ws/echo/", { headers });
  const { connected } = await communicator.connect();
  expect(connected).toBe(true);
  await communicator.sendJsonTo({ content: "hello", user: "alice" });
  expect(await communicator.receiveJsonFrom()).toEqual({ content: "hello", user: "alice" });
  await communicator.disconnect();
});

it("chat relays to the room and nobody else", async () => {
  const alice = new WebsocketCommunicator(application, "/ws/chat/lobby/", { headers });
  const bob = new WebsocketCommunicator(application, "/ws/chat/lobby/", { headers });
  const carol = new WebsocketCommunicator(application, "/ws/chat/other/", { headers });
  for (const communicator of [alice, bob, carol]) {
    const { connected } = await communicator.connect();
    expect(connected).toBe(true);
  }
  await alice.sendJsonTo({ message: "hello" });
  expect(await bob.receiveJsonFrom()).toEqual({ message: "hello" });
  expect(await alice.receiveJsonFrom()).toEqual({ message: "hello" });
  expect(await carol.receiveNothing()).toBe(true);
  for (const communicator of [alice, bob, carol]) await communicator.disconnect();
});

it("a notification reaches the sockets of its center", async () => {
  const communicator = new WebsocketCommunicator(application, "/ws/notification/seoul/", { headers });
  const { connected } = await communicator.connect();
  expect(connected).toBe(true);
  await (await getChannelLayer()).groupSend("seoul", { type: "notify", data: "점검 안내" });
  expect(await communicator.receiveJsonFrom()).toEqual({ data: "점검 안내" });
  await communicator.disconnect();
});

it("a foreign origin is refused", async () => {
  const communicator = new WebsocketCommunicator(application, "/ws/chat/lobby/", {
    headers: { origin: "http://evil.example" },
  });
  const { connected } = await communicator.connect();
  expect(connected).toBe(false);
});
