import { describe, expect, it } from "vitest";
import {
  countingProblems,
  expectNothing,
  expectReceive,
  receiveOrNothing,
  type SuiteContext,
  sleep,
} from "./context.js";

export function crossInstanceTests(ctx: SuiteContext): void {
  describe.runIf(ctx.options.crossInstance)("across instances on one prefix", () => {
    it("delivers a send from one instance to a receive on the other", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("buffered")) skip();
      const [a, b] = await ctx.layerPair();
      const local = await b.newChannel();
      await a.send("cross-named", { type: "to.named" });
      await a.send(local, { type: "to.local" });
      await expectReceive(b, "cross-named", { type: "to.named" }, ctx.arrivalMs);
      await expectReceive(b, local, { type: "to.local" }, ctx.arrivalMs);
    });

    it("reaches every member of a group, whichever instance added it or sends", ctx.timeout(), async ({ skip }) => {
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
        await expectReceive(a, onA, { type: label }, ctx.arrivalMs);
        await expectReceive(b, onB, { type: label }, ctx.arrivalMs);
        await expectReceive(b, addedByA, { type: label }, ctx.arrivalMs);
      }
      await b.groupDiscard("cross-room", onA);
      await b.groupSend("cross-room", { type: "after.discard" });
      await expectNothing(a, onA, ctx.silenceMs, "the other instance discarded it from the group");
    });

    it("gives each message on a shared named channel to exactly one instance", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("buffered")) skip();
      const [a, b] = await ctx.layerPair({ capacity: 1000 });
      const sent = 100;
      const got: number[] = [];
      let lastArrival = Date.now();
      // Each instance drains until all arrived, or until nothing has for a whole arrival wait.
      const drain = async (layer: typeof a) => {
        while (got.length < sent && Date.now() - lastArrival < ctx.arrivalMs) {
          const message = await receiveOrNothing(layer, "cross-work", ctx.silenceMs * 3);
          if (message) {
            lastArrival = Date.now();
            got.push(message.n as number);
          }
        }
      };
      const draining = Promise.all([drain(a), drain(b)]);
      for (let n = 0; n < sent; n++) await (n % 2 ? a : b).send("cross-work", { type: "work", n });
      lastArrival = Date.now();
      await draining;
      const sorted = [...got].sort((x, y) => x - y);
      expect(
        sorted,
        `each of n = 0..${sent - 1} sent to cross-work should reach exactly one instance: ${countingProblems(sorted, sent)}`,
      ).toEqual(Array.from({ length: sent }, (_, n) => n));
    });

    it("counts a process-local channel's capacity for senders on another instance", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("capacity")) skip();
      const [owner, sender] = await ctx.layerPair({ capacity: 2 });
      const channel = await owner.newChannel();
      await sender.send(channel, { type: "one" });
      await sender.send(channel, { type: "two" });
      await expect(sender.send(channel, { type: "three" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
      await expectReceive(owner, channel, { type: "one" }, ctx.arrivalMs);
      await sender.send(channel, { type: "three" });
      await expectReceive(owner, channel, { type: "two" }, ctx.arrivalMs);
      await expectReceive(owner, channel, { type: "three" }, ctx.arrivalMs);
    });

    it(
      "skips a process-local member that is full for a groupSend from another instance, in order",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("capacity") || !ctx.supports("groups")) skip();
        const [owner, sender] = await ctx.layerPair({ capacity: 2 });
        const channel = await owner.newChannel();
        await owner.groupAdd("cross-full-group", channel);
        for (const n of [1, 2, 3]) await sender.groupSend("cross-full-group", { type: "group", n });
        // A layer may count what reaches another instance there, on arrival: give all three the
        // time expectNothing gives a message to arrive before a receive makes room.
        await sleep(ctx.silenceMs);
        await expectReceive(owner, channel, { type: "group", n: 1 }, ctx.arrivalMs);
        await expectReceive(owner, channel, { type: "group", n: 2 }, ctx.arrivalMs);
        await expectNothing(owner, channel, ctx.silenceMs, "the third groupSend found the channel full");
        await sender.groupSend("cross-full-group", { type: "group", n: 4 });
        await expectReceive(owner, channel, { type: "group", n: 4 }, ctx.arrivalMs);
      },
    );

    it(
      "reaches a named channel that one instance added to a group, from a groupSend on the other",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("groups") || !ctx.supports("buffered")) skip();
        const [a, b] = await ctx.layerPair();
        await a.groupAdd("cross-named-group", "cross-named-member");
        await b.groupSend("cross-named-group", { type: "to.named.member" });
        await expectReceive(a, "cross-named-member", { type: "to.named.member" }, ctx.arrivalMs);
        await a.groupDiscard("cross-named-group", "cross-named-member");
        await b.groupSend("cross-named-group", { type: "after.discard" });
        await expectNothing(b, "cross-named-member", ctx.silenceMs, "it was discarded from the group");
      },
    );

    it("counts capacity across instances", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("capacity")) skip();
      const [a, b] = await ctx.layerPair({ capacity: 2 });
      await a.send("cross-full", { type: "one" });
      await b.send("cross-full", { type: "two" });
      await expect(a.send("cross-full", { type: "three" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
      await expect(b.send("cross-full", { type: "three" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
    });
  });
}
