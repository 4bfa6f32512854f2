import { describe, expect, it } from "vitest";
import { receiveOrNothing, receiveWithin, type SuiteContext } from "./context.js";

export function groupTests(ctx: SuiteContext): void {
  describe("groups", () => {
    it("sends to every member of a group and to nobody else", async ({ skip }) => {
      if (!ctx.supports("groups") || !ctx.supports("buffered")) skip();
      const layer = await ctx.layer();
      const members = [await layer.newChannel(), await layer.newChannel(), "named-member"];
      const outsider = await layer.newChannel();
      for (const channel of members) await layer.groupAdd("room", channel);
      await layer.groupSend("room", { type: "chat.message", text: "hi" });
      for (const channel of members) {
        expect(await receiveWithin(layer, channel, ctx.arrivalMs)).toEqual({ type: "chat.message", text: "hi" });
      }
      expect(await receiveOrNothing(layer, outsider, ctx.silenceMs)).toBeUndefined();
    });

    it("delivers once to a channel added twice", async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      await layer.groupAdd("twice", channel);
      await layer.groupAdd("twice", channel);
      await layer.groupSend("twice", { type: "once" });
      expect(await receiveWithin(layer, channel, ctx.arrivalMs)).toEqual({ type: "once" });
      expect(await receiveOrNothing(layer, channel, ctx.silenceMs)).toBeUndefined();
    });

    it("stops sending to a discarded member and keeps the others", async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const layer = await ctx.layer();
      const [leaving, staying] = [await layer.newChannel(), await layer.newChannel()];
      await layer.groupAdd("discarding", leaving);
      await layer.groupAdd("discarding", staying);
      await layer.groupDiscard("discarding", leaving);
      await layer.groupSend("discarding", { type: "after.discard" });
      expect(await receiveWithin(layer, staying, ctx.arrivalMs)).toEqual({ type: "after.discard" });
      expect(await receiveOrNothing(layer, leaving, ctx.silenceMs)).toBeUndefined();
    });

    it("treats groupDiscard of a non-member and groupSend to an empty group as no-ops", async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      await expect(layer.groupDiscard("never-made", channel)).resolves.toBeUndefined();
      await layer.groupAdd("one-member", "someone-else");
      await expect(layer.groupDiscard("one-member", channel)).resolves.toBeUndefined();
      await expect(layer.groupSend("never-made", { type: "nobody" })).resolves.toBeUndefined();
      expect(await receiveOrNothing(layer, "someone-else", ctx.silenceMs)).toBeUndefined();
    });

    it("delivers each group's messages to a channel in several groups", async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      await layer.groupAdd("first-group", channel);
      await layer.groupAdd("second-group", channel);
      await layer.groupSend("first-group", { type: "from", group: 1 });
      await layer.groupSend("second-group", { type: "from", group: 2 });
      expect(await receiveWithin(layer, channel, ctx.arrivalMs)).toEqual({ type: "from", group: 1 });
      expect(await receiveWithin(layer, channel, ctx.arrivalMs)).toEqual({ type: "from", group: 2 });
    });

    it("gives every member its own copy of the message", async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const layer = await ctx.layer();
      const [a, b] = [await layer.newChannel(), await layer.newChannel()];
      await layer.groupAdd("copies", a);
      await layer.groupAdd("copies", b);
      await layer.groupSend("copies", { type: "shared", list: [1] });
      const first = await receiveWithin<{ list: number[] }>(layer, a, ctx.arrivalMs);
      first.list.push(2);
      expect(await receiveWithin(layer, b, ctx.arrivalMs)).toEqual({ type: "shared", list: [1] });
    });

    it("keeps groups of separate layers apart", async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const [a, b] = [await ctx.layer(), await ctx.layer()];
      const [onA, onB] = [await a.newChannel(), await b.newChannel()];
      await a.groupAdd("same-name", onA);
      await b.groupAdd("same-name", onB);
      await a.groupSend("same-name", { type: "only.a" });
      expect(await receiveWithin(a, onA, ctx.arrivalMs)).toEqual({ type: "only.a" });
      expect(await receiveOrNothing(b, onB, ctx.silenceMs)).toBeUndefined();
    });
  });
}
