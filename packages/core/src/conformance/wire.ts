import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import { describeValue, receiveWithin, type SuiteContext } from "./context.js";

/** A message with every value the wire changes on the way, and what must arrive (docs/contract.md). */
function normalised(): { sent: Record<string, unknown> & { type: string }; arrives: Record<string, unknown> } {
  const backing = new Uint8Array([9, 1, 2, 3, 9]);
  return {
    sent: {
      type: "wire.values",
      negativeZero: -0,
      nested: { list: [-0, 1.5] },
      smallBigint: 42n,
      edgeBigint: -(2n ** 53n),
      largeBigint: 2n ** 53n + 1n,
      largeNumber: 2 ** 60,
      view: backing.subarray(1, 4),
      bare: Object.assign(Object.create(null) as object, { k: "v" }),
      zLast: "keys keep their order",
      aFirst: true,
    },
    arrives: {
      type: "wire.values",
      negativeZero: 0,
      nested: { list: [0, 1.5] },
      smallBigint: 42,
      edgeBigint: -(2 ** 53),
      largeBigint: 2n ** 53n + 1n,
      largeNumber: 2 ** 60,
      view: [1, 2, 3],
      bare: { k: "v" },
      zLast: "keys keep their order",
      aFirst: true,
    },
  };
}

async function expectNormalised(ctx: SuiteContext, layer: ChannelLayer, channel: string, path: string): Promise<void> {
  const { arrives } = normalised();
  const got = await receiveWithin(layer, channel, ctx.arrivalMs, arrives);
  const what = `${path} to ${channel}: received ${describeValue(got)}`;
  expect(Object.is(got.negativeZero, 0), `${what}; -0 should arrive as 0`).toBe(true);
  expect(Object.is((got.nested as { list: unknown[] }).list[0], 0), `${what}; a nested -0 should arrive as 0`).toBe(
    true,
  );
  expect(typeof got.smallBigint, `${what}; 42n should arrive as the number 42`).toBe("number");
  expect(typeof got.largeBigint, `${what}; 2n ** 53n + 1n should arrive as a bigint`).toBe("bigint");
  expect(typeof got.largeNumber, `${what}; the number 2 ** 60 should stay a number`).toBe("number");
  expect(Buffer.isBuffer(got.view), `${what}; bytes should arrive as a Buffer (a Uint8Array)`).toBe(true);
  expect(Object.getPrototypeOf(got.bare), `${what}; a null-prototype object should arrive plain`).toBe(
    Object.prototype,
  );
  expect(Object.keys(got), `${what}; keys should arrive in the order sent`).toEqual(Object.keys(arrives));
  expect({ ...got, view: [...(got.view as Uint8Array)] }, what).toEqual(arrives);
}

export function wireTests(ctx: SuiteContext): void {
  describe("what the wire normalises (the same on every layer)", () => {
    it(
      "-0, small bigints, byte views and null-prototype objects arrive as the wire carries them",
      ctx.timeout(),
      async () => {
        const layer = await ctx.layer();
        const channel = await layer.newChannel();
        await layer.send(channel, normalised().sent);
        await expectNormalised(ctx, layer, channel, "send");
      },
    );

    it("the same through groupSend, and across instances", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("groups")) skip();
      const [sender, receiver] = ctx.options.crossInstance
        ? await ctx.layerPair()
        : await ctx.layer().then((layer): [ChannelLayer, ChannelLayer] => [layer, layer]);
      const channel = await receiver.newChannel();
      await receiver.groupAdd("wire-values", channel);
      await sender.groupSend("wire-values", normalised().sent);
      await expectNormalised(ctx, receiver, channel, "groupSend");
      if (ctx.options.crossInstance) {
        await sender.send(channel, normalised().sent);
        await expectNormalised(ctx, receiver, channel, "send from another instance");
      }
    });

    it(
      "carries every well-formed string, keys included, and refuses lone surrogates at send",
      ctx.timeout(),
      async () => {
        const layer = await ctx.layer();
        const channel = await layer.newChannel();
        const text = "\u{10FFFF} \uFFFD \uFEFF \u2028 \ud83d\ude00 \u0000\u0001";
        await layer.send(channel, { type: "strings", text, [text]: text });
        const got = await receiveWithin(layer, channel, ctx.arrivalMs, { text });
        expect(got, `strings to ${channel} should arrive unchanged, got ${describeValue(got)}`).toEqual({
          type: "strings",
          text,
          [text]: text,
        });
        for (const bad of ["\ud800", "a\udc00b", "\ude00\ud83d"]) {
          const error = await layer.send(channel, { type: "strings", text: bad }).catch((e: unknown) => e);
          expect(error, `a lone surrogate (${describeValue(bad)}) should reject with INVALID_MESSAGE`).toMatchObject({
            code: "INVALID_MESSAGE",
          });
        }
      },
    );
  });
}
