import type { Message } from "@channel-layers/core";
import { describe, expect, it } from "vitest";
import {
  AcceptConnection,
  DenyConnection,
  JsonWebsocketConsumer,
  WebsocketConsumer,
  type WebsocketData,
} from "../src/index.js";
import { WebsocketCommunicator } from "../src/testing/index.js";
import { layersClosedAfterEach } from "./fixtures/layers.js";

const newLayer = layersClosedAfterEach();

/** The seed's chat consumer: joins chat_<room> on connect and fans frames out to the room. */
class ChatConsumer extends WebsocketConsumer {
  roomGroupName = "";
  static disconnects: number[] = [];

  override async connect() {
    this.roomGroupName = `chat_${this.scope.url_route.kwargs.room_name ?? "lobby"}`;
    await this.groupAdd(this.roomGroupName);
    await this.accept();
  }
  override async disconnect(code: number) {
    ChatConsumer.disconnects.push(code);
  }
  override async receive(data: WebsocketData) {
    const { message } = JSON.parse(data as string) as { message: string };
    await this.groupSend(this.roomGroupName, { type: "chat_message", message });
  }
  async chat_message(event: Message) {
    await this.send(JSON.stringify({ message: event.message }));
  }
}

describe("WebsocketConsumer", () => {
  it("relays one client's message to every socket in its group", async () => {
    const layer = newLayer();
    const open = (room: string) =>
      new WebsocketCommunicator(ChatConsumer, `/ws/chat/${room}/`, {
        channelLayer: layer,
        scope: { url_route: { args: [], kwargs: { room_name: room } } },
      });
    const [alice, bob, carol] = [open("lobby"), open("lobby"), open("other")];
    for (const client of [alice, bob, carol]) expect((await client.connect()).connected).toBe(true);
    await alice.sendJsonTo({ message: "hello" });
    expect(await alice.receiveJsonFrom()).toEqual({ message: "hello" });
    expect(await bob.receiveJsonFrom()).toEqual({ message: "hello" });
    expect(await carol.receiveNothing()).toBe(true);
    ChatConsumer.disconnects = [];
    await Promise.all([alice.disconnect(1000), bob.disconnect(4001), carol.disconnect()]);
    expect(ChatConsumer.disconnects.sort()).toEqual([1000, 1000, 4001]);
    expect(layer.stats()).toMatchObject({ channels: 0, groups: 0, memberships: 0 });
  });

  it("joins the static groups on connect and leaves them on disconnect", async () => {
    const layer = newLayer();
    class Announcements extends WebsocketConsumer {
      static override groups = ["news", "weather"];
      async announce(event: Message) {
        await this.send(String(event.text));
      }
    }
    const client = new WebsocketCommunicator(Announcements, "/", { channelLayer: layer });
    await client.connect();
    expect(layer.stats().memberships).toBe(2);
    await layer.groupSend("weather", { type: "announce", text: "rain" });
    expect(await client.receiveFrom()).toBe("rain");
    await client.disconnect();
    expect(layer.stats()).toMatchObject({ channels: 0, groups: 0, memberships: 0 });
  });

  it("accepts with a subprotocol the client offered", async () => {
    class Picky extends WebsocketConsumer {
      override async connect() {
        await this.accept(this.scope.subprotocols.includes("chat.v2") ? "chat.v2" : null);
      }
    }
    const client = new WebsocketCommunicator(Picky, "/", { subprotocols: ["chat.v1", "chat.v2"], channelLayer: null });
    expect(await client.connect()).toEqual({ connected: true, subprotocol: "chat.v2" });
    await client.disconnect();
  });

  it("rejects the handshake (403) when connect() closes or throws DenyConnection, and accepts on AcceptConnection", async () => {
    const disconnects: number[] = [];
    class Gate extends WebsocketConsumer {
      static override channelLayer = null;
      override async connect() {
        if (this.scope.query_string === "close") await this.close(4003);
        else if (this.scope.query_string === "deny") throw new DenyConnection();
        else throw new AcceptConnection();
      }
      override async disconnect(code: number) {
        disconnects.push(code);
      }
    }
    const closed = new WebsocketCommunicator(Gate, "/?close");
    expect(await closed.connect()).toEqual({ connected: false, status: 403, code: 4003 });
    await closed.wait();
    const denied = new WebsocketCommunicator(Gate, "/?deny");
    expect(await denied.connect()).toEqual({ connected: false, status: 403, code: 1000 });
    await denied.wait();
    expect(disconnects).toEqual([1006, 1006]);
    const accepted = new WebsocketCommunicator(Gate, "/?accept");
    expect((await accepted.connect()).connected).toBe(true);
    await accepted.disconnect();
  });

  it("hands text frames to receive() as strings and binary frames as bytes, and sends both back", async () => {
    class Mirror extends WebsocketConsumer {
      static override channelLayer = null;
      override async receive(data: WebsocketData) {
        await this.send(typeof data === "string" ? `text:${data}` : Uint8Array.from(data).reverse());
      }
    }
    const client = new WebsocketCommunicator(Mirror, "/");
    await client.connect();
    await client.sendTo("abc");
    expect(await client.receiveFrom()).toBe("text:abc");
    await client.sendTo(new Uint8Array([1, 2, 3]));
    expect(await client.receiveFrom()).toEqual(new Uint8Array([3, 2, 1]));
    await client.disconnect();
  });

  it("closes with a code after sending when send(data, code) is used, then ends on the disconnect", async () => {
    class Goodbye extends WebsocketConsumer {
      static override channelLayer = null;
      override async receive() {
        await this.send("bye", 4000);
      }
    }
    const client = new WebsocketCommunicator(Goodbye, "/");
    await client.connect();
    await client.sendTo("x");
    expect(await client.receiveFrom()).toBe("bye");
    expect(await client.receiveOutput()).toEqual({ type: "websocket.close", code: 4000 });
    await client.wait();
  });

  it("rejects send() of something that is neither text nor bytes with INVALID_EVENT", async () => {
    class Wrong extends WebsocketConsumer {
      static override channelLayer = null;
      override async receive() {
        await this.send({ not: "data" } as unknown as string);
      }
    }
    const client = new WebsocketCommunicator(Wrong, "/");
    await client.connect();
    await client.sendTo("x");
    await expect(client.wait()).rejects.toMatchObject({ code: "INVALID_EVENT" });
  });

  it("returns a rejected promise, never a synchronous throw, from send(), sendJson() and dispatch()", async () => {
    const outcomes: string[] = [];
    class Failing extends JsonWebsocketConsumer {
      static override channelLayer = null;
      static override encodeJson(): string {
        throw new Error("cannot encode");
      }
      override async receiveJson() {
        // Each call must hand back a promise to catch; a synchronous throw would skip `.catch`.
        for (const call of [
          () => this.send(5 as unknown as string),
          () => this.sendJson({ any: "thing" }),
          () => this.dispatch({ type: "no.such.handler" }),
        ]) {
          await call().catch((error: { code?: string; message: string }) => outcomes.push(error.code ?? error.message));
        }
        await this.send("done");
      }
    }
    const client = new WebsocketCommunicator(Failing, "/");
    await client.connect();
    await client.sendTo("{}");
    expect(await client.receiveFrom()).toBe("done");
    expect(outcomes).toEqual(["INVALID_EVENT", "cannot encode", "NO_HANDLER"]);
    await client.disconnect();
  });
});

describe("JsonWebsocketConsumer", () => {
  class Echo extends JsonWebsocketConsumer {
    static override channelLayer = null;
    override async receiveJson(content: unknown) {
      await this.sendJson({ echo: content });
    }
  }

  it("decodes text frames to receiveJson and encodes sendJson", async () => {
    const client = new WebsocketCommunicator(Echo, "/");
    await client.connect();
    await client.sendJsonTo({ content: "안녕", user: "kim" });
    expect(await client.receiveJsonFrom()).toEqual({ echo: { content: "안녕", user: "kim" } });
    await client.disconnect();
  });

  it("closes the socket with 1007 on invalid JSON and 1003 on a binary frame, without failing", async () => {
    for (const [frame, code] of [
      ["{not json", 1007],
      [new Uint8Array([1]), 1003],
    ] as const) {
      const client = new WebsocketCommunicator(Echo, "/");
      await client.connect();
      await client.sendTo(frame);
      expect(await client.receiveOutput()).toMatchObject({ type: "websocket.close", code });
      await expect(client.wait()).resolves.toBeUndefined();
    }
  });
});
