import { hasHistory } from "@channel-layers/core";
import { closeChannelLayers, getChannelLayer } from "@channel-layers/runtime";
import { WebsocketCommunicator } from "@channel-layers/runtime/testing";
import { afterEach, describe, expect, it } from "vitest";
import { createApplication } from "../src/asgi.js";
import { configureChatLayer } from "../src/layers.js";
import { readSettings } from "../src/settings.js";

// The room page's consumer (RoomConsumer, ws/room/<room>/) on the in-memory layer, which has
// presence and history: who is online, and what a page missed while it was away.

const application = createApplication(readSettings({}));
const ORIGIN = { origin: "http://localhost" };

afterEach(async () => {
  await closeChannelLayers();
});

type Frame = { type?: string; message?: string; group?: string; offset?: string | number; [key: string]: unknown };
type Members = Record<string, { metas: { ref: string; online_at: number }[] }>;

const open = (path: string, headers: Record<string, string> = {}) =>
  new WebsocketCommunicator(application, path, { headers: { ...ORIGIN, ...headers } });

async function connected(path: string, headers: Record<string, string> = {}): Promise<WebsocketCommunicator> {
  const client = open(path, headers);
  expect((await client.connect()).connected).toBe(true);
  return client;
}

const receive = async (client: WebsocketCommunicator) => (await client.receiveJsonFrom(5000)) as Frame;

async function receiveAll(client: WebsocketCommunicator, count: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) frames.push(await receive(client));
  return frames;
}

/** Reads frames until one of `type` comes; returns it and what came before it. */
async function receiveUntil(client: WebsocketCommunicator, type: string): Promise<{ frame: Frame; before: Frame[] }> {
  const before: Frame[] = [];
  for (;;) {
    const frame = await receive(client);
    if (frame.type === type) return { frame, before };
    before.push(frame);
  }
}

const resumeFrame = (offsets: Record<string, unknown>) => ({ type: "channel_layers.resume", offsets });

/** A page's first frames: who it is and what the layer can do, then the room's presence snapshot. */
async function joinedAs(client: WebsocketCommunicator): Promise<{ joined: Frame; members: Members }> {
  const joined = await receive(client);
  const { frame } = await receiveUntil(client, "presence.state");
  return { joined, members: frame.state as Members };
}

async function sendToRoom(room: string, messages: string[]): Promise<void> {
  const layer = await getChannelLayer();
  for (const message of messages) await layer.groupSend(`chat_${room}`, { type: "chat_message", message });
}

describe("who is online", () => {
  it("tracks each page by name in online_<room>, sends the snapshot, then joins and leaves", async () => {
    await configureChatLayer({ channelLayer: undefined, chatHistoryLength: 100 });
    const alice = await connected("/ws/room/lobby/?name=alice");
    const first = await joinedAs(alice);
    expect(first.joined).toEqual({ type: "room.joined", name: "alice", presence: true, resume: true });
    expect(first.members).toEqual({ alice: { metas: [{ online_at: expect.any(Number), ref: expect.any(String) }] } });
    await alice.sendJsonTo(resumeFrame({}));
    // Her own join, sent to the group before the snapshot, comes after it.
    expect(await receive(alice)).toMatchObject({ type: "presence.diff", group: "online_lobby", joins: { alice: {} } });

    const bob = await connected("/ws/room/lobby/?name=bob");
    expect(Object.keys((await joinedAs(bob)).members).sort()).toEqual(["alice", "bob"]);
    expect(await receive(alice)).toMatchObject({ type: "presence.diff", joins: { bob: {} }, leaves: {} });

    // Another room's page is not in this list, nor this room's in its.
    const carol = await connected("/ws/room/other/?name=carol");
    expect(Object.keys((await joinedAs(carol)).members)).toEqual(["carol"]);

    await bob.disconnect();
    expect(await receive(alice)).toMatchObject({ type: "presence.diff", joins: {}, leaves: { bob: {} } });
    expect(await alice.receiveNothing(200)).toBe(true);
    await Promise.all([alice.disconnect(), carol.disconnect()]);
  });

  it("names a page by its logged-in user, else ?name= (cut to 40 characters), else anonymous", async () => {
    await configureChatLayer({ channelLayer: undefined, chatHistoryLength: 100 });
    const cases: [string, Record<string, string>, string][] = [
      ["/ws/room/lobby/?name=alice", { cookie: "username=carol" }, "carol"],
      [`/ws/room/lobby/?name=${encodeURIComponent(` ${"😀".repeat(50)} `)}`, {}, "😀".repeat(40)],
      ["/ws/room/lobby/?name=%20", {}, "anonymous"],
      ["/ws/room/lobby/", {}, "anonymous"],
    ];
    for (const [path, headers, name] of cases) {
      const client = await connected(path, headers);
      expect(await receive(client)).toMatchObject({ type: "room.joined", name });
      await client.disconnect();
    }
  });

  it("refuses a room name too long for its groups, and closes on a frame that is not {message}", async () => {
    await configureChatLayer({ channelLayer: undefined, chatHistoryLength: 100 });
    expect(await open(`/ws/room/${"r".repeat(91)}/`).connect()).toMatchObject({ connected: false, status: 403 });
    const client = await connected(`/ws/room/${"r".repeat(90)}/?name=x`);
    await joinedAs(client);
    await client.sendJsonTo({ text: "no message key" });
    let event = await client.receiveOutput(5000);
    while (event.type === "websocket.send") event = await client.receiveOutput(5000);
    expect(event).toMatchObject({ type: "websocket.close", code: 1007 });
  });
});

describe("resume after reconnect", () => {
  it("gives a page that comes back what it missed, in order and once each, then live ones", async () => {
    await configureChatLayer({ channelLayer: undefined, chatHistoryLength: 100 });
    const alice = await connected("/ws/room/lobby/?name=alice");
    await joinedAs(alice);
    await alice.sendJsonTo(resumeFrame({}));
    await alice.sendJsonTo({ message: "m0" });
    const { frame: seen } = await receiveUntil(alice, "chat.message");
    expect(seen).toEqual({ type: "chat.message", message: "m0", group: "chat_lobby", offset: expect.anything() });
    await alice.disconnect();

    await sendToRoom("lobby", ["m1", "m2", "m3"]);
    const again = await connected("/ws/room/lobby/?name=alice");
    await joinedAs(again);
    await again.sendJsonTo(resumeFrame({ chat_lobby: seen.offset }));
    const replayed = (await receiveAll(again, 4)).filter((frame) => frame.type === "chat.message");
    expect(replayed.map((frame) => frame.message)).toEqual(["m1", "m2", "m3"]);
    expect(new Set(replayed.map((frame) => frame.offset)).size).toBe(3);
    expect(replayed.every((frame) => frame.group === "chat_lobby")).toBe(true);
    await sendToRoom("lobby", ["m4"]);
    expect(await receive(again)).toMatchObject({ type: "chat.message", message: "m4" });
    expect(await again.receiveNothing(200)).toBe(true);
    await again.disconnect();
  });

  it("says when the room no longer keeps what a page missed, then replays what it keeps", async () => {
    await configureChatLayer({ channelLayer: undefined, chatHistoryLength: 3 });
    await sendToRoom("lobby", ["m0"]);
    const layer = await getChannelLayer();
    if (!hasHistory(layer)) throw new Error("the in-memory layer keeps history");
    const { messages } = await layer.groupHistory("chat_lobby", { after: 0 });
    await sendToRoom("lobby", ["m1", "m2", "m3", "m4", "m5"]);
    const client = await connected("/ws/room/lobby/?name=alice");
    await joinedAs(client);
    await client.sendJsonTo(resumeFrame({ chat_lobby: messages[0]?.offset }));
    const { before } = await receiveUntil(client, "channel_layers.gap");
    expect(before.every((frame) => frame.type === "presence.diff")).toBe(true);
    const kept = (await receiveAll(client, 3)).map((frame) => frame.message);
    expect(kept).toEqual(["m3", "m4", "m5"]);
    await client.disconnect();
  });

  it("keeps no history with CHAT_HISTORY_LENGTH=0: the page is told, and chat goes on", async () => {
    const { resume } = await configureChatLayer({ channelLayer: undefined, chatHistoryLength: 0 });
    expect(resume).toBe(false);
    const client = await connected("/ws/room/lobby/?name=alice");
    expect(await receive(client)).toEqual({ type: "room.joined", name: "alice", presence: true, resume: false });
    await client.sendJsonTo({ message: "hello" });
    const { frame } = await receiveUntil(client, "chat.message");
    expect(frame).toEqual({ type: "chat.message", message: "hello" });
    await client.disconnect();
  });
});

describe("the tutorial's sockets in the same room", () => {
  it("chat with the room page and get no presence frames", async () => {
    await configureChatLayer({ channelLayer: undefined, chatHistoryLength: 100 });
    const tutorial = await connected("/ws/chat/lobby/");
    const page = await connected("/ws/room/lobby/?name=alice");
    await joinedAs(page);
    await page.sendJsonTo(resumeFrame({}));
    await tutorial.sendJsonTo({ message: "from the tutorial" });
    expect((await receiveUntil(page, "chat.message")).frame).toMatchObject({ message: "from the tutorial" });
    await page.sendJsonTo({ message: "from the page" });
    expect(await tutorial.receiveJsonFrom(5000)).toEqual({ message: "from the tutorial" });
    expect(await tutorial.receiveJsonFrom(5000)).toEqual({ message: "from the page" });
    expect(await tutorial.receiveNothing(200)).toBe(true);
    await Promise.all([tutorial.disconnect(), page.disconnect()]);
  });
});
