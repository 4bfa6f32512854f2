import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ChannelLayersClient, type ClientOptions, RESUME_TYPE, resumeHelloWithOffsets } from "../src/index.js";
import { closedAfterTest, LifecycleRecorder, TestServer } from "./fixtures/servers.js";

const fast: ClientOptions = { WebSocket, reconnectDelayMs: 5, maxReconnectDelayMs: 40, heartbeatIntervalMs: 0 };

async function connected(options: ClientOptions = {}) {
  const server = await TestServer.start();
  const client = closedAfterTest(new ChannelLayersClient(server.url, { ...fast, ...options }));
  const lifecycle = new LifecycleRecorder(client);
  await lifecycle.nth("open", 1);
  /** Sends frames from the server and resolves once the client has handled them all. */
  const serverSends = (...frames: unknown[]) =>
    new Promise<void>((resolve) => {
      client.once("test.done", () => resolve());
      for (const frame of [...frames, { type: "test.done" }]) server.latest.send(JSON.stringify(frame));
    });
  return { client, lifecycle, server, serverSends };
}

describe("the resume seam", () => {
  it("remembers the last offset per group from frames that carry `group` and `offset`", async () => {
    const { client, serverSends } = await connected();
    await serverSends(
      { type: "chat.message", group: "lobby", offset: 1, message: "a" },
      { type: "chat.message", group: "lobby", offset: 2, message: "b" },
      { type: "chat.message", group: "news", offset: "1718000000000-0" },
      { type: "chat.message", message: "no position" },
      { type: "chat.message", group: "lobby", offset: Number.NaN },
      { type: "chat.message", group: 7, offset: 9 },
    );
    expect(client.offsets).toEqual({ lobby: 2, news: "1718000000000-0" });
  });

  it("sends the offsets first on reconnect, before the queued sends", async () => {
    const { client, lifecycle, server, serverSends } = await connected();
    await serverSends({ type: "chat.message", group: "lobby", offset: 41 }, { type: "x", group: "lobby", offset: 42 });
    server.latest.terminate();
    await lifecycle.nth("close", 1);
    client.send({ type: "queued", n: 1 });
    client.send({ type: "queued", n: 2 });
    expect(await lifecycle.nth("open", 2)).toEqual({ reconnected: true });
    await server.until(() => server.framesOn(1).length === 3);
    expect(server.framesOn(1).map((frame) => JSON.parse(frame))).toEqual([
      { type: RESUME_TYPE, offsets: { lobby: 42 } },
      { type: "queued", n: 1 },
      { type: "queued", n: 2 },
    ]);
  });

  it("sends an empty resume hello while there are no offsets, and none with resumeHelloWithOffsets", async () => {
    const { client, server } = await connected();
    client.send({ type: "first" });
    await server.until(() => server.frames.length === 2);
    expect(server.frames).toEqual([`{"type":"${RESUME_TYPE}","offsets":{}}`, '{"type":"first"}']);

    const quiet = await connected({ hello: resumeHelloWithOffsets });
    quiet.client.send({ type: "first" });
    await quiet.server.until(() => quiet.server.frames.length === 1);
    expect(quiet.server.frames).toEqual(['{"type":"first"}']);
  });

  it("starts from initialOffsets (kept across a page reload), so the first connection resumes too", async () => {
    const { client, server } = await connected({ initialOffsets: { lobby: 7 } });
    client.send({ type: "first" });
    await server.until(() => server.frames.length === 2);
    expect(server.frames.map((frame) => JSON.parse(frame))).toEqual([
      { type: RESUME_TYPE, offsets: { lobby: 7 } },
      { type: "first" },
    ]);
  });

  it("takes its own readOffset and hello, which see whether the connection is a reconnect", async () => {
    const contexts: unknown[] = [];
    const { lifecycle, server, serverSends } = await connected({
      readOffset: (content) => {
        const stream = (content as { stream?: unknown }).stream;
        const seq = (content as { seq?: unknown }).seq;
        return typeof stream === "string" && typeof seq === "number" ? { stream, offset: seq } : undefined;
      },
      hello: (context) => {
        contexts.push(context);
        return { type: "app.hello", since: context.offsets };
      },
    });
    // The first connection's hello has arrived before that connection is cut.
    await server.until(() => server.framesOn(0).length === 1);
    await serverSends({ type: "tick", stream: "prices", seq: 5 }, { type: "tick", group: "ignored", offset: 1 });
    server.latest.terminate();
    await lifecycle.nth("open", 2);
    await server.until(() => server.framesOn(1).length === 1);
    expect(server.framesOn(0).map((frame) => JSON.parse(frame))).toEqual([{ type: "app.hello", since: {} }]);
    expect(server.framesOn(1).map((frame) => JSON.parse(frame))).toEqual([{ type: "app.hello", since: { prices: 5 } }]);
    expect(contexts).toEqual([
      { offsets: {}, reconnected: false },
      { offsets: { prices: 5 }, reconnected: true },
    ]);
  });

  it("a hello that throws is reported, and the queue is still flushed", async () => {
    const { client, lifecycle, server } = await connected({
      hello: (context) => {
        if (context.reconnected) throw new Error("hello bug");
        return undefined;
      },
    });
    server.latest.terminate();
    await lifecycle.nth("close", 1);
    client.send({ type: "queued" });
    await lifecycle.nth("open", 2);
    await server.until(() => server.framesOn(1).length === 1);
    expect(server.framesOn(1)).toEqual(['{"type":"queued"}']);
    expect((await lifecycle.nth("error", 1)).message).toMatch(/hello option failed: hello bug/);
  });
});
