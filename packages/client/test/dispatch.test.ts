import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ChannelLayersClient, type ClientError, type ServerMessage } from "../src/index.js";
import { closedAfterTest, LifecycleRecorder, TestServer } from "./fixtures/servers.js";

async function connected() {
  const server = await TestServer.start();
  const client = closedAfterTest(new ChannelLayersClient(server.url, { WebSocket, heartbeatIntervalMs: 0 }));
  const lifecycle = new LifecycleRecorder(client);
  await lifecycle.nth("open", 1);
  /** Sends frames from the server, then a marker, and resolves when the client got the marker. */
  const serverSends = (...frames: (string | Buffer)[]) =>
    new Promise<void>((resolve) => {
      client.once("test.done", () => resolve());
      for (const frame of frames) server.latest.send(frame);
      server.latest.send('{"type":"test.done"}');
    });
  return { client, lifecycle, server, serverSends };
}

const frame = (content: unknown) => JSON.stringify(content);

interface ChatMessage extends ServerMessage {
  type: "chat.message";
  message: string;
}

describe("dispatch by type", () => {
  it("calls the handlers of a frame's type in order, and the catch-all with every frame, typed or not", async () => {
    const { client, serverSends } = await connected();
    const chat: string[] = [];
    const notices: unknown[] = [];
    const everything: unknown[] = [];
    client.on<ChatMessage>("chat.message", (message) => chat.push(`a:${message.message}`));
    client.on<ChatMessage>("chat.message", (message) => chat.push(`b:${message.message}`));
    client.on("notice", (message) => notices.push(message));
    client.onAny((content) => everything.push(content));

    await serverSends(
      frame({ type: "chat.message", message: "one" }),
      frame({ message: "the tutorial's frames have no type" }),
      frame({ type: "notice", level: 2 }),
      frame({ type: "chat.message", message: "two" }),
      frame([1, 2]),
    );
    expect(chat).toEqual(["a:one", "b:one", "a:two", "b:two"]);
    expect(notices).toEqual([{ type: "notice", level: 2 }]);
    expect(everything).toEqual([
      { type: "chat.message", message: "one" },
      { message: "the tutorial's frames have no type" },
      { type: "notice", level: 2 },
      { type: "chat.message", message: "two" },
      [1, 2],
      { type: "test.done" },
    ]);
  });

  it("once runs for one frame; off and the returned function remove handlers", async () => {
    const { client, serverSends } = await connected();
    const seen: string[] = [];
    const kept = (message: ServerMessage) => seen.push(`kept:${message.n}`);
    const removedByOff = (message: ServerMessage) => seen.push(`off:${message.n}`);
    const any = (content: unknown) => seen.push(`any:${(content as ServerMessage).type}`);
    client.once("tick", (message) => seen.push(`once:${message.n}`));
    client.on("tick", kept);
    client.on("tick", removedByOff);
    const remove = client.on("tick", (message) => seen.push(`removed:${message.n}`));
    client.onAny(any);

    await serverSends(frame({ type: "tick", n: 1 }));
    client.off("tick", removedByOff);
    remove();
    client.offAny(any);
    await serverSends(frame({ type: "tick", n: 2 }));
    expect(seen).toEqual(["once:1", "kept:1", "off:1", "removed:1", "any:tick", "any:test.done", "kept:2"]);
  });

  it("a handler that throws is reported as HANDLER_FAILED and the other handlers still run", async () => {
    const { client, lifecycle, serverSends } = await connected();
    const seen: number[] = [];
    const failure = new Error("handler bug");
    client.on("tick", () => {
      throw failure;
    });
    client.on("tick", (message) => seen.push(message.n as number));
    await serverSends(frame({ type: "tick", n: 1 }), frame({ type: "tick", n: 2 }));
    expect(seen).toEqual([1, 2]);
    const errors = lifecycle.of("error");
    expect(errors.map((error) => error.code)).toEqual(["HANDLER_FAILED", "HANDLER_FAILED"]);
    expect(errors[0]?.cause).toBe(failure);
    expect(client.state).toBe("open");
  });

  it("a frame that is not JSON, or binary, is reported as INVALID_FRAME and the connection carries on", async () => {
    const { client, lifecycle, serverSends } = await connected();
    const ticks: unknown[] = [];
    client.on("tick", (message) => ticks.push(message.n));
    await serverSends("not json {", Buffer.from([1, 2, 3]), frame({ type: "tick", n: 1 }));
    expect(lifecycle.of("error").map((error: ClientError) => error.code)).toEqual(["INVALID_FRAME", "INVALID_FRAME"]);
    expect(ticks).toEqual([1]);
    expect(client.state).toBe("open");
  });

  it("a server frame typed like a lifecycle event is a message, not a lifecycle event", async () => {
    const { client, lifecycle, serverSends } = await connected();
    const messages: unknown[] = [];
    client.on("error", (message) => messages.push(message));
    client.on("close", (message) => messages.push(message));
    await serverSends(frame({ type: "error", detail: "bad room" }), frame({ type: "close" }));
    expect(messages).toEqual([{ type: "error", detail: "bad room" }, { type: "close" }]);
    expect(lifecycle.names).toEqual(["open"]);
    expect(client.state).toBe("open");
  });

  it("a lifecycle listener that throws is reported as an error event", async () => {
    const server = await TestServer.start();
    const client = closedAfterTest(new ChannelLayersClient(server.url, { WebSocket, heartbeatIntervalMs: 0 }));
    const lifecycle = new LifecycleRecorder(client);
    client.lifecycle.on("open", () => {
      throw new Error("listener bug");
    });
    await lifecycle.nth("open", 1);
    const error = await lifecycle.nth("error", 1);
    expect(error.code).toBe("HANDLER_FAILED");
    expect(error.message).toMatch(/"open" listener threw: listener bug/);
  });
});
