import { describe, expect, it } from "vitest";
import { ChannelLayerError } from "../errors.js";
import {
  describeValue,
  expectNothing,
  expectReceive,
  receiveWithin,
  type SuiteContext,
  settleBeforeIo,
} from "./context.js";

class Custom {
  type = "custom";
}

function invalidMessages(): [string, unknown][] {
  const cycle: Record<string, unknown> = { type: "cycle" };
  cycle.self = cycle;
  const sparse: unknown[] = [1];
  sparse[2] = 3;
  return [
    ["null", null],
    ["undefined", undefined],
    ["a string", "text"],
    ["a number", 42],
    ["an array", [{ type: "x" }]],
    ["a Map", new Map([["type", "x"]])],
    ["a class instance", new Custom()],
    ["no type", { text: "x" }],
    ["a numeric type", { type: 1 }],
    ["a reserved __asgi_channel__ key", { type: "x", __asgi_channel__: "specific.a!b" }],
    ["a function value", { type: "x", run: () => 1 }],
    ["an undefined value", { type: "x", missing: undefined }],
    ["NaN", { type: "x", n: Number.NaN }],
    ["Infinity", { type: "x", n: Number.POSITIVE_INFINITY }],
    ["a symbol value", { type: "x", s: Symbol("s") }],
    ["a Date", { type: "x", when: new Date() }],
    ["a nested Map", { type: "x", nested: { m: new Map() } }],
    ["a Set in a list", { type: "x", list: [new Set()] }],
    ["a sparse array", { type: "x", list: sparse }],
    ["a bigint above 2^63-1", { type: "x", n: 2n ** 63n }],
    ["a bigint below -2^63", { type: "x", n: -(2n ** 63n) - 1n }],
    ["a cycle", cycle],
    ["a __proto__ key", JSON.parse('{"type":"x","nested":{"__proto__":{"polluted":true}}}')],
    ["a lone high surrogate in a value", { type: "x", text: "broken \ud800 text" }],
    ["a lone low surrogate in a nested list", { type: "x", list: ["ok", ["\udfff"]] }],
    ["a lone surrogate in a key", { type: "x", nested: { "key\ud83d": 1 } }],
    ["a lone surrogate in the type", { type: "\udc00" }],
    ["a getter that throws", throwingGetter()],
    ["a Proxy whose traps throw", { type: "x", nested: throwingProxy() }],
  ];
}

function throwingGetter(): Record<string, unknown> {
  return Object.defineProperty({ type: "x" }, "computed", {
    enumerable: true,
    get() {
      throw new Error("getter failed");
    },
  });
}

function throwingProxy(): object {
  const fail = () => {
    throw new Error("trap failed");
  };
  return new Proxy({}, { ownKeys: fail, get: fail, getPrototypeOf: fail, has: fail });
}

export function messageTests(ctx: SuiteContext): void {
  describe("messages", () => {
    it("rejects every invalid message with INVALID_MESSAGE before any I/O, losing nothing", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "valid.before" });
      if (ctx.supports("groups")) await layer.groupAdd("invalid-messages", channel);
      for (const [label, message] of invalidMessages()) {
        const sends: [string, () => Promise<unknown>][] = [["send", () => layer.send(channel, message as never)]];
        if (ctx.supports("groups"))
          sends.push(["groupSend", () => layer.groupSend("invalid-messages", message as never)]);
        for (const [call, run] of sends) {
          const outcome = await settleBeforeIo(run());
          const what = `${call} of a message with ${label}`;
          expect(outcome.settled, `${what} should reject before any I/O, but had not settled`).toBe(true);
          expect(
            outcome.error,
            `${what} should reject with a ChannelLayerError, got ${describeValue(outcome.error)}`,
          ).toBeInstanceOf(ChannelLayerError);
          expect((outcome.error as ChannelLayerError).code, `${what} should reject with INVALID_MESSAGE`).toBe(
            "INVALID_MESSAGE",
          );
          expect((outcome.error as Error).message.length, `${what} should say what is wrong`).toBeGreaterThan(20);
        }
      }
      await expectReceive(layer, channel, { type: "valid.before" }, ctx.arrivalMs);
      await expectNothing(layer, channel, ctx.silenceMs, "every other send was invalid");
      expect(
        ({} as Record<string, unknown>).polluted,
        "a __proto__ key should not reach Object.prototype",
      ).toBeUndefined();
    });

    it("names the bad value's own path after a message whose getter threw", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const channel = await layer.newChannel();
      const deep = { type: "x", a: { b: [0, throwingGetter()] } };
      const first = await layer.send(channel, deep as never).catch((error: unknown) => error);
      expect(first, `a throwing getter should reject with INVALID_MESSAGE, got ${describeValue(first)}`).toMatchObject({
        code: "INVALID_MESSAGE",
        cause: expect.objectContaining({ message: "getter failed" }),
      });
      const second = await layer.send(channel, { type: "x", other: Number.NaN }).catch((error: unknown) => error);
      expect((second as Error).message, "the next error should name its own path, message.other").toMatch(
        /^message\.other is NaN/,
      );
    });

    it("rejects a message above maxMessageSize with MESSAGE_TOO_LARGE and keeps working", ctx.timeout(), async () => {
      const layer = await ctx.layer({ maxMessageSize: 64 * 1024 });
      const channel = await layer.newChannel();
      await expect(layer.send(channel, { type: "big", text: "x".repeat(100 * 1024) })).rejects.toMatchObject({
        code: "MESSAGE_TOO_LARGE",
      });
      await expect(layer.send(channel, { type: "big", bytes: new Uint8Array(65 * 1024) })).rejects.toMatchObject({
        code: "MESSAGE_TOO_LARGE",
      });
      await expect(layer.send(channel, { type: "big", text: "한".repeat(30 * 1024) })).rejects.toMatchObject({
        code: "MESSAGE_TOO_LARGE",
      });
      if (ctx.supports("groups")) {
        await layer.groupAdd("too-large", channel);
        await expect(layer.groupSend("too-large", { type: "big", text: "x".repeat(100 * 1024) })).rejects.toMatchObject(
          {
            code: "MESSAGE_TOO_LARGE",
          },
        );
      }
      await layer.send(channel, { type: "fits", text: "x".repeat(60 * 1024) });
      const got = await receiveWithin<{ text: string }>(layer, channel, ctx.arrivalMs);
      expect(got.text.length).toBe(60 * 1024);
      await expectNothing(layer, channel, ctx.silenceMs, "the larger sends were rejected");
    });
  });
}
