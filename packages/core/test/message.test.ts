import { describe, expect, it } from "vitest";
import { copyMessage, copyValidMessage, lastSizeLowerBound, validateMessage } from "../src/message.js";

describe("message validation", () => {
  it("names the path to the first bad value", () => {
    expect(() => validateMessage({ type: "x", a: { list: [1, { when: new Date() }] } })).toThrow(
      /message\.a\.list\[1\]\.when is a Date object/,
    );
  });

  it("bounds the MessagePack size from below", () => {
    validateMessage({ type: "abc", text: "x".repeat(1000), bytes: new Uint8Array(500) });
    expect(lastSizeLowerBound()).toBeGreaterThanOrEqual(1500);
    expect(lastSizeLowerBound()).toBeLessThan(1600);
  });

  it("copies deeply, bytes included, without sharing anything", () => {
    const bytes = new Uint8Array([1, 2]);
    const original = { type: "x", nested: { list: [1, { bytes }] } };
    const copy = copyValidMessage(original);
    // Bytes come back as a Buffer, as they do from the wire.
    expect(copy).toEqual({ type: "x", nested: { list: [1, { bytes: Buffer.from([1, 2]) }] } });
    expect(copy.nested).not.toBe(original.nested);
    expect((copy.nested as { list: { bytes: Uint8Array }[] }).list[1]?.bytes).not.toBe(bytes);
    const again = copyMessage(copy);
    expect(again).toEqual(copy);
    expect(again.nested).not.toBe(copy.nested);
  });

  it("turns a null-prototype object into a plain one", () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { type: "x", n: 1 });
    const copy = copyValidMessage(bare);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy).toEqual({ type: "x", n: 1 });
  });
});

describe("what a message may hold, as the wire carries it", () => {
  function rejection(run: () => unknown): Error & { code?: string } {
    try {
      run();
    } catch (error) {
      return error as Error & { code?: string };
    }
    throw new Error("expected a rejection");
  }

  it("refuses a lone surrogate in a value or a key with INVALID_MESSAGE naming where", () => {
    const inValue = rejection(() => validateMessage({ type: "x", list: ["ok", "\ud800"] }));
    expect(inValue).toMatchObject({ code: "INVALID_MESSAGE" });
    expect(inValue.message).toMatch(/message\.list\[1\] is a string with a lone surrogate/);
    const inKey = rejection(() => validateMessage({ type: "x", nested: { "a\udc00": 1 } }));
    expect(inKey.message).toMatch(/message\.nested\."a\\udc00" is a key with a lone surrogate/);
    expect(rejection(() => copyValidMessage({ type: "\ud83d" }))).toMatchObject({ code: "INVALID_MESSAGE" });
    expect(() => validateMessage({ type: "x", pair: "🎉 \ud83c\udf89" })).not.toThrow();
  });

  it("refuses a throwing getter or Proxy with INVALID_MESSAGE, keeping the cause, and the next error names its own path", () => {
    const boom = new Error("getter exploded");
    const getter = {
      type: "x",
      deep: {
        get value(): unknown {
          throw boom;
        },
      },
    };
    for (const run of [() => validateMessage(getter), () => copyValidMessage(getter)]) {
      const error = rejection(run);
      expect(error).toMatchObject({ code: "INVALID_MESSAGE" });
      expect(error.cause).toBe(boom);
      expect(error.message).toMatch(/message\.deep\.value could not be read \(getter exploded\)/);
    }
    const trap = new Proxy(
      { type: "x" },
      {
        ownKeys() {
          throw new Error("ownKeys trap");
        },
      },
    );
    expect(rejection(() => copyValidMessage(trap))).toMatchObject({ code: "INVALID_MESSAGE" });
    expect(rejection(() => validateMessage({ type: "x", other: { n: Number.NaN } })).message).toMatch(
      /^message\.other\.n is NaN/,
    );
  });

  it("copies as the wire normalises: -0 as 0, bigints within 2^53 as numbers, bytes as a Buffer", () => {
    const copy = copyValidMessage({
      type: "x",
      zero: -0,
      list: [-0, 5n, 2n ** 53n + 1n],
      small: -(2n ** 53n),
      big: 2n ** 60n,
      bytes: new Uint8Array([7]),
    });
    expect(Object.is(copy.zero, 0)).toBe(true);
    expect(Object.is((copy.list as unknown[])[0], 0)).toBe(true);
    expect(copy.list).toEqual([0, 5, 2n ** 53n + 1n]);
    expect(copy.small).toBe(-(2 ** 53));
    expect(copy.big).toBe(2n ** 60n);
    expect(Buffer.isBuffer(copy.bytes)).toBe(true);
  });

  it("never shares bytes with a Buffer the sender keeps", () => {
    const sent = Buffer.from([1, 2, 3]);
    const copy = copyValidMessage({ type: "x", sent });
    sent[0] = 9;
    expect([...(copy.sent as Buffer)]).toEqual([1, 2, 3]);
    const again = copyMessage(copy);
    (copy.sent as Buffer)[1] = 9;
    expect([...(again.sent as Buffer)]).toEqual([1, 2, 3]);
  });
});
