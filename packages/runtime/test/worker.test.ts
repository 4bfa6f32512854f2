import type { Message } from "@channel-layers/core";
import { expect, it } from "vitest";
import { AsyncConsumer, ChannelNameRouter, runWorker, type Scope } from "../src/index.js";
import { layersClosedAfterEach } from "./fixtures/layers.js";

const newLayer = layersClosedAfterEach();

/** Makes "thumbnails" one at a time and reports each to the reply channel it was given. */
class ThumbnailConsumer extends AsyncConsumer {
  static running = 0;
  static mostAtOnce = 0;
  static gate: Promise<void> = Promise.resolve();

  async thumbnails_generate(message: Message) {
    ThumbnailConsumer.running++;
    ThumbnailConsumer.mostAtOnce = Math.max(ThumbnailConsumer.mostAtOnce, ThumbnailConsumer.running);
    await ThumbnailConsumer.gate;
    if (message.id === "broken") throw new Error("cannot decode image");
    await this.channelSend(String(message.reply), { type: "thumbnail.done", id: message.id, from: this.scope.channel });
    ThumbnailConsumer.running--;
  }
}

it("receives on named channels and runs the consumer's handler per message, one at a time, in order", async () => {
  const layer = newLayer();
  const worker = await runWorker(
    { "thumbnails-generate": ThumbnailConsumer },
    { channelLayer: layer, shutdownSignals: [] },
  );
  expect(worker.channels).toEqual(["thumbnails-generate"]);
  const reply = await layer.newChannel();
  for (let id = 0; id < 20; id++) await layer.send("thumbnails-generate", { type: "thumbnails.generate", id, reply });
  for (let id = 0; id < 20; id++) {
    expect(await layer.receive(reply)).toEqual({ type: "thumbnail.done", id, from: "thumbnails-generate" });
  }
  expect(ThumbnailConsumer.mostAtOnce).toBe(1);
  await worker.stop();
});

it("stops gracefully: the handler running finishes, messages not taken stay in the channel", async () => {
  const layer = newLayer();
  let release: () => void = () => undefined;
  ThumbnailConsumer.gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const worker = await runWorker(ChannelNameRouter({ "thumbnails-generate": ThumbnailConsumer }), {
    channelLayer: layer,
    shutdownSignals: [],
  });
  const reply = await layer.newChannel();
  await layer.send("thumbnails-generate", { type: "thumbnails.generate", id: "first", reply });
  await layer.send("thumbnails-generate", { type: "thumbnails.generate", id: "second", reply });
  while (ThumbnailConsumer.running === 0) await new Promise((resolve) => setImmediate(resolve));
  const stopped = worker.stop();
  release();
  await stopped;
  expect(await layer.receive(reply)).toMatchObject({ id: "first" });
  expect(await layer.receive("thumbnails-generate")).toMatchObject({ id: "second" });
  ThumbnailConsumer.gate = Promise.resolve();
  ThumbnailConsumer.running = 0;
});

it("reports a handler's error and goes on with the next message", async () => {
  const layer = newLayer();
  const errors: [unknown, Scope][] = [];
  const worker = await runWorker(
    { "thumbnails-generate": ThumbnailConsumer },
    { channelLayer: layer, shutdownSignals: [], onError: (error, scope) => errors.push([error, scope]) },
  );
  const reply = await layer.newChannel();
  await layer.send("thumbnails-generate", { type: "thumbnails.generate", id: "broken", reply });
  await layer.send("thumbnails-generate", { type: "thumbnails.generate", id: "fine", reply });
  expect(await layer.receive(reply)).toMatchObject({ id: "fine" });
  expect(errors).toEqual([[expect.objectContaining({ message: "cannot decode image" }), expect.anything()]]);
  expect(errors[0]?.[1].channel).toBe("thumbnails-generate");
  ThumbnailConsumer.running = 0;
  await worker.stop();
});

it("reports a message type without a handler as NO_HANDLER and keeps serving", async () => {
  const layer = newLayer();
  const errors: unknown[] = [];
  const worker = await runWorker(
    { "thumbnails-generate": ThumbnailConsumer },
    { channelLayer: layer, shutdownSignals: [], onError: (error) => errors.push(error) },
  );
  const reply = await layer.newChannel();
  await layer.send("thumbnails-generate", { type: "thumbnails.resize" });
  await layer.send("thumbnails-generate", { type: "thumbnails.generate", id: 1, reply });
  expect(await layer.receive(reply)).toMatchObject({ id: 1 });
  expect(errors).toEqual([expect.objectContaining({ code: "NO_HANDLER" })]);
  await worker.stop();
});
