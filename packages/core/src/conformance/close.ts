import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import { LayerClosed } from "../errors.js";
import { rejectionOf, type SuiteContext } from "./context.js";

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
    it("rejects pending receives with LayerClosed", async () => {
      const layer = await ctx.layer();
      const local = await layer.newChannel();
      const pending = [layer.receive(local), layer.receive(local), layer.receive("closing-named")].map(rejectionOf);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await layer.close();
      for (const receive of pending) {
        const error = await receive;
        expect(error).toBeInstanceOf(LayerClosed);
        expect(error).toMatchObject({ code: "LAYER_CLOSED" });
      }
    });

    it("rejects every call after close with LayerClosed", async () => {
      const layer = await ctx.layer();
      await layer.close();
      for (const [label, call] of everyCall(layer)) {
        const error = await call().catch((e: unknown) => e);
        expect(error, label).toBeInstanceOf(LayerClosed);
        expect(error, label).toMatchObject({ code: "LAYER_CLOSED" });
      }
    });

    it("is idempotent, also when called concurrently", async () => {
      const layer = await ctx.layer();
      await layer.send(await layer.newChannel(), { type: "pending" });
      await expect(Promise.all([layer.close(), layer.close()])).resolves.toBeDefined();
      await expect(layer.close()).resolves.toBeUndefined();
    });
  });
}
