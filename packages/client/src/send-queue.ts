import { ClientError } from "./errors.js";

/** A send made while offline: the encoded frame and what the caller passed, for reporting it unsent. */
interface QueuedSend {
  readonly text: string;
  readonly bytes: number;
  readonly content: unknown;
}

/** Sends made while offline, in order, bounded by count and by UTF-8 bytes. */
export class SendQueue {
  private entries: QueuedSend[] = [];
  private byteTotal = 0;

  constructor(
    private readonly maxMessages: number,
    private readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  get bytes(): number {
    return this.byteTotal;
  }

  /** Queues a frame, or throws QUEUE_FULL and keeps the queue as it was. */
  push(text: string, content: unknown): void {
    const bytes = utf8ByteLength(text);
    if (this.entries.length + 1 > this.maxMessages) {
      throw new ClientError(
        "QUEUE_FULL",
        `The offline send queue holds its limit of ${this.maxMessages} messages: wait for the "open" event, or raise maxQueuedMessages`,
      );
    }
    if (this.byteTotal + bytes > this.maxBytes) {
      throw new ClientError(
        "QUEUE_FULL",
        `The offline send queue holds ${this.byteTotal} bytes and this ${bytes}-byte message would pass its limit of ${this.maxBytes}: wait for the "open" event, or raise maxQueuedBytes`,
      );
    }
    this.entries.push({ text, bytes, content });
    this.byteTotal += bytes;
  }

  /** Empties the queue, returning the frames in the order they were queued. */
  drain(): string[] {
    const texts = this.entries.map((entry) => entry.text);
    this.clear();
    return texts;
  }

  /** Empties the queue, returning what the callers passed to send(), in order. */
  clear(): unknown[] {
    const contents = this.entries.map((entry) => entry.content);
    this.entries = [];
    this.byteTotal = 0;
    return contents;
  }
}

/** The UTF-8 size of a string, as the socket will send it (no TextEncoder: not every host has one typed). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(index + 1))) {
      bytes += 4;
      index++;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
