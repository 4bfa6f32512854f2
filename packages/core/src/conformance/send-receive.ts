import { describe, expect, it } from "vitest";
import { describeValue, expectNothing, expectReceive, handled, receiveWithin, type SuiteContext } from "./context.js";

/** Receives `count` messages from `channel` and fails unless their `n` are 0..count-1 in order. */
async function expectInOrder(
  ctx: SuiteContext,
  layer: Parameters<typeof receiveWithin>[0],
  channel: string,
  count: number,
): Promise<void> {
  const order: unknown[] = [];
  for (let n = 0; n < count; n++) order.push((await receiveWithin(layer, channel, ctx.arrivalMs, { n })).n);
  const expected = Array.from({ length: count }, (_, n) => n);
  expect(
    order,
    `${channel} should receive n = 0..${count - 1} in send order, but received ${describeValue(order)}`,
  ).toEqual(expected);
}

export function sendReceiveTests(ctx: SuiteContext): void {
  describe("send and receive", () => {
    it("delivers a sent message to a receive on the same channel", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("buffered")) skip();
      const layer = await ctx.layer();
      await layer.send("test-channel", { type: "test.message", text: "hello" });
      await expectReceive(layer, "test-channel", { type: "test.message", text: "hello" }, ctx.arrivalMs);
    });

    it("delivers to a process-local channel from newChannel()", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "local.message", n: 1 });
      await expectReceive(layer, channel, { type: "local.message", n: 1 }, ctx.arrivalMs);
    });

    it("lets a receive wait until a message is sent", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const [received] = handled([receiveWithin(layer, channel, ctx.arrivalMs, { type: "late.message" })]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await layer.send(channel, { type: "late.message" });
      expect(await received).toEqual({ type: "late.message" });
    });

    it("keeps send order per channel", ctx.timeout(6), async ({ skip }) => {
      if (!ctx.supports("buffered")) skip();
      const layer = await ctx.layer();
      for (const channel of ["ordered-channel", await layer.newChannel()]) {
        for (let n = 0; n < 50; n++) await layer.send(channel, { type: "ordered", n });
        await expectInOrder(ctx, layer, channel, 50);
      }
    });

    it("gives each message to exactly one of several waiting receivers", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      for (const channel of ["shared-channel", await layer.newChannel()]) {
        const receivers = handled(Array.from({ length: 10 }, () => receiveWithin(layer, channel, ctx.arrivalMs)));
        for (let n = 0; n < 10; n++) await layer.send(channel, { type: "work", n });
        const got = (await Promise.all(receivers)).map((message) => message.n).sort((a, b) => Number(a) - Number(b));
        expect(got, `10 receivers on ${channel} should get n = 0..9 once each, got ${describeValue(got)}`).toEqual(
          Array.from({ length: 10 }, (_, n) => n),
        );
        await expectNothing(layer, channel, ctx.silenceMs, "all 10 messages went to the 10 receivers");
      }
    });

    it("gives each buffered message to exactly one of several concurrent receivers", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      for (let n = 0; n < 10; n++) await layer.send(channel, { type: "work", n });
      const got = await Promise.all(
        handled(Array.from({ length: 10 }, () => receiveWithin(layer, channel, ctx.arrivalMs))),
      );
      const numbers = got.map((message) => message.n).sort((a, b) => Number(a) - Number(b));
      expect(
        numbers,
        `10 receivers on ${channel} should get n = 0..9 once each, got ${describeValue(numbers)}`,
      ).toEqual(Array.from({ length: 10 }, (_, n) => n));
    });

    it("round-trips bytes as Uint8Array, nested and empty", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await layer.send(channel, { type: "bytes", bytes, nested: { list: [new Uint8Array(0), bytes] } });
      const got = await receiveWithin<{ bytes: unknown; nested: { list: unknown[] } }>(layer, channel, ctx.arrivalMs);
      expect(got.bytes, "bytes should arrive as a Uint8Array").toBeInstanceOf(Uint8Array);
      expect([...(got.bytes as Uint8Array)], "bytes should arrive unchanged").toEqual([...bytes]);
      expect(got.nested.list[0], "nested empty bytes should arrive as a Uint8Array").toBeInstanceOf(Uint8Array);
      expect((got.nested.list[0] as Uint8Array).byteLength, "empty bytes should stay empty").toBe(0);
      expect([...(got.nested.list[1] as Uint8Array)], "nested bytes should arrive unchanged").toEqual([...bytes]);
    });

    it("round-trips unicode text, including astral characters and NUL", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const text = "안녕하세요 채널 🎉 naïve café \u0000 end 𝄞 中文";
      await layer.send(channel, { type: "unicode", text, [text]: "key too" });
      await expectReceive(layer, channel, { type: "unicode", text, [text]: "key too" }, ctx.arrivalMs);
    });

    it("round-trips JSON-like values and signed 64-bit integers", ctx.timeout(), async () => {
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
      await expectReceive(layer, channel, message, ctx.arrivalMs);
    });

    it("carries a message of 1 MB and more (the Channels spec's minimum)", ctx.timeout(6), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const text = "x".repeat(1024 * 1024);
      const bytes = new Uint8Array(512 * 1024).fill(7);
      await layer.send(channel, { type: "large", text, bytes });
      const got = await receiveWithin<{ text: string; bytes: Uint8Array }>(layer, channel, ctx.arrivalMs * 2);
      expect(got.text.length, "the 1 MiB text should arrive whole").toBe(text.length);
      expect(got.text === text, "the 1 MiB text should arrive unchanged").toBe(true);
      expect(got.bytes.byteLength, "the 512 KiB of bytes should arrive whole").toBe(bytes.byteLength);
      expect(
        got.bytes.every((byte) => byte === 7),
        "the 512 KiB of bytes should arrive unchanged",
      ).toBe(true);
    });

    it("keeps what was sent when the sender changes its object afterwards", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const message = { type: "snapshot", list: [1], nested: { n: 1 }, bytes: new Uint8Array([1]) };
      await layer.send(channel, message);
      message.list.push(2);
      message.nested.n = 2;
      message.bytes[0] = 2;
      const got = await receiveWithin(layer, channel, ctx.arrivalMs, { type: "snapshot", list: [1], nested: { n: 1 } });
      const seen = { ...got, bytes: [...(got.bytes as Uint8Array)] };
      const sent = { type: "snapshot", list: [1], nested: { n: 1 }, bytes: [1] };
      expect(
        seen,
        `${channel} should receive ${describeValue(sent)} as sent, but received ${describeValue(seen)}`,
      ).toEqual(sent);
    });
  });
}
