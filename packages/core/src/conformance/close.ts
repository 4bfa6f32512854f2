import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import { LayerClosed } from "../errors.js";
import { describeValue, rejectionOf, type SuiteContext } from "./context.js";

function everyCall(layer: ChannelLayer): [string, () => Promise<unknown>][] {
  const message = { type: "after.close" };
  return [
    ["newChannel", () => layer.newChannel()],
    ["send", () => layer.send("closed-channel", message)],
    ["receive", () => layer.receive("closed-channel")],
    ["groupAdd", () => layer.groupAdd("closed-group", "closed-channel")],
    ["groupDiscard", () => layer.groupDiscard("closed-group", "closed-channel")],
    ["groupSend", () => layer.groupSend("closed-group", message)],
    ["discardChannel", () => layer.discardChannel("closed-channel")],
    ["flush", () => layer.flush()],
  ];
}

export function closeTests(ctx: SuiteContext): void {
  describe("close", () => {
    it("rejects pending receives with LayerClosed", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const local = await layer.newChannel();
      const pending = [layer.receive(local), layer.receive(local), layer.receive("closing-named")].map(rejectionOf);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await layer.close();
      for (const [i, receive] of pending.entries()) {
        const error = await receive;
        const label = `receive ${i} pending at close should reject with LayerClosed, got ${describeValue(error)}`;
        expect(error, label).toBeInstanceOf(LayerClosed);
        expect(error, label).toMatchObject({ code: "LAYER_CLOSED" });
      }
    });

    it("rejects every call after close with LayerClosed", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      await layer.close();
      for (const [label, call] of everyCall(layer)) {
        const error = await call().catch((e: unknown) => e);
        const why = `${label} after close should reject with LayerClosed, got ${describeValue(error)}`;
        expect(error, why).toBeInstanceOf(LayerClosed);
        expect(error, why).toMatchObject({ code: "LAYER_CLOSED" });
      }
    });

    it("is idempotent, also when called concurrently", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      await layer.send(await layer.newChannel(), { type: "pending" });
      await expect(Promise.all([layer.close(), layer.close()])).resolves.toBeDefined();
      await expect(layer.close()).resolves.toBeUndefined();
    });
  });
}
