import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import { countingProblems, handled, receiveWithin, type SuiteContext } from "./context.js";

const CHANNELS = 200;
const GROUP_SENDS = 50;
const SENDS = 50;

/**
 * One sender, 200 process-local channels of `layer` in one group: 50 awaited groupSends, then 50
 * awaited sends to each channel. Every channel must receive 0..99 in order: a message whose call
 * resolved first arrives first, whichever path (group or direct) each took.
 */
async function sendMixedAndCheckOrder(ctx: SuiteContext, layer: ChannelLayer, sender = layer): Promise<void> {
  const channels = await Promise.all(Array.from({ length: CHANNELS }, () => layer.newChannel()));
  for (const channel of channels) await layer.groupAdd("ordering", channel);
  for (let n = 0; n < GROUP_SENDS; n++) await sender.groupSend("ordering", { type: "ordered.group", n });
  await Promise.all(
    channels.map(async (channel) => {
      for (let n = GROUP_SENDS; n < GROUP_SENDS + SENDS; n++) await sender.send(channel, { type: "ordered.direct", n });
    }),
  );
  const total = GROUP_SENDS + SENDS;
  await Promise.all(
    handled(
      channels.map(async (channel) => {
        const order: number[] = [];
        for (let i = 0; i < total; i++) {
          const expected = { n: i, path: i < GROUP_SENDS ? "groupSend" : "send" };
          order.push((await receiveWithin(layer, channel, ctx.arrivalMs, expected)).n as number);
        }
        expect(
          order,
          `${channel} should receive n = 0..${total - 1} in the order the calls resolved (0..${GROUP_SENDS - 1} by groupSend, the rest by send): ${countingProblems(order, total)}`,
        ).toEqual(Array.from({ length: total }, (_, n) => n));
      }),
    ),
  );
}

/** Unrelated traffic on other channels of `layers` until stop() is called. */
function backgroundTraffic(layers: readonly ChannelLayer[]): { stop(): Promise<void> } {
  let running = true;
  const work = layers.map(async (layer, index) => {
    const channels = await Promise.all(Array.from({ length: 10 }, () => layer.newChannel()));
    for (const channel of channels) await layer.groupAdd(`ordering-noise-${index}`, channel);
    const drains = channels.map(async (channel) => {
      while (running) await layer.receive(channel, { signal: AbortSignal.timeout(200) }).catch(() => undefined);
    });
    let n = 0;
    while (running) {
      await Promise.all([
        ...channels.map((channel) => layer.send(channel, { type: "noise", n: n++ }).catch(() => undefined)),
        layer.groupSend(`ordering-noise-${index}`, { type: "noise.group", n: n++ }).catch(() => undefined),
      ]);
    }
    await Promise.all(drains);
  });
  handled(work);
  return {
    async stop() {
      running = false;
      await Promise.all(work);
    },
  };
}

export function orderingTests(ctx: SuiteContext): void {
  describe("order across send and groupSend", () => {
    it(
      "for one sender, messages to one channel arrive in the order its calls resolved, whatever the mix of send and groupSend",
      ctx.timeout(12),
      async ({ skip }) => {
        if (!ctx.supports("groups")) skip();
        const layer = await ctx.layer({ capacity: 1000 });
        await sendMixedAndCheckOrder(ctx, layer);
      },
    );

    it("keeps that order for a sender on another instance", ctx.timeout(12), async ({ skip }) => {
      if (!ctx.options.crossInstance || !ctx.supports("groups") || !ctx.supports("buffered")) skip();
      const [receiver, sender] = await ctx.layerPair({ capacity: 1000 });
      await sendMixedAndCheckOrder(ctx, receiver, sender);
    });

    it("keeps that order while unrelated traffic loads the layer", ctx.timeout(16), async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const layer = await ctx.layer({ capacity: 1000 });
      // Noise on the same layer, and on another one that shares its server.
      const traffic = backgroundTraffic([layer, await ctx.layer({ capacity: 1000 })]);
      try {
        await sendMixedAndCheckOrder(ctx, layer);
      } finally {
        await traffic.stop();
      }
    });
  });
}
