import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { describe, expect, it } from "vitest";
import { ChannelLayerError } from "../src/errors.js";
import type { LogDetails, Logger } from "../src/logger.js";
import { GatedLayer } from "./fixtures/gated-layer.js";

/** Whether `promise` has settled after a few turns of the event loop. */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (message: string, _details?: LogDetails) => lines.push(message);
  return { lines, debug: log, info: log, warn: log, error: log };
}

describe("BaseChannelLayer opens once, by itself", () => {
  it("starts _open once construction is done, with no call made", async () => {
    const layer = new GatedLayer();
    expect(layer.opens).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(layer.opens).toBe(1);
    layer.openNow();
    await layer.close();
  });

  it("makes every call made before open wait for it, then runs them in call order", async () => {
    const layer = new GatedLayer();
    const calls = [
      layer.newChannel(),
      layer.send("named", { type: "early" }),
      layer.receive("named"),
      layer.groupAdd("g", "named"),
      layer.groupDiscard("g", "named"),
      layer.groupSend("g", { type: "early.group" }),
      layer.discardChannel("other"),
      layer.flush(),
    ];
    expect(await settledSoon(Promise.race(calls))).toBe(false);
    expect(layer.ran).toEqual(["open"]);
    layer.openNow();
    const [channel, , received] = await Promise.all(calls);
    expect(channel).toMatch(/^specific\.[0-9a-f]{16}!/);
    expect(received).toEqual({ type: "early" });
    expect(layer.ran).toEqual([
      "open",
      "send",
      "receive",
      "groupAdd",
      "groupDiscard",
      "groupSend",
      "discardChannel",
      "flush",
    ]);
    expect(layer.opens).toBe(1);
    await layer.close();
  });

  it("validates before waiting: a bad name or message rejects at once", async () => {
    const layer = new GatedLayer();
    await expect(layer.send("bad name", { type: "x" })).rejects.toMatchObject({ code: "INVALID_NAME" });
    await expect(layer.groupSend("g", { type: "x", n: Number.NaN })).rejects.toMatchObject({ code: "INVALID_MESSAGE" });
    layer.openNow();
    await layer.close();
  });

  it("keeps what a send before open was given, whatever the sender does to its object meanwhile", async () => {
    const layer = new GatedLayer();
    const message = { type: "snapshot", list: [1] };
    const sending = layer.send("named", message);
    message.list.push(2);
    layer.openNow();
    await sending;
    expect(await layer.receive("named")).toEqual({ type: "snapshot", list: [1] });
    await layer.close();
  });

  it("is synchronous into the transport once open", async () => {
    const layer = new GatedLayer();
    layer.openNow();
    await layer.newChannel();
    const before = layer.ran.length;
    void layer.send("named", { type: "now" });
    expect(layer.ran.slice(before)).toEqual(["send"]);
    await layer.close();
  });

  it("aborts a receive that waits for open, without ever starting it", async () => {
    const layer = new GatedLayer();
    const controller = new AbortController();
    const receiving = layer.receive("named", { signal: controller.signal });
    controller.abort();
    await expect(receiving).rejects.toMatchObject({ name: "AbortError" });
    layer.openNow();
    await layer.newChannel();
    expect(layer.ran).not.toContain("receive");
    await layer.close();
  });

  it("rejects the calls that waited for a failed open with BACKEND_UNAVAILABLE and the cause; the next call opens again", async () => {
    const logger = recordingLogger();
    const layer = new GatedLayer({ logger });
    const events: unknown[] = [];
    const listen = (event: unknown) => events.push(event);
    subscribe("channel-layers:gated", listen);
    try {
      const refused = new Error("connect ECONNREFUSED 127.0.0.1:1");
      const waiting = [layer.send("named", { type: "x" }), layer.receive("named"), layer.groupAdd("g", "named")];
      await Promise.resolve();
      layer.failOpen(refused);
      for (const call of waiting) {
        const error = await call.catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ChannelLayerError);
        expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE", cause: refused });
        expect((error as Error).message).toContain("ECONNREFUSED");
      }
      expect(events).toEqual([expect.objectContaining({ event: "open-failed", backend: "gated", error: refused })]);
      expect(logger.lines).toEqual([expect.stringContaining("Could not open the gated layer")]);
      layer.openNow();
      await layer.send("named", { type: "after.retry" });
      expect(layer.opens).toBe(2);
      expect(await layer.receive("named")).toEqual({ type: "after.retry" });
    } finally {
      unsubscribe("channel-layers:gated", listen);
      await layer.close();
    }
  });

  it("passes a ChannelLayerError from _open through as it is", async () => {
    const layer = new GatedLayer();
    const sending = layer.send("named", { type: "x" });
    await Promise.resolve();
    const denied = new ChannelLayerError("INVALID_OPTIONS", "bad credentials");
    layer.failOpen(denied);
    await expect(sending).rejects.toBe(denied);
    await layer.close();
  });

  it("close during open: waiting calls reject with LayerClosed, and _close runs after the open settles", async () => {
    const layer = new GatedLayer();
    const waiting = layer.receive("named").catch((e: unknown) => e);
    await Promise.resolve();
    const closing = layer.close();
    expect(layer.ran).toEqual(["open"]);
    layer.openNow();
    await closing;
    expect(await waiting).toMatchObject({ code: "LAYER_CLOSED" });
    expect(layer.ran).toEqual(["open", "close"]);
  });

  it("close before open started: _close runs and _open never does", async () => {
    const layer = new GatedLayer();
    await layer.close();
    await Promise.resolve();
    expect(layer.ran).toEqual(["close"]);
    await expect(layer.send("named", { type: "x" })).rejects.toMatchObject({ code: "LAYER_CLOSED" });
  });
});

describe("LayerDiagnostics", () => {
  it("counts sends, group sends and receives in the common stats", async () => {
    const layer = new GatedLayer();
    layer.openNow();
    await layer.send("named", { type: "x" });
    await layer.groupSend("g", { type: "x" });
    await layer.receive("named");
    expect(layer.diagnosticsForTest.snapshot()).toMatchObject({
      backend: "gated",
      sent: 1,
      groupSends: 1,
      received: 1,
    });
    await layer.close();
  });

  it("decodeOrDrop drops what does not decode: counted, published and logged once per cause", async () => {
    const { MessageSerializer } = await import("../src/serializer.js");
    const logger = recordingLogger();
    const layer = new GatedLayer({ logger });
    const diagnostics = layer.diagnosticsForTest;
    const events: unknown[] = [];
    const listen = (event: unknown) => events.push(event);
    subscribe("channel-layers:gated", listen);
    try {
      const serializer = new MessageSerializer();
      const noType = Buffer.from("81a474657874a178", "hex");
      for (let i = 0; i < 3; i++)
        expect(diagnostics.decodeOrDrop(serializer, noType, { channel: "c" })).toBeUndefined();
      expect(diagnostics.decodeOrDrop(serializer, serializer.encode({ type: "ok" }))).toEqual({ type: "ok" });
      expect(diagnostics.counters.droppedUndecodable).toBe(3);
      expect(events).toHaveLength(3);
      expect(events[0]).toMatchObject({
        event: "dropped",
        reason: "undecodable",
        backend: "gated",
        instanceId: layer.id,
        details: { channel: "c" },
        error: expect.objectContaining({ code: "INVALID_MESSAGE" }),
      });
      expect(logger.lines).toEqual([
        expect.stringMatching(/Dropped a message \(undecodable\).*without a string "type"/),
      ]);
    } finally {
      unsubscribe("channel-layers:gated", listen);
      layer.openNow();
      await layer.close();
    }
  });

  it("counts reconnects, losses and background errors", () => {
    const layer = new GatedLayer({ logger: recordingLogger() });
    const diagnostics = layer.diagnosticsForTest;
    diagnostics.reconnected();
    diagnostics.lost(4, { channel: "c" });
    diagnostics.backgroundError(new Error("pop failed"));
    expect(diagnostics.snapshot()).toMatchObject({ reconnects: 1, lostSends: 4, backgroundErrors: 1 });
    layer.openNow();
    return layer.close();
  });
});
