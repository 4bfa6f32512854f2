import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import { ChannelFull } from "../errors.js";
import { expectNothing, expectReceive, receiveWithin, type SuiteContext } from "./context.js";

/** Sends until the channel is full and returns how many it took; fails past `limit`. */
async function fillToCapacity(layer: ChannelLayer, channel: string, limit = 50): Promise<number> {
  for (let n = 0; n <= limit; n++) {
    try {
      await layer.send(channel, { type: "fill", n });
    } catch (error) {
      expect(error).toBeInstanceOf(ChannelFull);
      expect(error).toMatchObject({ code: "CHANNEL_FULL" });
      return n;
    }
  }
  throw new Error(`${channel} took more than ${limit} messages without becoming full`);
}

export function capacityTests(ctx: SuiteContext): void {
  describe("capacity", () => {
    it("rejects a send to a full channel with ChannelFull, keeping what it holds", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("capacity")) skip();
      const layer = await ctx.layer({ capacity: 3 });
      for (const channel of ["full-channel", await layer.newChannel()]) {
        expect(await fillToCapacity(layer, channel)).toBe(3);
        const error = await layer.send(channel, { type: "extra" }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ChannelFull);
        expect((error as ChannelFull).message).toContain(channel);
        for (let n = 0; n < 3; n++) await expectReceive(layer, channel, { type: "fill", n }, ctx.arrivalMs);
        await expectNothing(layer, channel, ctx.silenceMs, "the send past capacity was rejected");
      }
    });

    it("takes sends again once a receive makes room", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("capacity")) skip();
      const layer = await ctx.layer({ capacity: 2 });
      const channel = await layer.newChannel();
      await fillToCapacity(layer, channel);
      await receiveWithin(layer, channel, ctx.arrivalMs);
      await layer.send(channel, { type: "room" });
      await expectReceive(layer, channel, { type: "fill", n: 1 }, ctx.arrivalMs);
      await expectReceive(layer, channel, { type: "room" }, ctx.arrivalMs);
    });

    it("applies channelCapacity globs, first match first", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("capacity")) skip();
      const layer = await ctx.layer({
        capacity: 2,
        channelCapacity: { "big.*": 5, "tiny-?": 1, "big.small": 1, "set-[ab]": 4, "notset-[!ab]": 3 },
      });
      expect(await fillToCapacity(layer, "big.one")).toBe(5);
      expect(await fillToCapacity(layer, "big.small")).toBe(5);
      expect(await fillToCapacity(layer, "tiny-a")).toBe(1);
      expect(await fillToCapacity(layer, "tiny-ab")).toBe(2);
      expect(await fillToCapacity(layer, "set-b")).toBe(4);
      expect(await fillToCapacity(layer, "notset-c")).toBe(3);
      expect(await fillToCapacity(layer, "notset-a")).toBe(2);
      expect(await fillToCapacity(layer, "other")).toBe(2);
    });

    it(
      "applies channelCapacity RegExps in list order and to process-local channels",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("capacity")) skip();
        const layer = await ctx.layer({
          capacity: 2,
          channelCapacity: [
            [/^re-\d+$/, 4],
            ["re-*", 1],
            [/^roomy\./, 6],
          ],
        });
        expect(await fillToCapacity(layer, "re-12")).toBe(4);
        expect(await fillToCapacity(layer, "re-x")).toBe(1);
        expect(await fillToCapacity(layer, await layer.newChannel("roomy"))).toBe(6);
        expect(await fillToCapacity(layer, await layer.newChannel())).toBe(2);
      },
    );

    it("groupSend skips full members and still delivers to the rest", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("capacity") || !ctx.supports("groups")) skip();
      const layer = await ctx.layer({ capacity: 1 });
      const full = await layer.newChannel();
      const roomy = await layer.newChannel();
      const named = "named-member";
      for (const channel of [full, roomy, named]) await layer.groupAdd("skip-full", channel);
      await layer.send(full, { type: "first" });
      await layer.groupSend("skip-full", { type: "group" });
      await expectReceive(layer, roomy, { type: "group" }, ctx.arrivalMs);
      await expectReceive(layer, named, { type: "group" }, ctx.arrivalMs);
      await expectReceive(layer, full, { type: "first" }, ctx.arrivalMs);
      await expectNothing(layer, full, ctx.silenceMs, "the group message skipped this full member");
    });
  });
}
