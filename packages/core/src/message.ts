import { InvalidMessage } from "./errors.js";

/** A channel layer message: a plain object with a string `type` that names its handler. */
export type Message = { type: string; [key: string]: unknown };

/** Key channels_redis adds to messages for process-local channels; users may not set it. */
export const RESERVED_CHANNEL_KEY = "__asgi_channel__";

const MAX_DEPTH = 100;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

// Accumulated by inspect(); module state keeps the hot path free of allocations.
let encodedSizeLowerBound = 0;

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function fail(path: string, problem: string): never {
  throw new InvalidMessage(
    `Message ${path} ${problem}: values must be null, booleans, finite numbers, 64-bit bigints, strings, Uint8Arrays, arrays or plain objects`,
  );
}

function inspect(value: unknown, path: string, depth: number, copy: boolean): unknown {
  switch (typeof value) {
    case "string":
      encodedSizeLowerBound += value.length + 1;
      return value;
    case "number":
      if (!Number.isFinite(value)) fail(path, `is ${value}`);
      encodedSizeLowerBound += 1;
      return value;
    case "boolean":
      encodedSizeLowerBound += 1;
      return value;
    case "bigint":
      if (value < INT64_MIN || value > INT64_MAX) fail(path, "is a bigint outside the signed 64-bit range");
      encodedSizeLowerBound += 9;
      return value;
    case "object":
      break;
    default:
      fail(path, `is ${typeof value}`);
  }
  if (value === null) {
    encodedSizeLowerBound += 1;
    return value;
  }
  if (depth > MAX_DEPTH) fail(path, `nests deeper than ${MAX_DEPTH} levels (or holds a cycle)`);
  if (value instanceof Uint8Array) {
    encodedSizeLowerBound += value.byteLength + 1;
    return copy ? value.slice() : value;
  }
  if (Array.isArray(value)) {
    encodedSizeLowerBound += 1;
    const out: unknown[] | undefined = copy ? new Array(value.length) : undefined;
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) fail(`${path}[${i}]`, "is a hole in a sparse array");
      const item = inspect(value[i], `${path}[${i}]`, depth + 1, copy);
      if (out) out[i] = item;
    }
    return out ?? value;
  }
  if (!isPlainObject(value)) fail(path, `is a ${value.constructor?.name ?? "non-plain"} object`);
  encodedSizeLowerBound += 1;
  const out: Record<string, unknown> | undefined = copy ? {} : undefined;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (key === "__proto__") fail(`${path}.__proto__`, "is a key that cannot round-trip safely");
    encodedSizeLowerBound += key.length + 1;
    const item = inspect(value[key], `${path}.${key}`, depth + 1, copy);
    if (out) out[key] = item;
  }
  return out ?? value;
}

function inspectMessage(message: unknown, copy: boolean): Message {
  if (typeof message !== "object" || message === null || Array.isArray(message) || !isPlainObject(message)) {
    throw new InvalidMessage(`A message must be a plain object with a string "type"; got ${describe(message)}`);
  }
  if (typeof message.type !== "string") {
    throw new InvalidMessage(`A message needs a string "type" naming its handler; got ${describe(message.type)}`);
  }
  if (Object.hasOwn(message, RESERVED_CHANNEL_KEY)) {
    throw new InvalidMessage(`"${RESERVED_CHANNEL_KEY}" is reserved for the layer; rename that key`);
  }
  encodedSizeLowerBound = 0;
  return inspect(message, "message", 0, copy) as Message;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `a ${value.constructor?.name ?? "null-prototype"} object`;
  return typeof value;
}

/**
 * Throws InvalidMessage unless `message` is a valid message. Returns a lower bound of its
 * MessagePack size, so a layer that never encodes can still enforce maxMessageSize cheaply.
 */
export function validateMessage(message: unknown): number {
  inspectMessage(message, false);
  return encodedSizeLowerBound;
}

/** Validates like validateMessage and returns a deep copy that shares nothing with the original. */
export function copyValidMessage(message: unknown): { message: Message; sizeLowerBound: number } {
  const copied = inspectMessage(message, true);
  return { message: copied, sizeLowerBound: encodedSizeLowerBound };
}

/** Deep copy of a message already validated (no checks): for fanning one message out to many receivers. */
export function copyMessage(message: Message): Message {
  return cloneValue(message) as Message;
}

function cloneValue(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Uint8Array) return value.slice();
  if (Array.isArray(value)) return value.map(cloneValue);
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (Object.hasOwn(value, key)) out[key] = cloneValue((value as Record<string, unknown>)[key]);
  }
  return out;
}
