import { InvalidMessage } from "./errors.js";

/** A channel layer message: a plain object with a string `type` that names its handler. */
export type Message = { type: string; [key: string]: unknown };

/** Key channels_redis adds to messages for process-local channels; users may not set it. */
export const RESERVED_CHANNEL_KEY = "__asgi_channel__";

const MAX_DEPTH = 100;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

// Module state keeps the hot path free of allocations: the size estimate accumulated by the
// last inspection, and the keys leading to the value being inspected (for error messages).
let encodedSizeLowerBound = 0;
const pathKeys: (string | number)[] = [];

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function fail(problem: string): never {
  const path = pathKeys.map((key) => (typeof key === "number" ? `[${key}]` : `.${key}`)).join("");
  pathKeys.length = 0;
  throw new InvalidMessage(
    `message${path} ${problem}: values must be null, booleans, finite numbers, 64-bit bigints, strings, Uint8Arrays, arrays or plain objects`,
  );
}

function inspect(value: unknown, depth: number, copy: boolean): unknown {
  switch (typeof value) {
    case "string":
      encodedSizeLowerBound += value.length + 1;
      return value;
    case "number":
      if (!Number.isFinite(value)) fail(`is ${value}`);
      encodedSizeLowerBound += 1;
      return value;
    case "boolean":
      encodedSizeLowerBound += 1;
      return value;
    case "bigint":
      if (value < INT64_MIN || value > INT64_MAX) fail("is a bigint outside the signed 64-bit range");
      encodedSizeLowerBound += 9;
      return value;
    case "object":
      if (value === null) {
        encodedSizeLowerBound += 1;
        return value;
      }
      return inspectObject(value, depth, copy);
    default:
      return fail(`is ${typeof value}`);
  }
}

function inspectObject(value: object, depth: number, copy: boolean): unknown {
  if (depth > MAX_DEPTH) fail(`nests deeper than ${MAX_DEPTH} levels (or holds a cycle)`);
  if (value instanceof Uint8Array) {
    encodedSizeLowerBound += value.byteLength + 1;
    return copy ? value.slice() : value;
  }
  if (Array.isArray(value)) {
    encodedSizeLowerBound += 1;
    const out: unknown[] | undefined = copy ? new Array(value.length) : undefined;
    for (let i = 0; i < value.length; i++) {
      pathKeys.push(i);
      if (!(i in value)) fail("is a hole in a sparse array");
      const item = inspect(value[i], depth + 1, copy);
      if (out) out[i] = item;
      pathKeys.pop();
    }
    return out ?? value;
  }
  if (!isPlainObject(value)) fail(`is a ${value.constructor?.name ?? "non-plain"} object`);
  return inspectPlainObject(value, depth, copy);
}

function inspectPlainObject(value: Record<string, unknown>, depth: number, copy: boolean): Record<string, unknown> {
  encodedSizeLowerBound += 1;
  // A spread copies an object's own properties far faster than adding them one by one; then only
  // nested objects need replacing by their copies.
  const target: Record<string, unknown> = copy ? { ...value } : value;
  for (const key in target) {
    if (!Object.hasOwn(target, key)) continue;
    pathKeys.push(key);
    if (key === "__proto__") fail("is a key that cannot round-trip safely");
    encodedSizeLowerBound += key.length + 1;
    const item = target[key];
    if (typeof item === "object" && item !== null) {
      const inspected = inspectObject(item, depth + 1, copy);
      if (copy) target[key] = inspected;
    } else inspect(item, depth + 1, copy);
    pathKeys.pop();
  }
  return target;
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
  return inspectPlainObject(message, 0, copy) as Message;
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

/**
 * Validates like validateMessage and returns a deep copy that shares nothing with the original;
 * lastSizeLowerBound() then tells the copy's size bound.
 */
export function copyValidMessage(message: unknown): Message {
  return inspectMessage(message, true);
}

/** The MessagePack size lower bound of the message validated or copied last. */
export function lastSizeLowerBound(): number {
  return encodedSizeLowerBound;
}

/** Deep copy of a message already validated (no checks): for fanning one message out to many receivers. */
export function copyMessage(message: Message): Message {
  return cloneValue(message) as Message;
}

function cloneValue(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Uint8Array) return value.slice();
  if (Array.isArray(value)) return value.map(cloneValue);
  // Spread first (fast), then replace only the nested objects by their copies.
  const out: Record<string, unknown> = { ...value };
  for (const key in out) {
    const item = out[key];
    if (typeof item === "object" && item !== null && Object.hasOwn(out, key)) out[key] = cloneValue(item);
  }
  return out;
}
