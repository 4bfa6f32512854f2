import { describe, expect, it } from "vitest";
import { expectNothing, expectReceive, handled, receiveWithin, type SuiteContext } from "./context.js";

export function flushTests(ctx: SuiteContext): void {
  describe("flush", () => {
    it("removes every message and group, and the layer works on afterwards", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("flush")) skip();
      const layer = await ctx.layer();
      const local = await layer.newChannel();
      await layer.send("flushed-named", { type: "gone" });
      await layer.send(local, { type: "gone" });
      if (ctx.supports("groups")) await layer.groupAdd("flushed-group", local);
      await layer.flush();
      await expectNothing(layer, "flushed-named", ctx.silenceMs, "flush removed its message");
      await expectNothing(layer, local, ctx.silenceMs, "flush removed its message");
      if (ctx.supports("groups")) {
        await layer.groupSend("flushed-group", { type: "nobody" });
        await expectNothing(layer, local, ctx.silenceMs, "flush removed the group");
      }
      await layer.send(local, { type: "after.flush" });
      await expectReceive(layer, local, { type: "after.flush" }, ctx.arrivalMs);
    });

    it("keeps a waiting receive waiting across a flush", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("flush")) skip();
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const [waiting] = handled([receiveWithin(layer, channel, ctx.arrivalMs, { type: "after.flush" })]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await layer.flush();
      await layer.send(channel, { type: "after.flush" });
      expect(await waiting).toEqual({ type: "after.flush" });
    });

    it("flushes only its own layer's prefix", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("flush") || !ctx.supports("buffered")) skip();
      const [flushed, other] = [await ctx.layer(), await ctx.layer()];
      await other.send("same-name", { type: "survives" });
      await flushed.send("same-name", { type: "gone" });
      await flushed.flush();
      await expectReceive(other, "same-name", { type: "survives" }, ctx.arrivalMs);
    });
  });
}
