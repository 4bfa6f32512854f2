import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { type FrameTarget, FrameWriter } from "../src/server/frame-writer.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Pair {
  server: WebSocket;
  client: WebSocket;
  /** Every message the client got, text as string and binary as Buffer, in order. */
  received: (string | Buffer)[];
  /** The buffers the FrameWriter handed to the server side's socket. */
  written: unknown[];
}

/** `count` real WebSocket connections on loopback, server side and client side of each. */
async function pairs(count: number): Promise<Pair[]> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
  await new Promise((resolve) => wss.once("listening", resolve));
  const { port } = wss.address() as AddressInfo;
  const result: Pair[] = [];
  for (let i = 0; i < count; i++) {
    const accepted = new Promise<WebSocket>((resolve) => wss.once("connection", resolve));
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    cleanups.push(() => client.terminate());
    const received: (string | Buffer)[] = [];
    client.on("message", (data: Buffer, isBinary) => received.push(isBinary ? data : data.toString()));
    await new Promise((resolve) => client.once("open", resolve));
    const server = await accepted;
    const written: unknown[] = [];
    const socket = (server as unknown as { _socket: Duplex })._socket;
    const write = socket.write.bind(socket) as (chunk: unknown) => boolean;
    // Observes what reaches the socket; the write itself goes through unchanged.
    socket.write = ((chunk: unknown) => {
      written.push(chunk);
      return write(chunk);
    }) as typeof socket.write;
    result.push({ server, client, received, written });
  }
  return result;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** One connected pair, its server side's TCP socket, and a FrameWriter's target for it. */
async function oneSocket() {
  const [pair] = await pairs(1);
  const { server, received } = pair as Pair;
  const socket = (server as unknown as { _socket: Duplex })._socket;
  const writer = new FrameWriter();
  return { server, socket, received, writer, target: writer.target(server) };
}

describe("FrameWriter", () => {
  it("frames texts of every header size and of any script intact", async () => {
    const [pair] = await pairs(1);
    const { server, received } = pair as Pair;
    const writer = new FrameWriter();
    const target = writer.target(server);
    expect(target.socket).toBeDefined();
    const texts = [
      "",
      "a",
      "x".repeat(125),
      "y".repeat(126),
      "é".repeat(40_000),
      "z".repeat(65_535),
      "w".repeat(65_536),
      "안녕하세요 👋".repeat(20_000),
    ];
    for (const text of texts) {
      writer.sendText(target, text);
      await nextTurn();
    }
    await until(() => received.length === texts.length, "every frame");
    expect(received).toEqual(texts);
  });

  it("frames a text once for all the sockets it goes to in one turn, and anew in the next turn", async () => {
    const all = await pairs(3);
    const writer = new FrameWriter();
    const targets = all.map((pair) => writer.target(pair.server));
    const text = JSON.stringify({ message: "to everyone" });
    // Equal texts, not the same string object: each member encodes its own JSON.
    for (const target of targets) writer.sendText(target, JSON.stringify(JSON.parse(text)));
    const frames = all.map((pair) => pair.written[0]);
    expect(frames[0]).toBeInstanceOf(Buffer);
    expect(frames[1]).toBe(frames[0]);
    expect(frames[2]).toBe(frames[0]);
    await nextTurn();
    writer.sendText(targets[0] as FrameTarget, text);
    expect((all[0] as Pair).written[1]).not.toBe(frames[0]);
    await until(() => all.every((pair) => pair.received.length === (pair === all[0] ? 2 : 1)), "the frames");
    for (const pair of all) expect(pair.received[0]).toBe(text);
  });

  it("corks a socket that gets a second frame in a turn, keeping order with ws's own frames", async () => {
    const { server, socket, received, writer, target } = await oneSocket();
    writer.sendText(target, "first");
    expect(socket.writableCorked).toBe(0);
    writer.sendText(target, "second");
    expect(socket.writableCorked).toBe(1);
    server.send(Buffer.from("binary from ws"));
    writer.sendText(target, "third");
    await nextTurn();
    expect(socket.writableCorked).toBe(0);
    await until(() => received.length === 4, "four frames");
    expect(received).toEqual(["first", "second", Buffer.from("binary from ws"), "third"]);
  });

  it("corks from the first frame a socket that got several in its last turn, and not one that got one", async () => {
    const { socket, received, writer, target } = await oneSocket();
    writer.sendText(target, "alone");
    await nextTurn();
    writer.sendText(target, "alone again");
    expect(socket.writableCorked, "a socket whose last turn had one frame is written at once").toBe(0);
    writer.sendText(target, "burst 1");
    await nextTurn();
    writer.sendText(target, "burst 2");
    expect(socket.writableCorked, "a socket whose last turn had two frames is corked from the first").toBe(1);
    await nextTurn();
    expect(socket.writableCorked).toBe(0);
    await until(() => received.length === 4, "four frames");
    expect(received).toEqual(["alone", "alone again", "burst 1", "burst 2"]);
  });

  it("counts corked frames in bufferedAmount, so a slow reader is still noticed", async () => {
    const [pair] = await pairs(1);
    const { server } = pair as Pair;
    const writer = new FrameWriter();
    const target = writer.target(server);
    writer.sendText(target, "a");
    const before = server.bufferedAmount;
    writer.sendText(target, "b".repeat(1000));
    expect(server.bufferedAmount - before).toBe(1004);
    await nextTurn();
  });

  it("drops a text sent once the socket is closing, as ws.send does", async () => {
    const [pair] = await pairs(1);
    const { server, client, received } = pair as Pair;
    const writer = new FrameWriter();
    const target = writer.target(server);
    const closed = new Promise((resolve) => client.once("close", resolve));
    server.close(1000);
    expect(() => writer.sendText(target, "too late")).not.toThrow();
    await closed;
    expect(received).toEqual([]);
  });
});
