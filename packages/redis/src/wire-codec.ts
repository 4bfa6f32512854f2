import { randomFillSync } from "node:crypto";
import { HISTORY_GROUP_KEY, HISTORY_OFFSET_KEY, InvalidMessage, type Message } from "@channel-layers/core";
import { type LayerDiagnostics, MessageSerializer, RESERVED_CHANNEL_KEY } from "@channel-layers/core/backend";
import type { MultiFernet } from "./fernet.js";

/** channels_redis starts every sorted-set member with 12 random bytes, so equal messages stay distinct. */
const ID_BYTES = 12;

/** The msgpack encoding of the `__asgi_channel__` key (a 16-byte fixstr). */
const CHANNEL_KEY_BYTES = Buffer.concat([Buffer.from([0xa0 | 16]), Buffer.from(RESERVED_CHANNEL_KEY, "latin1")]);
const GROUP_KEY_BYTES = encodeString(HISTORY_GROUP_KEY);
const OFFSET_KEY_BYTES = encodeString(HISTORY_OFFSET_KEY);

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * A member's 12-byte prefix, in its own buffer (a command may hold on to it while Redis is
 * away): 6 bytes of the send time in ms, then 6 random ones. channels_redis reads all 12 as
 * random; the time makes a channel's entries in its held set sort by send time (see scripts.ts).
 */
export function newId(nowMs: number): Buffer {
  if (poolOffset + 6 > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const id = Buffer.allocUnsafe(ID_BYTES);
  id.writeUIntBE(Math.floor(nowMs), 0, 6);
  pool.copy(id, 6, poolOffset, poolOffset + 6);
  poolOffset += 6;
  // Never the mark of a member no sender counted (below): ours always are.
  id[8] = (id[8] as number) & 0x7f;
  return id;
}

/**
 * Bytes 8 and 9 of the id of a member that no sender counted in a held set: a group message the
 * group-send script wrote to a process key whose receiver counts it itself, against its
 * reservations (scripts.ts). newId never makes them; a channels_redis member (12 random bytes)
 * has them once in 65,536, and is then counted the same way, which bounds it just as well.
 */
const UNCOUNTED_MARK = [0xff, 0xfe] as const;

/** Whether the member with this id was left for its receiver to count (see UNCOUNTED_MARK). */
export function isUncounted(id: Buffer): boolean {
  return id[8] === UNCOUNTED_MARK[0] && id[9] === UNCOUNTED_MARK[1];
}

function encodeString(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  let header: Buffer;
  if (bytes.length < 32) header = Buffer.from([0xa0 | bytes.length]);
  else if (bytes.length < 0x100) header = Buffer.from([0xd9, bytes.length]);
  else {
    header = Buffer.alloc(3);
    header[0] = 0xda;
    header.writeUInt16BE(bytes.length, 1);
  }
  return Buffer.concat([header, bytes]);
}

function encodeChannels(channel: string | readonly string[]): Buffer {
  if (typeof channel === "string") return encodeString(channel);
  let header: Buffer;
  if (channel.length < 16) header = Buffer.from([0x90 | channel.length]);
  else if (channel.length < 0x10000) {
    header = Buffer.alloc(3);
    header[0] = 0xdc;
    header.writeUInt16BE(channel.length, 1);
  } else {
    header = Buffer.alloc(5);
    header[0] = 0xdd;
    header.writeUInt32BE(channel.length, 1);
  }
  return Buffer.concat([header, ...channel.map(encodeString)]);
}

/**
 * Appends `added` keys (their encoded keys and values in `tail`) to an encoded msgpack map without
 * decoding it: bump the map's entry count, append. The Lua group-send script does the same on the
 * server.
 */
function appendToMap(body: Buffer, added: number, tail: readonly Buffer[]): Buffer {
  const first = body[0] as number;
  let count: number;
  let headerLength: number;
  if (first >= 0x80 && first <= 0x8f) {
    count = first & 0x0f;
    headerLength = 1;
  } else if (first === 0xde) {
    count = body.readUInt16BE(1);
    headerLength = 3;
  } else if (first === 0xdf) {
    count = body.readUInt32BE(1);
    headerLength = 5;
  } else {
    throw new InvalidMessage("An encoded message must be a msgpack map");
  }
  const next = count + added;
  let header: Buffer;
  if (next < 16) header = Buffer.from([0x80 | next]);
  else if (next < 0x10000) {
    header = Buffer.alloc(3);
    header[0] = 0xde;
    header.writeUInt16BE(next, 1);
  } else {
    header = Buffer.alloc(5);
    header[0] = 0xdf;
    header.writeUInt32BE(next, 1);
  }
  return Buffer.concat([header, body.subarray(headerLength), ...tail]);
}

/**
 * Adds `__asgi_channel__` to an encoded message: the channel for send, a list for groupSend, as
 * channels_redis writes them.
 */
function withChannel(body: Buffer, channel: string | readonly string[]): Buffer {
  return appendToMap(body, 1, [CHANNEL_KEY_BYTES, encodeChannels(channel)]);
}

/** Adds `__group__` and `__offset__` (a history group's message) to an encoded message that has neither. */
export function withHistoryPosition(body: Buffer, group: string, offset: string): Buffer {
  return appendToMap(body, 2, [GROUP_KEY_BYTES, encodeString(group), OFFSET_KEY_BYTES, encodeString(offset)]);
}

/** A member read back from Redis. */
export interface DecodedMember {
  /** Its 12-byte prefix: the id under which senders counted it against a channel's capacity. */
  id: Buffer;
  message: Message;
  /** The `__asgi_channel__` it carried: one channel (send) or several (groupSend), if any. */
  channels: string | string[] | undefined;
}

/**
 * channels_redis' member format, both ways: 12 random bytes, then the msgpack message (Fernet
 * token of it when `symmetricEncryptionKeys` are set), with `__asgi_channel__` naming the
 * process-local channel(s) it is for.
 */
export class WireCodec {
  private readonly serializer: MessageSerializer;

  constructor(
    maxMessageSize: number,
    private readonly crypter: MultiFernet | undefined,
    /** Tokens older than this many seconds are refused, as channels_redis does (expiry + 10). */
    private readonly tokenTtlSeconds: number,
    private readonly diagnostics: LayerDiagnostics,
  ) {
    this.serializer = new MessageSerializer({ maxMessageSize });
  }

  get encrypted(): boolean {
    return this.crypter !== undefined;
  }

  /** The msgpack body of a valid message; throws MessageTooLarge above maxMessageSize. */
  encodeBody(message: Message): Buffer {
    return this.serializer.encode(message);
  }

  /** A fresh message from a body this instance encoded: what a receiver elsewhere would get. */
  decodeBody(body: Buffer): Message {
    return this.serializer.decode(body);
  }

  /** A complete member: id, then the body (with its channel(s) added), encrypted if configured. */
  member(id: Buffer, body: Buffer, channel?: string | readonly string[]): Buffer {
    let payload = channel === undefined ? body : withChannel(body, channel);
    if (this.crypter) payload = this.crypter.encrypt(payload);
    return Buffer.concat([id, payload], ID_BYTES + payload.length);
  }

  /**
   * What a history or presence entry keeps of an encoded message or entry: the bytes, encrypted
   * when keys are set. Unlike a member it is not refused for its age when read back.
   */
  seal(body: Buffer): Buffer {
    return this.crypter ? this.crypter.encrypt(body) : body;
  }

  /** A sealed entry read back, or undefined (counted, published and logged as dropped) when it does not decode. */
  unseal(payload: Buffer, key: string): Message | undefined {
    let body = payload;
    if (this.crypter) {
      try {
        body = this.crypter.decrypt(payload);
      } catch (error) {
        this.diagnostics.counters.droppedUndecodable++;
        this.diagnostics.dropped("undecodable", { key }, error);
        return undefined;
      }
    }
    return this.diagnostics.decodeOrDrop(this.serializer, body, { key });
  }

  /**
   * A member read from Redis, or undefined when it does not decode (a wrong key, an old token,
   * not a valid message): then it is counted, published and logged as dropped, never delivered.
   */
  decode(member: Buffer, key: string): DecodedMember | undefined {
    let payload = member.subarray(ID_BYTES);
    if (this.crypter) {
      try {
        payload = this.crypter.decrypt(payload, this.tokenTtlSeconds);
      } catch (error) {
        this.diagnostics.counters.droppedUndecodable++;
        this.diagnostics.dropped("undecodable", { key }, error);
        return undefined;
      }
    }
    const message = this.diagnostics.decodeOrDrop(this.serializer, payload, { key }) as
      | (Message & { [RESERVED_CHANNEL_KEY]?: string | string[] })
      | undefined;
    if (message === undefined) return undefined;
    const channels = message[RESERVED_CHANNEL_KEY];
    if (channels !== undefined) delete message[RESERVED_CHANNEL_KEY];
    return { id: member.subarray(0, ID_BYTES), message, channels };
  }
}
