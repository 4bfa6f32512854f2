import { closeChannelLayers } from "@channel-layers/runtime";
import { LiveWebsocketCommunicator } from "@channel-layers/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChatServer, startChatServer } from "../src/app.js";
import { readSettings } from "../src/settings.js";
import { jsonScript } from "../src/templates.js";

let chat: ChatServer;
let base = "";
const sockets: LiveWebsocketCommunicator[] = [];

beforeAll(async () => {
  chat = await startChatServer({ ...readSettings({}), port: 0 }, { shutdownSignals: [] });
  base = chat.server.url;
});
afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.disconnect()));
  await chat.server.close();
  await closeChannelLayers();
});

function socket(path: string, options = {}): LiveWebsocketCommunicator {
  const communicator = new LiveWebsocketCommunicator(`${base.replace("http", "ws")}${path}`, options);
  sockets.push(communicator);
  return communicator;
}

describe("settings", () => {
  it("defaults to 127.0.0.1:8000, as runserver, and reads the lists from the environment", () => {
    expect(readSettings({})).toMatchObject({ host: "127.0.0.1", port: 8000, csrfTrustedOrigins: [] });
    expect(
      readSettings({ ALLOWED_HOSTS: "chat.example, .example.org", CSRF_TRUSTED_ORIGINS: "https://a.example" }),
    ).toMatchObject({
      allowedHosts: ["chat.example", ".example.org"],
      csrfTrustedOrigins: ["https://a.example"],
    });
    expect(() => readSettings({ PORT: "http" })).toThrow(/PORT/);
  });

  it("reads the layer from CHANNEL_LAYER_URL and how much each room keeps from CHAT_HISTORY_LENGTH", () => {
    expect(readSettings({})).toMatchObject({ channelLayer: undefined, chatHistoryLength: 100 });
    expect(
      readSettings({ CHANNEL_LAYER_URL: "redis://127.0.0.1:6379?prefix=chat", CHAT_HISTORY_LENGTH: "0" }),
    ).toMatchObject({ channelLayer: "redis://127.0.0.1:6379?prefix=chat", chatHistoryLength: 0 });
    expect(() => readSettings({ CHAT_HISTORY_LENGTH: "-1" })).toThrow(/CHAT_HISTORY_LENGTH/);
    expect(() => readSettings({ CHAT_HISTORY_LENGTH: "many" })).toThrow(/CHAT_HISTORY_LENGTH/);
  });

  it("runs on the settings' layer: in-memory without CHANNEL_LAYER_URL", () => {
    expect(chat.server.channelLayer).toBe(chat.layer);
    expect(chat.layer.constructor.name).toBe("InMemoryChannelLayer");
  });
});

describe("pages", () => {
  it("serves the index, the room with its name as json_script, and redirects like APPEND_SLASH", async () => {
    expect(await (await fetch(`${base}/chat/`)).text()).toContain("What chat room would you like to enter?");
    const room = await (await fetch(`${base}/chat/lobby/`)).text();
    expect(room).toContain('<script id="room-name" type="application/json">"lobby"</script>');
    const redirect = await fetch(`${base}/chat`, { redirect: "manual" });
    expect([redirect.status, redirect.headers.get("location")]).toEqual([301, "/chat/"]);
    expect((await fetch(`${base}/nowhere/`)).status).toBe(404);
  });

  it("serves @channel-layers/client as browser modules that the room page imports", async () => {
    const room = await (await fetch(`${base}/chat/lobby/`)).text();
    expect(room).toContain("from '/static/client/index.js'");
    const index = await fetch(`${base}/static/client/index.js`);
    expect([index.status, index.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"]);
    const code = await index.text();
    expect(code).toContain('export { ChannelLayersClient } from "./client.js"');
    expect(code).not.toMatch(/export type|import type/);
    // Every module it imports is served too.
    for (const [, file] of code.matchAll(/from "\.\/([\w-]+\.js)"/g)) {
      expect((await fetch(`${base}/static/client/${file}`)).status, file).toBe(200);
    }
    expect((await fetch(`${base}/static/client/missing.js`)).status).toBe(404);
    expect((await fetch(`${base}/static/client/index.ts`)).status).toBe(404);
    expect((await fetch(`${base}/static/client/index.js`, { method: "POST" })).status).toBe(405);
  });

  it("escapes a room name so it cannot close the script tag", () => {
    expect(jsonScript("</script><b>&", "x")).toBe(
      '<script id="x" type="application/json">"\\u003C/script\\u003E\\u003Cb\\u003E\\u0026"</script>',
    );
  });
});

describe("chat (the tutorial)", () => {
  it("relays a message to every socket of the room and to no other room", async () => {
    const [alice, bob, carol] = [socket("/ws/chat/lobby/"), socket("/ws/chat/lobby/"), socket("/ws/chat/other/")];
    for (const client of [alice, bob, carol]) expect((await client.connect()).connected).toBe(true);
    await alice.sendJsonTo({ message: "안녕" });
    expect(await bob.receiveJsonFrom()).toEqual({ message: "안녕" });
    expect(await alice.receiveJsonFrom()).toEqual({ message: "안녕" });
    await carol.sendJsonTo({ message: "other room" });
    expect(await carol.receiveJsonFrom()).toEqual({ message: "other room" });
    expect(await bob.receiveNothing()).toBe(true);
  });

  it("rejects a foreign Origin (403) and a room name the route does not take (404)", async () => {
    expect(await socket("/ws/chat/lobby/", { origin: "http://evil.example" }).connect()).toMatchObject({
      connected: false,
      status: 403,
    });
    expect(await socket("/ws/chat/my-room/").connect()).toMatchObject({ connected: false, status: 404 });
  });

  it("closes a socket that sends something other than {message} with 1007", async () => {
    const client = socket("/ws/chat/lobby/");
    await client.connect();
    await client.sendTo("not json");
    expect((await client.waitForClose()).code).toBe(1007);
  });
});

describe("echo", () => {
  it("sends back content and user", async () => {
    const client = socket("/ws/echo/");
    expect((await client.connect()).connected).toBe(true);
    await client.sendJsonTo({ content: "hello", user: "kim", extra: "dropped" });
    expect(await client.receiveJsonFrom()).toEqual({ content: "hello", user: "kim" });
  });
});

describe("notifications", () => {
  it("group-sends what is POSTed to every socket of the center, and gives newcomers the backlog", async () => {
    const [first, second, elsewhere] = [
      socket("/ws/notification/seoul/"),
      socket("/ws/notification/seoul/"),
      socket("/ws/notification/busan/"),
    ];
    for (const client of [first, second, elsewhere]) await client.connect();
    const response = await fetch(`${base}/notification/seoul/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ data: { title: "점검", level: 2 } }),
    });
    expect(response.status).toBe(202);
    for (const client of [first, second]) {
      expect(await client.receiveJsonFrom()).toEqual({ data: { title: "점검", level: 2 } });
    }
    expect(await elsewhere.receiveNothing()).toBe(true);
    const late = socket("/ws/notification/seoul/");
    await late.connect();
    expect(await late.receiveJsonFrom()).toEqual({ data: [{ title: "점검", level: 2 }] });
  });

  it("answers 400 to a JSON body that does not parse", async () => {
    const response = await fetch(`${base}/notification/seoul/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(response.status).toBe(400);
  });
});
