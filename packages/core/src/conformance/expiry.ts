import { describe, expect, it } from "vitest";
import { receiveOrNothing, receiveWithin, type SuiteContext, sleep } from "./context.js";

export function expiryTests(ctx: SuiteContext): void {
  describe("expiry", () => {
    it("never delivers a message not received within expiry", async ({ skip }) => {
      if (!ctx.supports("expiry")) skip();
      const layer = await ctx.layer({ expiry: 0.3 });
      const local = await layer.newChannel();
      await layer.send("expiring", { type: "old" });
      await layer.send(local, { type: "old" });
      await sleep(600);
      expect(await receiveOrNothing(layer, "expiring", ctx.silenceMs)).toBeUndefined();
      expect(await receiveOrNothing(layer, local, ctx.silenceMs)).toBeUndefined();
      await layer.send("expiring", { type: "new" });
      await layer.send(local, { type: "new" });
      expect(await receiveWithin(layer, "expiring", ctx.arrivalMs)).toEqual({ type: "new" });
      expect(await receiveWithin(layer, local, ctx.arrivalMs)).toEqual({ type: "new" });
    });

    it("delivers the unexpired messages behind expired ones, in order", async ({ skip }) => {
      if (!ctx.supports("expiry")) skip();
      const layer = await ctx.layer({ expiry: 0.4 });
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "old", n: 0 });
      await sleep(250);
      await layer.send(channel, { type: "young", n: 1 });
      await layer.send(channel, { type: "young", n: 2 });
      await sleep(250);
      expect((await receiveWithin(layer, channel, ctx.arrivalMs)).n).toBe(1);
      expect((await receiveWithin(layer, channel, ctx.arrivalMs)).n).toBe(2);
    });

    it("counts only unexpired messages against capacity", async ({ skip }) => {
      if (!ctx.supports("expiry") || !ctx.supports("capacity")) skip();
      const layer = await ctx.layer({ expiry: 0.3, capacity: 1 });
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "first" });
      await expect(layer.send(channel, { type: "second" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
      await sleep(600);
      await layer.send(channel, { type: "third" });
      expect(await receiveWithin(layer, channel, ctx.arrivalMs)).toEqual({ type: "third" });
    });

    it("ends a group membership after groupExpiry, and groupAdd renews it", async ({ skip }) => {
      if (!ctx.supports("groups") || !ctx.supports("group-expiry")) skip();
      const layer = await ctx.layer({ groupExpiry: 0.6 });
      const lapsing = await layer.newChannel();
      const renewed = await layer.newChannel();
      await layer.groupAdd("lapsing-group", lapsing);
      await layer.groupAdd("lapsing-group", renewed);
      await sleep(400);
      await layer.groupAdd("lapsing-group", renewed);
      await sleep(400);
      await layer.groupSend("lapsing-group", { type: "after.expiry" });
      expect(await receiveWithin(layer, renewed, ctx.arrivalMs)).toEqual({ type: "after.expiry" });
      expect(await receiveOrNothing(layer, lapsing, ctx.silenceMs)).toBeUndefined();
    });
  });
}
