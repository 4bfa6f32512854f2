import { describe, expect, it } from "vitest";
import { receiveOrNothing, receiveWithin, type SuiteContext } from "./context.js";

export function crossInstanceTests(ctx: SuiteContext): void {
  describe.runIf(ctx.options.crossInstance)("across instances on one prefix", () => {
    it("delivers a send from one instance to a receive on the other", async ({ skip }) => {
      if (!ctx.supports("buffered")) skip();
      const [a, b] = await ctx.layerPair();
      const local = await b.newChannel();
      await a.send("cross-named", { type: "to.named" });
      await a.send(local, { type: "to.local" });
      expect(await receiveWithin(b, "cross-named", ctx.arrivalMs)).toEqual({ type: "to.named" });
      expect(await receiveWithin(b, local, ctx.arrivalMs)).toEqual({ type: "to.local" });
    });

    it("reaches every member of a group, whichever instance added it or sends", async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const [a, b] = await ctx.layerPair();
      const [onA, onB, addedByA] = [await a.newChannel(), await b.newChannel(), await b.newChannel()];
      await a.groupAdd("cross-room", onA);
      await b.groupAdd("cross-room", onB);
      await a.groupAdd("cross-room", addedByA);
      for (const [sender, label] of [
        [a, "from.a"],
        [b, "from.b"],
      ] as const) {
        await sender.groupSend("cross-room", { type: label });
        expect(await receiveWithin(a, onA, ctx.arrivalMs)).toEqual({ type: label });
        expect(await receiveWithin(b, onB, ctx.arrivalMs)).toEqual({ type: label });
        expect(await receiveWithin(b, addedByA, ctx.arrivalMs)).toEqual({ type: label });
      }
      await b.groupDiscard("cross-room", onA);
      await b.groupSend("cross-room", { type: "after.discard" });
      expect(await receiveOrNothing(a, onA, ctx.silenceMs)).toBeUndefined();
    });

    it("gives each message on a shared named channel to exactly one instance", async ({ skip }) => {
      if (!ctx.supports("buffered")) skip();
      const [a, b] = await ctx.layerPair({ capacity: 1000 });
      const sent = 100;
      const got: number[] = [];
      let remaining = sent;
      const drain = async (layer: typeof a) => {
        while (remaining > 0) {
          const message = await receiveOrNothing(layer, "cross-work", ctx.silenceMs * 3);
          if (message) {
            remaining--;
            got.push(message.n as number);
          }
        }
      };
      const draining = Promise.all([drain(a), drain(b)]);
      for (let n = 0; n < sent; n++) await (n % 2 ? a : b).send("cross-work", { type: "work", n });
      await draining;
      expect(got.sort((x, y) => x - y)).toEqual(Array.from({ length: sent }, (_, n) => n));
    });

    it("counts a process-local channel's capacity for senders on another instance", async ({ skip }) => {
      if (!ctx.supports("capacity")) skip();
      const [owner, sender] = await ctx.layerPair({ capacity: 2 });
      const channel = await owner.newChannel();
      await sender.send(channel, { type: "one" });
      await sender.send(channel, { type: "two" });
      await expect(sender.send(channel, { type: "three" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
      expect(await receiveWithin(owner, channel, ctx.arrivalMs)).toEqual({ type: "one" });
      await sender.send(channel, { type: "three" });
      expect(await receiveWithin(owner, channel, ctx.arrivalMs)).toEqual({ type: "two" });
      expect(await receiveWithin(owner, channel, ctx.arrivalMs)).toEqual({ type: "three" });
    });

    it("reaches a named channel that one instance added to a group, from a groupSend on the other", async ({
      skip,
    }) => {
      if (!ctx.supports("groups") || !ctx.supports("buffered")) skip();
      const [a, b] = await ctx.layerPair();
      await a.groupAdd("cross-named-group", "cross-named-member");
      await b.groupSend("cross-named-group", { type: "to.named.member" });
      expect(await receiveWithin(a, "cross-named-member", ctx.arrivalMs)).toEqual({ type: "to.named.member" });
      await a.groupDiscard("cross-named-group", "cross-named-member");
      await b.groupSend("cross-named-group", { type: "after.discard" });
      expect(await receiveOrNothing(b, "cross-named-member", ctx.silenceMs)).toBeUndefined();
    });

    it("counts capacity across instances", async ({ skip }) => {
      if (!ctx.supports("capacity")) skip();
      const [a, b] = await ctx.layerPair({ capacity: 2 });
      await a.send("cross-full", { type: "one" });
      await b.send("cross-full", { type: "two" });
      await expect(a.send("cross-full", { type: "three" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
      await expect(b.send("cross-full", { type: "three" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
    });
  });
}
