import { describe, expect, it } from "vitest";
import { receiveOrNothing, receiveWithin, type SuiteContext } from "./context.js";

export function sendReceiveTests(ctx: SuiteContext): void {
  describe("send and receive", () => {
    it("delivers a sent message to a receive on the same channel", async ({ skip }) => {
      if (!ctx.supports("buffered")) skip();
      const layer = await ctx.layer();
      await layer.send("test-channel", { type: "test.message", text: "hello" });
      expect(await receiveWithin(layer, "test-channel", ctx.arrivalMs)).toEqual({
        type: "test.message",
        text: "hello",
      });
    });

    it("delivers to a process-local channel from newChannel()", async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "local.message", n: 1 });
      expect(await receiveWithin(layer, channel, ctx.arrivalMs)).toEqual({ type: "local.message", n: 1 });
    });

    it("lets a receive wait until a message is sent", async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const received = receiveWithin(layer, channel, ctx.arrivalMs);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await layer.send(channel, { type: "late.message" });
      expect(await received).toEqual({ type: "late.message" });
    });

    it("keeps send order per channel", async ({ skip }) => {
      if (!ctx.supports("buffered")) skip();
      const layer = await ctx.layer();
      for (const channel of ["ordered-channel", await layer.newChannel()]) {
        for (let n = 0; n < 50; n++) await layer.send(channel, { type: "ordered", n });
        const order: unknown[] = [];
        for (let n = 0; n < 50; n++) order.push((await receiveWithin(layer, channel, ctx.arrivalMs)).n);
        expect(order).toEqual(Array.from({ length: 50 }, (_, n) => n));
      }
    });

    it("gives each message to exactly one of several waiting receivers", async () => {
      const layer = await ctx.layer();
      for (const channel of ["shared-channel", await layer.newChannel()]) {
        const receivers = Array.from({ length: 10 }, () => receiveWithin(layer, channel, ctx.arrivalMs));
        for (let n = 0; n < 10; n++) await layer.send(channel, { type: "work", n });
        const got = (await Promise.all(receivers)).map((message) => message.n);
        expect(got.sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 10 }, (_, n) => n));
        expect(await receiveOrNothing(layer, channel, ctx.silenceMs)).toBeUndefined();
      }
    });

    it("gives each buffered message to exactly one of several concurrent receivers", async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      for (let n = 0; n < 10; n++) await layer.send(channel, { type: "work", n });
      const got = await Promise.all(Array.from({ length: 10 }, () => receiveWithin(layer, channel, ctx.arrivalMs)));
      expect(got.map((message) => message.n).sort((a, b) => Number(a) - Number(b))).toEqual(
        Array.from({ length: 10 }, (_, n) => n),
      );
    });

    it("round-trips bytes as Uint8Array, nested and empty", async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await layer.send(channel, { type: "bytes", bytes, nested: { list: [new Uint8Array(0), bytes] } });
      const got = await receiveWithin<{ bytes: unknown; nested: { list: unknown[] } }>(layer, channel, ctx.arrivalMs);
      expect(got.bytes).toBeInstanceOf(Uint8Array);
      expect([...(got.bytes as Uint8Array)]).toEqual([...bytes]);
      expect(got.nested.list[0]).toBeInstanceOf(Uint8Array);
      expect((got.nested.list[0] as Uint8Array).byteLength).toBe(0);
      expect([...(got.nested.list[1] as Uint8Array)]).toEqual([...bytes]);
    });

    it("round-trips unicode text, including astral characters and NUL", async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const text = "안녕하세요 채널 🎉 naïve café \u0000 end 𝄞 中文";
      await layer.send(channel, { type: "unicode", text, [text]: "key too" });
      expect(await receiveWithin(layer, channel, ctx.arrivalMs)).toEqual({ type: "unicode", text, [text]: "key too" });
    });

    it("round-trips JSON-like values and signed 64-bit integers", async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const message = {
        type: "values",
        nothing: null,
        yes: true,
        no: false,
        zero: 0,
        negative: -42,
        fraction: 3.25,
        safe: Number.MAX_SAFE_INTEGER,
        big: 2n ** 53n + 1n,
        min: -(2n ** 63n),
        max: 2n ** 63n - 1n,
        list: [1, "two", [3], { four: 4 }],
        empty: {},
        emptyList: [],
      };
      await layer.send(channel, message);
      expect(await receiveWithin(layer, channel, ctx.arrivalMs)).toEqual(message);
    });

    it("carries a message of 1 MB and more (the Channels spec's minimum)", async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const text = "x".repeat(1024 * 1024);
      const bytes = new Uint8Array(512 * 1024).fill(7);
      await layer.send(channel, { type: "large", text, bytes });
      const got = await receiveWithin<{ text: string; bytes: Uint8Array }>(layer, channel, ctx.arrivalMs * 2);
      expect(got.text.length).toBe(text.length);
      expect(got.text === text).toBe(true);
      expect(got.bytes.byteLength).toBe(bytes.byteLength);
      expect(got.bytes.every((byte) => byte === 7)).toBe(true);
    });

    it("keeps what was sent when the sender changes its object afterwards", async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const message = { type: "snapshot", list: [1], nested: { n: 1 } };
      await layer.send(channel, message);
      message.list.push(2);
      message.nested.n = 2;
      expect(await receiveWithin(layer, channel, ctx.arrivalMs)).toEqual({
        type: "snapshot",
        list: [1],
        nested: { n: 1 },
      });
    });
  });
}
