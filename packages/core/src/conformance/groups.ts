import { describe, expect, it } from "vitest";
import { expectNothing, expectReceive, receiveWithin, type SuiteContext } from "./context.js";

export function groupTests(ctx: SuiteContext): void {
  describe("groups", () => {
    it("sends to every member of a group and to nobody else", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("groups") || !ctx.supports("buffered")) skip();
      const layer = await ctx.layer();
      const members = [await layer.newChannel(), await layer.newChannel(), "named-member"];
      const outsider = await layer.newChannel();
      for (const channel of members) await layer.groupAdd("room", channel);
      await layer.groupSend("room", { type: "chat.message", text: "hi" });
      for (const channel of members) {
        await expectReceive(layer, channel, { type: "chat.message", text: "hi" }, ctx.arrivalMs);
      }
      await expectNothing(layer, outsider, ctx.silenceMs, "it is not in the group");
    });

    it("delivers once to a channel added twice", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      await layer.groupAdd("twice", channel);
      await layer.groupAdd("twice", channel);
      await layer.groupSend("twice", { type: "once" });
      await expectReceive(layer, channel, { type: "once" }, ctx.arrivalMs);
      await expectNothing(layer, channel, ctx.silenceMs, "a channel added twice is one member");
    });

    it("stops sending to a discarded member and keeps the others", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const layer = await ctx.layer();
      const [leaving, staying] = [await layer.newChannel(), await layer.newChannel()];
      await layer.groupAdd("discarding", leaving);
      await layer.groupAdd("discarding", staying);
      await layer.groupDiscard("discarding", leaving);
      await layer.groupSend("discarding", { type: "after.discard" });
      await expectReceive(layer, staying, { type: "after.discard" }, ctx.arrivalMs);
      await expectNothing(layer, leaving, ctx.silenceMs, "groupDiscard took it out of the group");
    });

    it(
      "treats groupDiscard of a non-member and groupSend to an empty group as no-ops",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("groups")) skip();
        const layer = await ctx.layer();
        const channel = await layer.newChannel();
        await expect(layer.groupDiscard("never-made", channel)).resolves.toBeUndefined();
        await layer.groupAdd("one-member", "someone-else");
        await expect(layer.groupDiscard("one-member", channel)).resolves.toBeUndefined();
        await expect(layer.groupSend("never-made", { type: "nobody" })).resolves.toBeUndefined();
        await expectNothing(layer, "someone-else", ctx.silenceMs, "nothing was sent to its group");
      },
    );

    it("delivers each group's messages to a channel in several groups", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      await layer.groupAdd("first-group", channel);
      await layer.groupAdd("second-group", channel);
      await layer.groupSend("first-group", { type: "from", group: 1 });
      await layer.groupSend("second-group", { type: "from", group: 2 });
      await expectReceive(layer, channel, { type: "from", group: 1 }, ctx.arrivalMs);
      await expectReceive(layer, channel, { type: "from", group: 2 }, ctx.arrivalMs);
    });

    it("gives every member its own copy of the message", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const layer = await ctx.layer();
      const [a, b] = [await layer.newChannel(), await layer.newChannel()];
      await layer.groupAdd("copies", a);
      await layer.groupAdd("copies", b);
      await layer.groupSend("copies", { type: "shared", list: [1] });
      const first = await receiveWithin<{ list: number[] }>(layer, a, ctx.arrivalMs);
      first.list.push(2);
      await expectReceive(layer, b, { type: "shared", list: [1] }, ctx.arrivalMs);
    });

    it("keeps groups of separate layers apart", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const [a, b] = [await ctx.layer(), await ctx.layer()];
      const [onA, onB] = [await a.newChannel(), await b.newChannel()];
      await a.groupAdd("same-name", onA);
      await b.groupAdd("same-name", onB);
      await a.groupSend("same-name", { type: "only.a" });
      await expectReceive(a, onA, { type: "only.a" }, ctx.arrivalMs);
      await expectNothing(b, onB, ctx.silenceMs, "the group of the same name is on another layer");
    });
  });
}
