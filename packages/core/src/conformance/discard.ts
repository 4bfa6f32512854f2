import { describe, expect, it } from "vitest";
import { expectNothing, expectReceive, rejectionOf, type SuiteContext } from "./context.js";

export function discardTests(ctx: SuiteContext): void {
  describe("discardChannel", () => {
    it("drops the buffered messages of a process-local channel", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "dropped", n: 1 });
      await layer.send(channel, { type: "dropped", n: 2 });
      await layer.discardChannel(channel);
      await expectNothing(layer, channel, ctx.silenceMs, "discardChannel dropped its buffered messages");
    });

    it("rejects receives waiting on the channel with CHANNEL_DISCARDED", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const waiting = rejectionOf(layer.receive(channel));
      await new Promise((resolve) => setTimeout(resolve, 20));
      await layer.discardChannel(channel);
      expect(await waiting).toMatchObject({ code: "CHANNEL_DISCARDED" });
    });

    it("removes the channel from every group this layer added it to", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const layer = await ctx.layer();
      const [gone, staying] = [await layer.newChannel(), await layer.newChannel()];
      for (const group of ["discard-a", "discard-b"]) {
        await layer.groupAdd(group, gone);
        await layer.groupAdd(group, staying);
      }
      await layer.discardChannel(gone);
      await layer.groupSend("discard-a", { type: "a" });
      await layer.groupSend("discard-b", { type: "b" });
      await expectReceive(layer, staying, { type: "a" }, ctx.arrivalMs);
      await expectReceive(layer, staying, { type: "b" }, ctx.arrivalMs);
      await expectNothing(layer, gone, ctx.silenceMs, "discardChannel took it out of its groups");
    });

    it("is a no-op for a channel nobody used, and leaves other channels alone", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const [unused, other] = [await layer.newChannel(), await layer.newChannel()];
      await layer.send(other, { type: "untouched" });
      await expect(layer.discardChannel(unused)).resolves.toBeUndefined();
      await expect(layer.discardChannel("never-used-named")).resolves.toBeUndefined();
      await expectReceive(layer, other, { type: "untouched" }, ctx.arrivalMs);
    });
  });
}
