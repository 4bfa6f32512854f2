import { describe, expect, it } from "vitest";
import { expectNothing, expectReceive, type SuiteContext, sleep } from "./context.js";

export function expiryTests(ctx: SuiteContext): void {
  describe("expiry", () => {
    it("never delivers a message not received within expiry", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("expiry")) skip();
      const layer = await ctx.layer({ expiry: 0.3 });
      const local = await layer.newChannel();
      await layer.send("expiring", { type: "old" });
      await layer.send(local, { type: "old" });
      await sleep(600);
      await expectNothing(layer, "expiring", ctx.silenceMs, "its message outlived expiry");
      await expectNothing(layer, local, ctx.silenceMs, "its message outlived expiry");
      await layer.send("expiring", { type: "new" });
      await layer.send(local, { type: "new" });
      await expectReceive(layer, "expiring", { type: "new" }, ctx.arrivalMs);
      await expectReceive(layer, local, { type: "new" }, ctx.arrivalMs);
    });

    it("delivers the unexpired messages behind expired ones, in order", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("expiry")) skip();
      const layer = await ctx.layer({ expiry: 0.4 });
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "old", n: 0 });
      await sleep(250);
      await layer.send(channel, { type: "young", n: 1 });
      await layer.send(channel, { type: "young", n: 2 });
      await sleep(250);
      await expectReceive(layer, channel, { type: "young", n: 1 }, ctx.arrivalMs);
      await expectReceive(layer, channel, { type: "young", n: 2 }, ctx.arrivalMs);
    });

    it("counts only unexpired messages against capacity", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("expiry") || !ctx.supports("capacity")) skip();
      const layer = await ctx.layer({ expiry: 0.3, capacity: 1 });
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "first" });
      await expect(layer.send(channel, { type: "second" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
      await sleep(600);
      await layer.send(channel, { type: "third" });
      await expectReceive(layer, channel, { type: "third" }, ctx.arrivalMs);
    });

    it("ends a group membership after groupExpiry, and groupAdd renews it", ctx.timeout(), async ({ skip }) => {
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
      await expectReceive(layer, renewed, { type: "after.expiry" }, ctx.arrivalMs);
      await expectNothing(layer, lapsing, ctx.silenceMs, "its membership lapsed after groupExpiry");
    });
  });
}
