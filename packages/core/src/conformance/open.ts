import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import { describeValue, expectReceive, handled, type SuiteContext } from "./context.js";

/** Every call, made at once on a layer that may not be open yet; each one's promise, by name. */
function everyCall(layer: ChannelLayer): [string, Promise<unknown>][] {
  return [
    ["newChannel", layer.newChannel()],
    ["send", layer.send("unopened-named", { type: "unopened" })],
    ["receive", layer.receive("unopened-named")],
    ["groupAdd", layer.groupAdd("unopened-group", "unopened-member")],
    ["groupDiscard", layer.groupDiscard("unopened-group", "unopened-other")],
    ["groupSend", layer.groupSend("unopened-group", { type: "unopened.group" })],
    ["discardChannel", layer.discardChannel("unopened-gone")],
    ["flush", layer.flush()],
  ];
}

/** What `call` rejected with, `{ resolved }` if it resolved, or `{ pending }` if it did neither within `ms`. */
async function settledWithin(call: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ pending: `neither resolved nor rejected within ${ms} ms` }), ms);
  });
  try {
    return await Promise.race([
      call.then(
        (value) => ({ resolved: value }),
        (error: unknown) => error,
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function openTests(ctx: SuiteContext): void {
  describe("open", () => {
    it(
      "lets every call made before the layer is open wait for it, then do its work",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("buffered") || !ctx.supports("groups")) skip();
        const layer = await ctx.layer();
        // No await between these: all of them are made while the layer may still be opening.
        const making = layer.newChannel();
        const sending = layer.send("early-named", { type: "early.named" });
        const [receiving] = handled([layer.receive("early-named", { signal: AbortSignal.timeout(ctx.arrivalMs) })]);
        const adding = layer.groupAdd("early-group", "early-member");
        const discarding = layer.groupDiscard("early-group", "early-never-added");
        const groupSending = layer.groupSend("early-empty-group", { type: "nobody" });
        const discardingChannel = layer.discardChannel("early-gone");
        const results = await Promise.allSettled([
          making,
          sending,
          adding,
          discarding,
          groupSending,
          discardingChannel,
        ]);
        const failed = results.filter((result) => result.status === "rejected");
        expect(failed, `calls made before open should all resolve, but ${describeValue(failed)}`).toEqual([]);
        expect(await receiving, "the receive made before open should get the send made before open").toEqual({
          type: "early.named",
        });
        const local = await making;
        await layer.send(local, { type: "to.early.channel" });
        await expectReceive(layer, local, { type: "to.early.channel" }, ctx.arrivalMs);
        await layer.groupSend("early-group", { type: "to.early.member" });
        await expectReceive(layer, "early-member", { type: "to.early.member" }, ctx.arrivalMs);
      },
    );

    it("lets a flush made before open wait for it too", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("flush")) skip();
      const layer = await ctx.layer();
      const flushing = layer.flush();
      const channel = await layer.newChannel();
      await flushing;
      await layer.send(channel, { type: "after.early.flush" });
      await expectReceive(layer, channel, { type: "after.early.flush" }, ctx.arrivalMs);
    });

    it(
      "lets close come before open: it resolves, and every later call rejects with LayerClosed",
      ctx.timeout(),
      async () => {
        const layer = await ctx.layer();
        const [waiting] = handled([layer.receive("closed-early").catch((error: unknown) => error)]);
        await layer.close();
        expect(await waiting, "a receive made before open and close should reject with LayerClosed").toMatchObject({
          code: "LAYER_CLOSED",
        });
        const calls = everyCall(layer);
        handled(calls.map(([, call]) => call));
        for (const [label, call] of calls) {
          const error = await call.catch((e: unknown) => e);
          expect(
            error,
            `${label} after close should reject with LayerClosed, got ${describeValue(error)}`,
          ).toMatchObject({
            code: "LAYER_CLOSED",
          });
        }
      },
    );

    describe.runIf(ctx.options.unreachableFactory !== undefined)("that fails (the server does not answer)", () => {
      it(
        "rejects every call with BACKEND_UNAVAILABLE and the cause, and close still resolves",
        ctx.timeout(),
        async () => {
          const layer = await (ctx.options.unreachableFactory as () => ChannelLayer | Promise<ChannelLayer>)();
          try {
            const calls = everyCall(layer);
            handled(calls.map(([, call]) => call));
            for (const [label, call] of calls) {
              const error = await settledWithin(call, ctx.arrivalMs);
              const what = `${label} on a layer whose server does not answer should reject with BACKEND_UNAVAILABLE, got ${describeValue(error)}`;
              expect(error, what).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
              expect((error as Error).cause, `${label}'s BACKEND_UNAVAILABLE should keep the cause`).toBeDefined();
            }
            const again = await settledWithin(layer.send("unopened-named", { type: "again" }), ctx.arrivalMs);
            expect(again, "a call after the failed open should try again and fail the same way").toMatchObject({
              code: "BACKEND_UNAVAILABLE",
            });
          } finally {
            await layer.close();
          }
        },
      );
    });
  });
}
