import { createChannelLayer, JsonWebsocketConsumer, serve, type WebsocketServer } from "@channel-layers/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ChannelLayersClient, type ClientOptions, PresenceState, type ServerMessage } from "../src/index.js";
import { closedAfterTest, LifecycleRecorder } from "./fixtures/servers.js";

/** A chat room on the runtime: frames carry group and offset; each socket tracks its ?user. */
class Room extends JsonWebsocketConsumer {
  static override groups = ["chat_room"];
  static override includePositions = true;

  override async connect() {
    await this.accept();
    const user = new URLSearchParams(this.scope.query_string).get("user");
    if (user !== null) {
      await this.presence.track("chat_room", user, { since: "now" });
      await this.sendPresenceState("chat_room");
    }
  }

  async chat_message(event: { n?: unknown }) {
    await this.sendJson({ type: "chat.message", n: event.n });
  }
}

type Layer = Awaited<ReturnType<typeof createChannelLayer>>;
const running: { server: WebsocketServer; layer: Layer }[] = [];
afterEach(async () => {
  for (const { server, layer } of running.splice(0)) {
    await server.close();
    await layer.close();
  }
});

async function startRoom(maxLength = 100) {
  const layer = await createChannelLayer({ backend: "memory", options: { groupHistory: [["chat_*", { maxLength }]] } });
  const server = await serve(Room, { port: 0, channelLayer: layer, shutdownSignals: [] });
  running.push({ server, layer });
  const url = (query = "") => `${server.url.replace("http", "ws")}/ws/room/${query}`;
  const send = async (from: number, count: number) => {
    for (let n = from; n < from + count; n++) await layer.groupSend("chat_room", { type: "chat.message", n });
  };
  return { layer, url, send };
}

const fast: ClientOptions = { WebSocket, reconnectDelayMs: 5, heartbeatIntervalMs: 0 };

/** Collects the `n` of every chat.message frame a client gets, with a wait for a count. */
function collect(client: ChannelLayersClient) {
  const got: number[] = [];
  const watchers = new Set<() => void>();
  client.on<ServerMessage & { n: number }>("chat.message", (message) => {
    got.push(message.n);
    for (const check of [...watchers]) check();
  });
  const count = (wanted: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (got.length < wanted) return;
        watchers.delete(check);
        resolve();
      };
      watchers.add(check);
      check();
    });
  return { got, count };
}

describe("the client against the runtime: resume and presence", () => {
  it("gets the 50 messages sent while it was away once each, in order, after reconnecting with its offset", async () => {
    const room = await startRoom();
    const client = closedAfterTest(new ChannelLayersClient(room.url(), fast));
    const lifecycle = new LifecycleRecorder(client);
    const { got, count } = collect(client);
    await lifecycle.nth("open", 1);
    await room.send(0, 1);
    await count(1);
    expect(client.offsets).toEqual({ chat_room: expect.anything() });

    client.close();
    await room.send(1, 50);
    client.connect();
    await count(51);
    await room.send(51, 1);
    await count(52);
    expect(got).toEqual(Array.from({ length: 52 }, (_, n) => n));
    expect(lifecycle.of("gap")).toEqual([]);
  });

  it("reports a gap when the history no longer reaches back, then gets what is kept", async () => {
    const room = await startRoom(10);
    const client = closedAfterTest(new ChannelLayersClient(room.url(), fast));
    const lifecycle = new LifecycleRecorder(client);
    const { got, count } = collect(client);
    await lifecycle.nth("open", 1);
    await room.send(0, 1);
    await count(1);
    client.close();
    await room.send(1, 30);
    client.connect();
    expect(await lifecycle.nth("gap", 1)).toEqual({ group: "chat_room" });
    await count(11);
    expect(got).toEqual([0, ...Array.from({ length: 10 }, (_, i) => 21 + i)]);
  });

  it("keeps a PresenceState in step: a snapshot, then joins and leaves, each reported once", async () => {
    const room = await startRoom();
    const alice = closedAfterTest(new ChannelLayersClient(room.url("?user=alice"), fast));
    const presence = new PresenceState(alice, { group: "chat_room" });
    const changes: string[] = [];
    presence.onJoin((key, _current, joined) => changes.push(`join ${key} ${joined.metas.length}`));
    presence.onLeave((key, current, left) =>
      changes.push(`leave ${key} ${left.metas.length} left ${current?.metas.length}`),
    );
    const synced = () => new Promise<void>((resolve) => presence.onSync(resolve));

    await synced();
    expect(Object.keys(presence.state)).toEqual(["alice"]);
    const bob = new ChannelLayersClient(room.url("?user=bob"), fast);
    while (!Object.hasOwn(presence.state, "bob")) await synced();
    bob.close();
    while (Object.hasOwn(presence.state, "bob")) await synced();
    expect(changes).toEqual(["join alice 1", "join bob 1", "leave bob 1 left 0"]);
    expect(presence.list((key, { metas }) => `${key}:${metas[0]?.since}`)).toEqual(["alice:now"]);
    presence.close();
  });
});
