import { describe, expect, it } from "vitest";
import { CapacityLookup, globToRegExp } from "../src/capacity.js";
import { resolveOptions } from "../src/options.js";

describe("globToRegExp (Python's fnmatch.translate)", () => {
  it.each([
    ["http.*", "http.request", true],
    ["http.*", "http", false],
    ["tiny-?", "tiny-a", true],
    ["tiny-?", "tiny-ab", false],
    ["set-[ab]", "set-b", true],
    ["set-[ab]", "set-c", false],
    ["set-[!ab]", "set-c", true],
    ["set-[!ab]", "set-a", false],
    ["dots.are.literal", "dotsXareXliteral", false],
    ["open-[", "open-[", true],
    ["*", "specific.abc!def", true],
  ])("%s matches %s: %s", (glob, name, expected) => {
    expect(globToRegExp(glob).test(name)).toBe(expected);
  });
});

describe("CapacityLookup", () => {
  it("returns the first matching rule, else the default", () => {
    const { capacity, channelCapacity } = resolveOptions({
      capacity: 7,
      channelCapacity: [
        [/^re-\d+$/, 4],
        ["re-*", 1],
      ],
    });
    const lookup = new CapacityLookup(capacity, channelCapacity);
    expect(lookup.capacityFor("re-12")).toBe(4);
    expect(lookup.capacityFor("re-x")).toBe(1);
    expect(lookup.capacityFor("other")).toBe(7);
    expect(lookup.capacityFor("re-12")).toBe(4);
  });

  it("ignores a global RegExp's lastIndex", () => {
    const lookup = new CapacityLookup(1, [[/^g/g, 9]]);
    for (let i = 0; i < 3; i++) expect(lookup.capacityFor(`g${i}`)).toBe(9);
  });
});

describe("resolveOptions", () => {
  it("applies Channels' defaults", () => {
    expect(resolveOptions()).toEqual({
      expiry: 60,
      groupExpiry: 86_400,
      capacity: 100,
      channelCapacity: [],
      maxMessageSize: 16 * 1024 * 1024,
      groupHistory: [],
      presenceHeartbeatMs: 5000,
      presenceTimeoutMs: 15_000,
    });
  });

  it.each([
    [{ expiry: 0 }, /expiry/],
    [{ expiry: -1 }, /expiry/],
    [{ groupExpiry: Number.NaN }, /groupExpiry/],
    [{ capacity: 1.5 }, /capacity/],
    [{ capacity: 0 }, /capacity/],
    [{ maxMessageSize: -5 }, /maxMessageSize/],
    [{ channelCapacity: { "a*": 0 } }, /channelCapacity/],
    [{ channelCapacity: [[5, 1]] }, /channelCapacity/],
    [{ presenceHeartbeatMs: 0 }, /presenceHeartbeatMs/],
    [{ presenceTimeoutMs: Number.POSITIVE_INFINITY }, /presenceTimeoutMs/],
    [{ presenceHeartbeatMs: 1000, presenceTimeoutMs: 1000 }, /must exceed presenceHeartbeatMs/],
    [{ groupHistory: { "chat_*": { maxLength: 0 } } }, /maxLength/],
    [{ groupHistory: [["chat_*", { maxLength: 5, maxAgeMs: -1 }]] }, /maxAgeMs/],
    [{ groupHistory: [[5, { maxLength: 5 }]] }, /globs or RegExps/],
    [{ groupHistory: { "chat_*": 100 } }, /maxLength, maxAgeMs/],
  ])("rejects %o with INVALID_OPTIONS", (options, message) => {
    expect(() => resolveOptions(options as never)).toThrow(message);
    expect(() => resolveOptions(options as never)).toThrow(expect.objectContaining({ code: "INVALID_OPTIONS" }));
  });

  it("takes fractional expiries", () => {
    expect(resolveOptions({ expiry: 0.25, groupExpiry: 1.5 })).toMatchObject({ expiry: 0.25, groupExpiry: 1.5 });
  });

  it("defaults presenceTimeoutMs to three heartbeats, and takes groupHistory as a table or a list", () => {
    expect(resolveOptions({ presenceHeartbeatMs: 200 })).toMatchObject({
      presenceHeartbeatMs: 200,
      presenceTimeoutMs: 600,
    });
    expect(
      resolveOptions({ groupHistory: { "chat_*": { maxLength: 100, maxAgeMs: 3_600_000 } } }).groupHistory,
    ).toEqual([["chat_*", { maxLength: 100, maxAgeMs: 3_600_000 }]]);
    const pattern = /^room-/;
    expect(resolveOptions({ groupHistory: [[pattern, { maxLength: 5 }]] }).groupHistory).toEqual([
      [pattern, { maxLength: 5 }],
    ]);
  });
});
