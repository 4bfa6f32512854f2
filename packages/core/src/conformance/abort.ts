import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import {
  countingProblems,
  describeValue,
  expectReceive,
  handled,
  receiveOrNothing,
  receiveWithin,
  rejectionOf,
  type SuiteContext,
} from "./context.js";

type Outcome = { kind: "message"; n: number } | { kind: "aborted" } | { kind: "failed"; error: unknown };

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
  // Never rejects: a receive still pending when a failed test closes the layer must not surface
  // later as an unhandled LayerClosed that vitest pins on another test.
  const receiving = layer.receive(channel, { signal: controller.signal }).then(
    (message): Outcome => ({ kind: "message", n: message.n as number }),
    (error: Error): Outcome => (error.name === "AbortError" ? { kind: "aborted" } : { kind: "failed", error }),
  );
  const timing = ABORT_TIMINGS[round % ABORT_TIMINGS.length] as (typeof ABORT_TIMINGS)[number];
  try {
    await timing(
      () => controller.abort(),
      () => layer.send(channel, { type: "raced", n }),
    );
  } catch (error) {
    controller.abort();
    await receiving;
    throw new Error(
      `send of n = ${n} to ${channel} rejected in abort race round ${round}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return receiving;
}

export function abortTests(ctx: SuiteContext): void {
  describe("abort", () => {
    it("rejects a receive with an already aborted signal with AbortError, taking nothing", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "kept" });
      const error = await layer.receive(channel, { signal: AbortSignal.abort() }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).name).toBe("AbortError");
      await expectReceive(layer, channel, { type: "kept" }, ctx.arrivalMs);
    });

    it(
      "rejects a waiting receive with AbortError on abort; the next message waits for the next receive",
      ctx.timeout(),
      async () => {
        const layer = await ctx.layer();
        for (const channel of ["abort-named", await layer.newChannel()]) {
          const controller = new AbortController();
          const waiting = rejectionOf(layer.receive(channel, { signal: controller.signal }));
          await new Promise((resolve) => setTimeout(resolve, 20));
          controller.abort(new Error("gave up"));
          expect(await waiting).toMatchObject({ name: "AbortError" });
          await layer.send(channel, { type: "after.abort" });
          await expectReceive(layer, channel, { type: "after.abort" }, ctx.arrivalMs);
        }
      },
    );

    it("gives the message to the receiver that was not aborted", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const controller = new AbortController();
      const aborted = rejectionOf(layer.receive(channel, { signal: controller.signal }));
      const [patient] = handled([receiveWithin(layer, channel, ctx.arrivalMs, { type: "for.patient" })]);
      controller.abort();
      await layer.send(channel, { type: "for.patient" });
      expect(await aborted).toMatchObject({ name: "AbortError" });
      expect(await patient).toEqual({ type: "for.patient" });
    });

    it("loses and duplicates nothing when aborts race sends, many times over", ctx.timeout(6), async () => {
      const layer = await ctx.layer({ capacity: 1000 });
      for (const channel of ["abort-race", await layer.newChannel()]) {
        const rounds = 300;
        const received: number[] = [];
        for (let n = 0; n < rounds; n++) {
          const outcome = await raceAbortWithSend(layer, channel, n, n);
          if (outcome.kind === "failed") {
            throw new Error(
              `receive on ${channel} in abort race round ${n} rejected with ${describeValue(outcome.error)}`,
              {
                cause: outcome.error,
              },
            );
          }
          if (outcome.kind === "message") received.push(outcome.n);
        }
        for (let message = await receiveOrNothing(layer, channel, ctx.silenceMs); message; ) {
          received.push(message.n as number);
          message = await receiveOrNothing(layer, channel, ctx.silenceMs);
        }
        expect(
          received,
          `each of the ${rounds} messages sent to ${channel} should reach a receive once, in order: ${countingProblems(received, rounds)}`,
        ).toEqual(Array.from({ length: rounds }, (_, n) => n));
      }
    });
  });
}
