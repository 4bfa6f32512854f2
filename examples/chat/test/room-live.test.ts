import { ChannelLayersClient, PresenceState } from "@channel-layers/client";
import { closeChannelLayers, serve } from "@channel-layers/runtime";
import { waitFor } from "@channel-layers/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type ChatServer, startChatServer } from "../src/app.js";
import { createApplication } from "../src/asgi.js";
import { readSettings } from "../src/settings.js";

// The room page's protocol over real sockets: @channel-layers/client (as the page uses it, here
// in Node) against the running example, whose server goes away and comes back on the same port.

const settings = { ...readSettings({}), port: 0 };

/** `ws` with the Origin a browser on the page would send (AllowedHostsOriginValidator wants one). */
class PageWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols, { origin: "http://127.0.0.1" });
  }
}
let chat: ChatServer;
const clients: ChannelLayersClient[] = [];

beforeAll(async () => {
  chat = await startChatServer(settings, { shutdownSignals: [] });
});
afterAll(async () => {
  for (const client of clients) client.close();
  await chat.server.close();
  await closeChannelLayers();
});

/** A room page in Node: its client, who it sees online, and the messages it showed. */
function page(name: string) {
  const url = `${chat.server.url.replace("http", "ws")}/ws/room/lobby/?name=${name}`;
  const client = new ChannelLayersClient(url, {
    WebSocket: PageWebSocket,
    reconnectDelayMs: 50,
    maxReconnectDelayMs: 500,
  });
  clients.push(client);
  const presence = new PresenceState(client, { group: "online_lobby" });
  const log: string[] = [];
  client.on<{ type: string; message: string }>("chat.message", (frame) => log.push(frame.message));
  const online = () => presence.list((key, { metas }) => `${key}×${metas.length}`).sort();
  return { client, log, online };
}

it("reconnects by itself after the server comes back, shows what it missed once each, and its presence recovers", async () => {
  const alice = page("alice");
  const bob = page("bob");
  await waitFor("both pages to see both online", async () =>
    [alice, bob].every((tab) => tab.online().join() === "alice×1,bob×1"),
  );
  bob.client.send({ message: "before" });
  await waitFor("alice to see bob's message", async () => alice.log.includes("before"));

  // The server goes away (every socket closed with 1001) while a view sends to the room.
  const port = chat.server.port;
  await chat.server.close();
  await waitFor("both clients to be reconnecting", async () =>
    [alice, bob].every((tab) => tab.client.state !== "open"),
  );
  for (const message of ["m1", "m2", "m3"]) {
    await chat.layer.groupSend("chat_lobby", { type: "chat_message", message });
  }
  alice.client.send({ message: "queued while away" });
  chat.server = await serve(createApplication(settings), { host: settings.host, port, shutdownSignals: [] });

  await waitFor("alice to show what she missed", async () => alice.log.includes("queued while away"));
  await waitFor("bob to show alice's queued message", async () => bob.log.includes("queued while away"));
  expect(alice.log).toEqual(["before", "m1", "m2", "m3", "queued while away"]);
  expect(bob.log).toEqual(["before", "m1", "m2", "m3", "queued while away"]);
  await waitFor("both pages to see both online again", async () =>
    [alice, bob].every((tab) => tab.online().join() === "alice×1,bob×1"),
  );
});
