import { Packr } from "msgpackr";
import { InvalidMessage, MessageTooLarge } from "./errors.js";
import type { Message } from "./message.js";
import { RESERVED_CHANNEL_KEY } from "./message.js";
import { checkMessagePack } from "./msgpack-check.js";
import { DEFAULT_MAX_MESSAGE_SIZE } from "./options.js";

export interface MessageSerializerOptions {
  /** Largest encoded message in bytes; encode() rejects bigger ones with MESSAGE_TOO_LARGE. Default 16 MiB. */
  maxMessageSize?: number;
  /**
   * Whether decode() lets `__asgi_channel__` through, as channels_redis writes it (a channel or a
   * list of channels) for the reader to strip. Default true; a layer whose wire never carries it
   * passes false, so a peer's message holding the key is refused. Any other shape is refused.
   */
  allowChannelKey?: boolean;
}

/**
 * Standard MessagePack, as channels_redis writes it (`use_bin_type=True`): no msgpackr records or
 * extensions, bytes as `bin`, integers beyond 2^53 as bigint. msgpackr renames a decoded
 * `__proto__` key to `__proto_`, so foreign data can never replace a prototype.
 */
export class MessageSerializer {
  readonly maxMessageSize: number;
  private readonly allowChannelKey: boolean;
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
    this.allowChannelKey = options.allowChannelKey ?? true;
  }

  /** Encodes a validated message (or any object of the same value types). */
  encode(message: object): Buffer {
    const bytes = this.packr.pack(message);
    if (bytes.length > this.maxMessageSize) throw new MessageTooLarge(bytes.length, this.maxMessageSize);
    return bytes;
  }

  /**
   * Decodes bytes written by encode() or by channels_redis into a message send() would accept;
   * throws InvalidMessage on anything else (extension types, no string `type`, non-string keys,
   * NaN, integers beyond signed 64 bits). Invalid UTF-8 decodes with U+FFFD, as TextDecoder does.
   */
  decode(bytes: Uint8Array): Message {
    checkMessagePack(bytes);
    let value: Record<string, unknown>;
    try {
      value = this.packr.unpack(bytes) as Record<string, unknown>;
    } catch (cause) {
      throw new InvalidMessage("Received bytes that are not a MessagePack message", { cause });
    }
    if (typeof value.type !== "string") throw new InvalidMessage('Received a message without a string "type"');
    if (Object.hasOwn(value, RESERVED_CHANNEL_KEY)) this.checkChannelKey(value[RESERVED_CHANNEL_KEY]);
    return value as Message;
  }

  private checkChannelKey(channels: unknown): void {
    if (!this.allowChannelKey) {
      throw new InvalidMessage(`Received a message holding the reserved key "${RESERVED_CHANNEL_KEY}"`);
    }
    const valid =
      typeof channels === "string" ||
      (Array.isArray(channels) && channels.every((channel) => typeof channel === "string"));
    if (!valid) {
      throw new InvalidMessage(
        `Received a message whose "${RESERVED_CHANNEL_KEY}" is not a channel or list of channels`,
      );
    }
  }
}
