/**
 * The binary frames the layer puts in NATS payloads: a kind byte, then short ASCII fields each led
 * by its length byte (names are ASCII and under 100 characters), then the MessagePack body. A
 * frame costs a few bytes and no header parsing, which nats.js does comparatively slowly.
 */
export const FrameKind = {
  /** To an instance: a message for one of its process-local channels (a request: see Reply). */
  send: 1,
  /** One piece of a message above the server's max_payload; the closing frame carries the rest. */
  chunk: 2,
  /** To an instance: add one of its channels to a group (a request). */
  join: 3,
  /** To an instance: remove one of its channels from a group (a request). */
  leave: 4,
  /** To an instance: discard one of its channels (a request). */
  discard: 5,
  /** On a group subject: a message for every member. */
  group: 6,
  /** On the control subject: flush() was called. */
  flush: 7,
  /** In a channel stream: a message. */
  durable: 8,
  /** In a channel stream: a message whose chunks are in the blob stream at these sequences. */
  blobReference: 9,
  /** To an instance: how many send frames have you had from me? (a request) */
  count: 10,
  /** To an instance: several of the frames above in one NATS message, each with its reply subject. */
  batch: 11,
  /**
   * In a history stream, and as the stream republishes it on the group's subject: a message of a
   * group that keeps history; its offset comes from the stream sequence in the republish headers.
   */
  history: 12,
} as const;

export const FrameFlag = {
  /** The sender already counted this message as accepted: buffer it even above capacity. */
  mustAccept: 1,
  /** Chunks came first: a transfer key and chunk count follow the name. */
  chunked: 2,
} as const;

/**
 * First byte of a reply to a request frame. A u32 follows (room left, or the capacity when full),
 * then, for sends, an f64: how many send frames the owner has had from the requesting instance.
 */
export const ReplyStatus = {
  accepted: 0,
  full: 1,
  /** A chunk of the message went missing (a reconnect in the middle): it was not delivered. */
  incomplete: 2,
  done: 3,
} as const;

/** Writes a frame field by field into a buffer sized up front. */
export class FrameWriter {
  readonly bytes: Buffer;
  private offset = 0;

  constructor(size: number) {
    this.bytes = Buffer.allocUnsafe(size);
  }

  /** Bytes a length-led ASCII field takes. */
  static stringSize(value: string): number {
    return 1 + value.length;
  }

  u8(value: number): this {
    this.bytes[this.offset++] = value;
    return this;
  }

  u32(value: number): this {
    this.bytes.writeUInt32BE(value, this.offset);
    this.offset += 4;
    return this;
  }

  f64(value: number): this {
    this.bytes.writeDoubleBE(value, this.offset);
    this.offset += 8;
    return this;
  }

  string(value: string): this {
    this.bytes[this.offset++] = value.length;
    this.offset += this.bytes.write(value, this.offset, "latin1");
    return this;
  }

  raw(value: Uint8Array): this {
    this.bytes.set(value, this.offset);
    this.offset += value.byteLength;
    return this;
  }
}

/** Reads a frame written by FrameWriter; a malformed frame throws RangeError. */
export class FrameReader {
  private readonly buffer: Buffer;
  private offset = 0;

  constructor(data: Uint8Array) {
    this.buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  u8(): number {
    if (this.offset >= this.buffer.length) throw new RangeError("Frame ends early");
    return this.buffer[this.offset++] as number;
  }

  u32(): number {
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  f64(): number {
    const value = this.buffer.readDoubleBE(this.offset);
    this.offset += 8;
    return value;
  }

  string(): string {
    const length = this.u8();
    if (this.offset + length > this.buffer.length) throw new RangeError("Frame ends early");
    const value = this.buffer.toString("latin1", this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** The next `length` bytes. */
  bytes(length: number): Uint8Array {
    if (this.offset + length > this.buffer.length) throw new RangeError("Frame ends early");
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** Everything after the fields read so far: the body. */
  rest(): Uint8Array {
    return this.buffer.subarray(this.offset);
  }
}

/** A reply to a request frame. */
export function replyFrame(status: number, value: number, received = 0): Uint8Array {
  return new FrameWriter(13)
    .u8(status)
    .u32(Math.max(0, Math.min(value, 0xffffffff)))
    .f64(received).bytes;
}

/** A reply read back. */
export function readReply(data: Uint8Array): { status: number; value: number; received: number } {
  const reader = new FrameReader(data);
  return { status: reader.u8(), value: reader.u32(), received: reader.f64() };
}
