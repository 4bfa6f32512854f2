import { describe, expect, it } from "vitest";
import { copyMessage, copyValidMessage, lastSizeLowerBound, validateMessage } from "../src/index.js";

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
    expect(copy).toEqual(original);
    expect(copy.nested).not.toBe(original.nested);
    expect((copy.nested as { list: { bytes: Uint8Array }[] }).list[1]?.bytes).not.toBe(bytes);
    const again = copyMessage(copy);
    expect(again).toEqual(original);
    expect(again.nested).not.toBe(copy.nested);
  });

  it("turns a null-prototype object into a plain one", () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { type: "x", n: 1 });
    const copy = copyValidMessage(bare);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy).toEqual({ type: "x", n: 1 });
  });
});
