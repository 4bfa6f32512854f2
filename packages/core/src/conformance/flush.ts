import { describe, expect, it } from "vitest";
import { receiveOrNothing, receiveWithin, type SuiteContext } from "./context.js";

export function flushTests(ctx: SuiteContext): void {
  describe("flush", () => {
    it("removes every message and group, and the layer works on afterwards", async ({ skip }) => {
      if (!ctx.supports("flush")) skip();
      const layer = await ctx.layer();
      const local = await layer.newChannel();
      await layer.send("flushed-named", { type: "gone" });
      await layer.send(local, { type: "gone" });
      if (ctx.supports("groups")) await layer.groupAdd("flushed-group", local);
      await layer.flush();
      expect(await receiveOrNothing(layer, "flushed-named", ctx.silenceMs)).toBeUndefined();
      expect(await receiveOrNothing(layer, local, ctx.silenceMs)).toBeUndefined();
      if (ctx.supports("groups")) {
        await layer.groupSend("flushed-group", { type: "nobody" });
        expect(await receiveOrNothing(layer, local, ctx.silenceMs)).toBeUndefined();
      }
      await layer.send(local, { type: "after.flush" });
      expect(await receiveWithin(layer, local, ctx.arrivalMs)).toEqual({ type: "after.flush" });
    });

    it("keeps a waiting receive waiting across a flush", async ({ skip }) => {
      if (!ctx.supports("flush")) skip();
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const waiting = receiveWithin(layer, channel, ctx.arrivalMs);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await layer.flush();
      await layer.send(channel, { type: "after.flush" });
      expect(await waiting).toEqual({ type: "after.flush" });
    });

    it("flushes only its own layer's prefix", async ({ skip }) => {
      if (!ctx.supports("flush") || !ctx.supports("buffered")) skip();
      const [flushed, other] = [await ctx.layer(), await ctx.layer()];
      await other.send("same-name", { type: "survives" });
      await flushed.send("same-name", { type: "gone" });
      await flushed.flush();
      expect(await receiveWithin(other, "same-name", ctx.arrivalMs)).toEqual({ type: "survives" });
    });
  });
}
