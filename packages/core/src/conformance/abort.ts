import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import { receiveOrNothing, receiveWithin, rejectionOf, type SuiteContext } from "./context.js";

type Outcome = { kind: "message"; n: number } | { kind: "aborted" };

/**
 * Ways to time an abort against a send: before it is called, as it is called, and at every later
 * point where a backend's send may still be under way.
 */
const ABORT_TIMINGS: ((abort: () => void, send: () => Promise<void>) => Promise<void>)[] = [
  async (abort, send) => {
    abort();
    await send();
  },
  async (abort, send) => {
    const sending = send();
    abort();
    await sending;
  },
  async (abort, send) => {
    queueMicrotask(abort);
    await send();
  },
  async (abort, send) => {
    const sending = send();
    await Promise.resolve().then(abort);
    await sending;
  },
  async (abort, send) => {
    setImmediate(abort);
    await send();
  },
  async (abort, send) => {
    setTimeout(abort, 1);
    await send();
  },
  async (abort, send) => {
    await new Promise((resolve) => setImmediate(resolve));
    abort();
    await send();
  },
];

async function raceAbortWithSend(layer: ChannelLayer, channel: string, n: number, round: number): Promise<Outcome> {
  const controller = new AbortController();
  const receiving = layer.receive(channel, { signal: controller.signal }).then(
    (message): Outcome => ({ kind: "message", n: message.n as number }),
    (error: Error): Outcome => {
      if (error.name !== "AbortError") throw error;
      return { kind: "aborted" };
    },
  );
  const timing = ABORT_TIMINGS[round % ABORT_TIMINGS.length] as (typeof ABORT_TIMINGS)[number];
  await timing(
    () => controller.abort(),
    () => layer.send(channel, { type: "raced", n }),
  );
  return receiving;
}

export function abortTests(ctx: SuiteContext): void {
  describe("abort", () => {
    it("rejects a receive with an already aborted signal with AbortError, taking nothing", async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "kept" });
      const error = await layer.receive(channel, { signal: AbortSignal.abort() }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).name).toBe("AbortError");
      expect(await receiveWithin(layer, channel, ctx.arrivalMs)).toEqual({ type: "kept" });
    });

    it("rejects a waiting receive with AbortError on abort; the next message waits for the next receive", async () => {
      const layer = await ctx.layer();
      for (const channel of ["abort-named", await layer.newChannel()]) {
        const controller = new AbortController();
        const waiting = rejectionOf(layer.receive(channel, { signal: controller.signal }));
        await new Promise((resolve) => setTimeout(resolve, 20));
        controller.abort(new Error("gave up"));
        expect(await waiting).toMatchObject({ name: "AbortError" });
        await layer.send(channel, { type: "after.abort" });
        expect(await receiveWithin(layer, channel, ctx.arrivalMs)).toEqual({ type: "after.abort" });
      }
    });

    it("gives the message to the receiver that was not aborted", async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const controller = new AbortController();
      const aborted = rejectionOf(layer.receive(channel, { signal: controller.signal }));
      const patient = receiveWithin(layer, channel, ctx.arrivalMs);
      controller.abort();
      await layer.send(channel, { type: "for.patient" });
      expect(await aborted).toMatchObject({ name: "AbortError" });
      expect(await patient).toEqual({ type: "for.patient" });
    });

    it("loses and duplicates nothing when aborts race sends, many times over", async () => {
      const layer = await ctx.layer({ capacity: 1000 });
      for (const channel of ["abort-race", await layer.newChannel()]) {
        const rounds = 300;
        const received: number[] = [];
        for (let n = 0; n < rounds; n++) {
          const outcome = await raceAbortWithSend(layer, channel, n, n);
          if (outcome.kind === "message") received.push(outcome.n);
        }
        for (let message = await receiveOrNothing(layer, channel, ctx.silenceMs); message; ) {
          received.push(message.n as number);
          message = await receiveOrNothing(layer, channel, ctx.silenceMs);
        }
        expect(received).toEqual(Array.from({ length: rounds }, (_, n) => n));
      }
    });
  });
}
