import { describe, expect, it } from "vitest";
import { ChannelLayerError } from "../src/errors.js";
import {
  assertChannelName,
  assertGroupName,
  instanceIdOf,
  isProcessLocal,
  makeChannelName,
  nonLocalName,
  parseChannelName,
  randomHex,
} from "../src/names.js";

describe("channel and group names", () => {
  it("accepts what Channels accepts", () => {
    for (const name of ["a", "chat_room-1.x", "specific.abc!", "specific.abc!def_1.2-3", "a".repeat(99)]) {
      expect(() => assertChannelName(name)).not.toThrow();
    }
    for (const name of ["a", "chat_room-1.x", "a".repeat(99)]) expect(() => assertGroupName(name)).not.toThrow();
  });

  it("rejects the rest with INVALID_NAME and says what is allowed", () => {
    for (const name of ["", "a".repeat(100), "a b", "a!b!c", "!a", "é", 1, null]) {
      const error = (() => {
        try {
          assertChannelName(name);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ChannelLayerError);
      expect((error as ChannelLayerError).code).toBe("INVALID_NAME");
      expect((error as Error).message).toMatch(/shorter than 100/);
    }
    expect(() => assertGroupName("group!x")).toThrow(/Group name/);
  });

  it("splits process-local names at the bang, as channels_redis does", () => {
    expect(isProcessLocal("specific.abc!def")).toBe(true);
    expect(isProcessLocal("named")).toBe(false);
    expect(nonLocalName("specific.abc!def")).toBe("specific.abc!");
    expect(nonLocalName("named")).toBe("named");
  });

  it("makes names with 96 random bits after the bang, drawn from a refilled pool", () => {
    const names = new Set(Array.from({ length: 10_000 }, () => makeChannelName("specific", "0011223344556677")));
    expect(names.size).toBe(10_000);
    for (const name of names) expect(name).toMatch(/^specific\.0011223344556677![0-9a-f]{24}$/);
    expect(randomHex(4)).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe("parseChannelName and instanceIdOf", () => {
  it("split newChannel names into prefix, instance id and local part", () => {
    const name = makeChannelName("chat.room-1", "0011223344556677");
    const local = name.slice(name.indexOf("!") + 1);
    expect(parseChannelName(name)).toEqual({
      processLocal: true,
      nonLocalPart: "chat.room-1.0011223344556677!",
      prefix: "chat.room-1",
      instanceId: "0011223344556677",
      localPart: local,
    });
    expect(instanceIdOf(name)).toBe("0011223344556677");
  });

  it("give no instance id for a named channel or a `!` name no newChannel() made", () => {
    expect(parseChannelName("named.channel")).toEqual({
      processLocal: false,
      nonLocalPart: "named.channel",
      prefix: undefined,
      instanceId: undefined,
      localPart: "",
    });
    for (const name of [
      "specific.abc!def",
      "specific!x",
      "a.0011223344556677x!y",
      "a.001122334455667G!y",
      "a0011223344556677!y",
    ]) {
      expect(instanceIdOf(name), name).toBeUndefined();
      expect(parseChannelName(name)).toMatchObject({ processLocal: true, instanceId: undefined, prefix: undefined });
    }
    expect(parseChannelName("specific.abc!def").nonLocalPart).toBe("specific.abc!");
  });
});
