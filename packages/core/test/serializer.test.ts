import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { copyValidMessage } from "../src/message.js";
import { MessageSerializer } from "../src/serializer.js";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

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

  it("gives what a copy on send gives: the in-memory layer normalises as the wire does", () => {
    const message = {
      type: "x",
      negativeZero: -0,
      smallBig: 42n,
      edgeBig: -(2n ** 53n),
      bigBig: 2n ** 53n + 1n,
      floats: [0.1, -2.5, 1e300, 2 ** 60],
      bytes: new Uint8Array([1, 2]),
      bare: Object.assign(Object.create(null) as object, { k: "v" }),
      text: "안녕 🎉",
    };
    const wire = serializer.decode(serializer.encode(message));
    const copy = copyValidMessage(message);
    expect(copy).toEqual(wire);
    expect(Object.is(wire.negativeZero, 0)).toBe(true);
    expect(Object.is(copy.negativeZero, 0)).toBe(true);
    expect(Buffer.isBuffer(wire.bytes)).toBe(true);
  });

  describe("decodes strictly: what no valid message encodes to is refused with INVALID_MESSAGE", () => {
    const full = new Packr({ useRecords: false, moreTypes: true });
    const refused: [string, Buffer][] = [
      ["no type", hex("81 a4 74657874 a1 78")],
      ["a numeric type", hex("81 a4 74797065 01")],
      ["a nil type", hex("81 a4 74797065 c0")],
      ["a timestamp (Date)", Buffer.from(full.pack({ type: "x", when: new Date(0) }))],
      ["a raw timestamp ext -1", hex("82 a4 74797065 a1 78 a1 74 d6 ff 00000000")],
      ["msgpackr's Set extension", Buffer.from(full.pack({ type: "x", set: new Set([1]) }))],
      ["msgpackr's RegExp extension", Buffer.from(full.pack({ type: "x", re: /x/g }))],
      ["msgpackr's Error extension", Buffer.from(full.pack({ type: "x", error: new Error("e") }))],
      ["msgpackr's typed-array extension", Buffer.from(full.pack({ type: "x", f: new Float32Array([1]) }))],
      ["msgpackr's undefined (ext 0)", hex("82 a4 74797065 a1 78 a1 75 d4 00 00")],
      ["the reserved 0xc1 byte", hex("82 a4 74797065 a1 78 a1 63 c1")],
      ["an integer key", hex("82 a4 74797065 a1 78 01 01")],
      ["a nil key", hex("82 a4 74797065 a1 78 c0 01")],
      ["NaN", hex("82 a4 74797065 a1 78 a1 6e cb 7ff8000000000000")],
      ["Infinity as float32", hex("82 a4 74797065 a1 78 a1 6e ca 7f800000")],
      ["a uint64 above 2^63-1", hex("82 a4 74797065 a1 78 a1 6e cf ffffffffffffffff")],
      ["an array at the top", hex("91 a1 78")],
      ["a string at the top", hex("a1 78")],
      ["bytes after the message", hex("81 a4 74797065 a1 78 00")],
      ["a cut-short string", hex("81 a4 74797065 a5 78")],
      ["a map that claims more entries than it holds", hex("de ffff a4 74797065 a1 78")],
      [
        "nesting 101 levels deep",
        Buffer.concat([hex("82 a4 74797065 a1 78 a1 6c"), Buffer.alloc(101, 0x91), hex("c0")]),
      ],
      ["a malformed __asgi_channel__", hex("82 a4 74797065 a1 78 b0 5f5f617367695f6368616e6e656c5f5f 01")],
    ];
    it.each(refused)("%s", (_label, bytes) => {
      expect(() => serializer.decode(bytes)).toThrow(expect.objectContaining({ code: "INVALID_MESSAGE" }));
    });

    it("accepts 100 levels of nesting, as send does", () => {
      const bytes = Buffer.concat([hex("82 a4 74797065 a1 78 a1 6c"), Buffer.alloc(100, 0x91), hex("c0")]);
      let depth = 0;
      for (let value = serializer.decode(bytes).l; Array.isArray(value); value = value[0]) depth++;
      expect(depth).toBe(100);
    });

    it("lets channels_redis' __asgi_channel__ through unless told not to", () => {
      // {"type": "x", "__asgi_channel__": ["a!b"]}
      const bytes = hex("82 a4 74797065 a1 78 b0 5f5f617367695f6368616e6e656c5f5f 91 a3 612162");
      expect(serializer.decode(bytes).__asgi_channel__).toEqual(["a!b"]);
      expect(() => new MessageSerializer({ allowChannelKey: false }).decode(bytes)).toThrow(
        expect.objectContaining({ code: "INVALID_MESSAGE" }),
      );
    });

    it("reads what Python's msgpack writes: str, bin, ints of every width, floats, nil, bools, nested maps", () => {
      // msgpack.packb({"type": "t", "b": b"\x01", "i": [-1, 200, -200, 70000, -70000, 2**40], "f": 1.5, "n": None, "y": True, "m": {"k": "v"}}, use_bin_type=True)
      const python = hex(
        "87 a4 74797065 a1 74 a1 62 c4 01 01 a1 69 96 ff cc c8 d1 ff38 ce 00011170 d2 fffeee90 cf 0000010000000000" +
          " a1 66 cb 3ff8000000000000 a1 6e c0 a1 79 c3 a1 6d 81 a1 6b a1 76",
      );
      expect(serializer.decode(python)).toEqual({
        type: "t",
        b: Buffer.from([1]),
        i: [-1, 200, -200, 70000, -70000, 2 ** 40],
        f: 1.5,
        n: null,
        y: true,
        m: { k: "v" },
      });
    });
  });
});
