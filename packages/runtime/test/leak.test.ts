import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Message } from "@channel-layers/core";
import { InMemoryChannelLayer } from "@channel-layers/memory";
import { expect, it } from "vitest";
import { WebsocketConsumer, type WebsocketData } from "../src/index.js";
import { WebsocketCommunicator } from "../src/testing/index.js";

// A full GC on demand without restarting the worker with --expose-gc.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** The seed's chat consumer, plus a static group, a timer and a listener tied to its signal. */
class ChatConsumer extends WebsocketConsumer {
  static override groups = ["everyone"];
  room = "";

  override async connect() {
    this.room = `chat_${this.scope.url_route.kwargs.room_name}`;
    await this.groupAdd(this.room);
    const timer = setTimeout(() => undefined, 60_000);
    this.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
    await this.accept();
  }
  override async receive(data: WebsocketData) {
    await this.groupSend(this.room, { type: "chat.message", message: data });
  }
  async chat_message(event: Message) {
    await this.send(String(event.message));
  }
}

async function cycle(layer: InMemoryChannelLayer, n: number): Promise<void> {
  const room = `room${n % 50}`;
  const client = new WebsocketCommunicator(ChatConsumer, `/ws/chat/${room}/`, {
    channelLayer: layer,
    scope: { url_route: { args: [], kwargs: { room_name: room } } },
  });
  const { connected } = await client.connect();
  if (!connected) throw new Error("not accepted");
  await client.sendTo(`hello ${n}`);
  if ((await client.receiveFrom()) !== `hello ${n}`) throw new Error("wrong echo");
  await client.disconnect();
}

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

it("10,000 connect/disconnect cycles leave the layer's tables empty and the heap where it was", async () => {
  const layer = new InMemoryChannelLayer();
  // Warm up: JIT, and the bounded name caches in core fill to the level they hold from now on.
  for (let n = 0; n < 10_000; n++) await cycle(layer, n);
  const before = heapAfterGc();
  expect(layer.stats()).toMatchObject({ channels: 0, groups: 0, memberships: 0 });

  for (let n = 0; n < 10_000; n++) await cycle(layer, n);

  expect(layer.stats()).toMatchObject({ channels: 0, groups: 0, memberships: 0 });
  const grown = heapAfterGc() - before;
  // Anything kept per connection (a consumer, a closure, a timer) is at least ~100 bytes: 1 MB over 10,000.
  expect(grown).toBeLessThan(1_000_000);
  await layer.close();
}, 60_000);
