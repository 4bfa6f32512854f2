import { describe, expect, it } from "vitest";
import { positionOf } from "../src/history.js";
import { assertHistoryOffset, GroupHistoryRules, stampHistory } from "../src/history-rules.js";
import {
  assertPresenceKey,
  copyPresenceMeta,
  type PresenceEntry,
  presenceDiff,
  presenceListOf,
} from "../src/presence-entry.js";

const entry = (key: string, ref: string, meta = {}): PresenceEntry => ({
  group: "g",
  key,
  channel: "c",
  ref,
  meta,
  instance: "i",
});

describe("presence entries", () => {
  it("lists entries by key in Phoenix's shape, one meta per track with its ref", () => {
    expect(presenceListOf([entry("alice", "r1", { tab: 1 }), entry("bob", "r2"), entry("alice", "r3")])).toEqual({
      alice: { metas: [{ tab: 1, ref: "r1" }, { ref: "r3" }] },
      bob: { metas: [{ ref: "r2" }] },
    });
    expect(presenceListOf([entry("constructor", "r4")])).toEqual({ constructor: { metas: [{ ref: "r4" }] } });
  });

  it("builds the diff message for a group", () => {
    expect(presenceDiff("g", [entry("a", "r1")], [entry("b", "r2")])).toEqual({
      type: "presence.diff",
      group: "g",
      joins: { a: { metas: [{ ref: "r1" }] } },
      leaves: { b: { metas: [{ ref: "r2" }] } },
    });
  });

  it("takes keys of 1 to 200 well-formed characters, not __proto__", () => {
    for (const key of ["u1", "alice@example.com", "사용자", "k".repeat(200)])
      expect(() => assertPresenceKey(key)).not.toThrow();
    for (const key of ["", "k".repeat(201), "\ud800", "__proto__", 5, null]) {
      expect(() => assertPresenceKey(key)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
  });

  it("copies a meta as message values, refusing ref and what a message refuses", () => {
    const meta = { nested: { n: 1 } };
    const copy = copyPresenceMeta(meta);
    meta.nested.n = 2;
    expect(copy).toEqual({ nested: { n: 1 } });
    expect(copyPresenceMeta(undefined)).toEqual({});
    expect(() => copyPresenceMeta({ ref: "x" })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => copyPresenceMeta({ when: new Date() })).toThrow(/message\.meta\.when is a Date object/);
    expect(() => copyPresenceMeta("online")).toThrow(expect.objectContaining({ code: "INVALID_MESSAGE" }));
  });
});

describe("history rules and offsets", () => {
  it("finds a group's rule by the first matching glob or RegExp", () => {
    const rules = new GroupHistoryRules([
      ["chat_*", { maxLength: 100 }],
      [/^news-/, { maxLength: 10, maxAgeMs: 1000 }],
      ["chat_*", { maxLength: 1 }],
    ]);
    expect(rules.ruleFor("chat_lobby")).toEqual({ maxLength: 100 });
    expect(rules.ruleFor("news-today")).toEqual({ maxLength: 10, maxAgeMs: 1000 });
    expect(rules.ruleFor("other")).toBeUndefined();
    expect(rules.ruleFor("other")).toBeUndefined();
    expect(new GroupHistoryRules([]).isEmpty).toBe(true);
  });

  it("takes non-empty strings and non-negative integers as offsets", () => {
    for (const offset of [0, 42, "1718000000000-0", "x".repeat(200)])
      expect(() => assertHistoryOffset(offset)).not.toThrow();
    for (const offset of [-1, 1.5, Number.NaN, "", "x".repeat(201), {}, null, undefined]) {
      expect(() => assertHistoryOffset(offset)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
  });

  it("stamps a message with its group and offset, replacing the sender's, and positionOf reads them back", () => {
    const stamped = stampHistory({ type: "m", __offset__: "forged" }, "chat_a", 7);
    expect(stamped).toEqual({ type: "m", __offset__: 7, __group__: "chat_a" });
    expect(positionOf(stamped)).toEqual({ group: "chat_a", offset: 7 });
    expect(positionOf({ type: "m" })).toBeUndefined();
    expect(positionOf({ type: "m", __group__: "g", __offset__: Number.NaN })).toBeUndefined();
  });
});
