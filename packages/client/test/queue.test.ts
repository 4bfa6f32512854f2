import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ChannelLayersClient, ClientError, type ClientOptions, resumeHelloWithOffsets } from "../src/index.js";
import { closedAfterTest, LifecycleRecorder, TestServer } from "./fixtures/servers.js";

// No hello: these tests count the frames the queue sends.
const fast: ClientOptions = {
  WebSocket,
  reconnectDelayMs: 5,
  maxReconnectDelayMs: 40,
  heartbeatIntervalMs: 0,
  hello: resumeHelloWithOffsets,
};

/** A client whose server went down after it connected: every send now goes to the queue. */
async function offlineClient(options: ClientOptions = {}) {
  const server = await TestServer.start();
  const client = closedAfterTest(new ChannelLayersClient(server.url, { ...fast, ...options }));
  const lifecycle = new LifecycleRecorder(client);
  await lifecycle.nth("open", 1);
  const port = server.port;
  await server.stop();
  await lifecycle.nth("close", 1);
  return { client, lifecycle, restart: () => TestServer.start(port) };
}

describe("the offline queue", () => {
  it("queues sends while offline and flushes them in order on reconnect, before anything sent after", async () => {
    const { client, restart } = await offlineClient();
    for (let n = 1; n <= 20; n++) expect(client.send({ type: "note", n })).toBe("queued");
    expect(client.queuedMessages).toBe(20);
    // An open listener's send goes out after the queue: the order the sends were made in.
    client.lifecycle.once("open", () => client.send({ type: "note", n: 21 }));

    const server = await restart();
    await server.until(() => server.frames.length === 21);
    expect(server.frames.map((frame) => JSON.parse(frame).n)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(client.queuedMessages).toBe(0);
    expect(client.send({ type: "note", n: 22 })).toBe("sent");
  });

  it("queues sends made before the first connection opens", async () => {
    const server = await TestServer.start();
    const client = closedAfterTest(new ChannelLayersClient(server.url, fast));
    expect(client.state).toBe("connecting");
    expect(client.send({ type: "early", n: 1 })).toBe("queued");
    expect(client.send({ type: "early", n: 2 })).toBe("queued");
    await server.until(() => server.frames.length === 2);
    expect(server.frames).toEqual(['{"type":"early","n":1}', '{"type":"early","n":2}']);
  });

  it("refuses the send past maxQueuedMessages with QUEUE_FULL and keeps what it had", async () => {
    const { client, restart } = await offlineClient({ maxQueuedMessages: 3 });
    for (let n = 1; n <= 3; n++) client.send({ type: "note", n });
    let refused: unknown;
    try {
      client.send({ type: "note", n: 4 });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ClientError);
    expect(refused).toBeInstanceOf(Error);
    expect(refused).toMatchObject({ name: "ClientError", code: "QUEUE_FULL" });
    expect((refused as Error).message).toMatch(/maxQueuedMessages/);
    expect(client.queuedMessages).toBe(3);

    const server = await restart();
    await server.until(() => server.frames.length === 3);
    expect(server.frames.map((frame) => JSON.parse(frame).n)).toEqual([1, 2, 3]);
  });

  it("refuses the send that would pass maxQueuedBytes, counting UTF-8 bytes", async () => {
    // {"t":"éé"} is 12 bytes in UTF-8 (10 characters): three fit in 45 bytes, a fourth does not.
    const { client } = await offlineClient({ maxQueuedBytes: 45 });
    for (let n = 0; n < 3; n++) client.send({ t: "éé" });
    expect(() => client.send({ t: "éé" })).toThrow(expect.objectContaining({ code: "QUEUE_FULL" }));
    expect(() => client.send({ t: "éé" })).toThrow(/maxQueuedBytes/);
    expect(client.queuedMessages).toBe(3);
  });

  it("lists what was never sent in the final close event", async () => {
    const { client, lifecycle } = await offlineClient();
    const first = { type: "note", n: 1 };
    const second = { type: "note", n: 2 };
    client.send(first);
    client.send(second);
    client.close();
    const close = await lifecycle.nth("close", 2);
    expect(close.willReconnect).toBe(false);
    expect(close.unsent).toEqual([first, second]);
    expect(close.unsent[0]).toBe(first);
    expect(client.queuedMessages).toBe(0);
  });

  it("refuses what JSON cannot encode with INVALID_MESSAGE, queueing nothing", async () => {
    const { client } = await offlineClient();
    const cyclic: Record<string, unknown> = { type: "loop" };
    cyclic.self = cyclic;
    for (const content of [cyclic, { type: "big", n: 1n }, undefined, () => 1]) {
      expect(() => client.send(content)).toThrow(expect.objectContaining({ code: "INVALID_MESSAGE" }));
    }
    expect(client.queuedMessages).toBe(0);
  });
});
