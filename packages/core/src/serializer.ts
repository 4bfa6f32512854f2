import { Packr } from "msgpackr";
import { InvalidMessage, MessageTooLarge } from "./errors.js";
import type { Message } from "./message.js";
import { DEFAULT_MAX_MESSAGE_SIZE } from "./options.js";

export interface MessageSerializerOptions {
  /** Largest encoded message in bytes; encode() rejects bigger ones with MESSAGE_TOO_LARGE. Default 16 MiB. */
  maxMessageSize?: number;
}

/**
 * Standard MessagePack, as channels_redis writes it (`use_bin_type=True`): no msgpackr records or
 * extensions, bytes as `bin`, integers beyond 2^53 as bigint. msgpackr renames a decoded
 * `__proto__` key to `__proto_`, so foreign data can never replace a prototype.
 */
export class MessageSerializer {
  readonly maxMessageSize: number;
  private readonly packr = new Packr({
    useRecords: false,
    moreTypes: false,
    mapsAsObjects: true,
    variableMapSize: true,
    // "auto" (numbers up to 2^53, bigints beyond) exists at runtime but not in msgpackr's types.
    int64AsType: "auto" as "bigint",
  });

  constructor(options: MessageSerializerOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /** Encodes a validated message (or any object of the same value types). */
  encode(message: object): Buffer {
    const bytes = this.packr.pack(message);
    if (bytes.length > this.maxMessageSize) throw new MessageTooLarge(bytes.length, this.maxMessageSize);
    return bytes;
  }

  /** Decodes bytes written by encode() or by channels_redis; throws InvalidMessage on anything else. */
  decode(bytes: Uint8Array): Message {
    let value: unknown;
    try {
      value = this.packr.unpack(bytes);
    } catch (cause) {
      throw new InvalidMessage("Received bytes that are not a MessagePack message", { cause });
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new InvalidMessage("Received MessagePack that is not a map");
    }
    return value as Message;
  }
}
