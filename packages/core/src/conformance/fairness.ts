import { describe, it } from "vitest";
import { expectReceive, receiveWithin, type SuiteContext } from "./context.js";

export function fairnessTests(ctx: SuiteContext): void {
  describe("fairness", () => {
    it("delivers to a quiet channel while a busy one on the same layer is full and unread", ctx.timeout(), async () => {
      const layer = await ctx.layer({ capacity: 50 });
      const [busy, quiet] = [await layer.newChannel(), await layer.newChannel()];
      for (let n = 0; n < 50; n++) await layer.send(busy, { type: "busy", n });
      await layer.send(quiet, { type: "quiet" });
      await expectReceive(layer, quiet, { type: "quiet" }, ctx.arrivalMs);
      await expectReceive(layer, busy, { type: "busy", n: 0 }, ctx.arrivalMs);
    });

    it("keeps a quiet channel flowing while a busy one is flooded and drained", ctx.timeout(), async () => {
      const layer = await ctx.layer({ capacity: 1000 });
      const [busy, quiet] = [await layer.newChannel(), await layer.newChannel()];
      let flooding = true;
      const flood = (async () => {
        let n = 0;
        while (flooding) {
          await Promise.all(
            Array.from({ length: 20 }, () => layer.send(busy, { type: "flood", n: n++ }).catch(() => undefined)),
          );
        }
      })();
      const drain = (async () => {
        while (flooding) await receiveWithin(layer, busy, ctx.arrivalMs).catch(() => undefined);
      })();
      try {
        for (let n = 0; n < 20; n++) {
          await layer.send(quiet, { type: "quiet", n });
          await expectReceive(layer, quiet, { type: "quiet", n }, ctx.arrivalMs);
        }
      } finally {
        flooding = false;
        await flood;
        await layer.send(busy, { type: "last" }).catch(() => undefined);
        await drain;
      }
    });
  });
}
