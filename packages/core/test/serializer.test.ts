import { describe, expect, it } from "vitest";
import { MessageSerializer } from "../src/index.js";

describe("MessageSerializer", () => {
  const serializer = new MessageSerializer({ maxMessageSize: 1024 });

  it("round-trips bytes as Uint8Array and 64-bit integers as bigint beyond 2^53", () => {
    const message = { type: "x", bytes: new Uint8Array([0, 255]), small: 2 ** 40, big: 2n ** 60n, neg: -(2n ** 63n) };
    const decoded = serializer.decode(serializer.encode(message));
    expect(decoded.bytes).toBeInstanceOf(Uint8Array);
    expect([...(decoded.bytes as Uint8Array)]).toEqual([0, 255]);
    expect(decoded.small).toBe(2 ** 40);
    expect(decoded.big).toBe(2n ** 60n);
    expect(decoded.neg).toBe(-(2n ** 63n));
  });

  it("writes standard msgpack: a map with str keys and bin bytes, no msgpackr extensions", () => {
    const encoded = serializer.encode({ type: "a", b: new Uint8Array([1]) });
    // fixmap(2) "type" "a" "b" bin8(1) 0x01, byte for byte what Python's msgpack.packb(use_bin_type=True) writes.
    expect(Buffer.from(encoded).toString("hex")).toBe("82a474797065a161a162c40101");
  });

  it("decodes what channels_redis writes", () => {
    // msgpack.packb({"type": "chat.message", "text": "hi", "n": 2**62}, use_bin_type=True)
    const python = Buffer.from("83a474797065ac636861742e6d657373616765a474657874a26869a16ecf4000000000000000", "hex");
    expect(serializer.decode(python)).toEqual({ type: "chat.message", text: "hi", n: 2n ** 62n });
  });

  it("cannot be made to replace a prototype by a __proto__ key", () => {
    // {"type": "x", "__proto__": {"polluted": true}}
    const hostile = Buffer.from("82a474797065a178a95f5f70726f746f5f5f81a8706f6c6c75746564c3", "hex");
    const decoded = serializer.decode(hostile);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect((decoded as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("rejects an encoded message above maxMessageSize with MESSAGE_TOO_LARGE", () => {
    expect(() => serializer.encode({ type: "x", text: "y".repeat(2000) })).toThrow(
      expect.objectContaining({ code: "MESSAGE_TOO_LARGE", size: expect.any(Number), maxMessageSize: 1024 }),
    );
  });

  it("rejects bytes that are not a msgpack map with INVALID_MESSAGE", () => {
    expect(() => serializer.decode(Buffer.from([0x82, 0xa4, 0x74]))).toThrow(
      expect.objectContaining({ code: "INVALID_MESSAGE" }),
    );
    expect(() => serializer.decode(serializer.encode([1, 2] as never))).toThrow(
      expect.objectContaining({ code: "INVALID_MESSAGE" }),
    );
  });

  it("returns buffers that later encodes do not overwrite", () => {
    const first = serializer.encode({ type: "first" });
    const copy = Buffer.from(first);
    for (let i = 0; i < 1000; i++) serializer.encode({ type: "other", i });
    expect(Buffer.compare(first, copy)).toBe(0);
  });
});
