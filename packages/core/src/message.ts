import { InvalidMessage } from "./errors.js";

/** A channel layer message: a plain object with a string `type` that names its handler. */
export type Message = { type: string; [key: string]: unknown };

/** Key channels_redis adds to messages for process-local channels; users may not set it. */
export const RESERVED_CHANNEL_KEY = "__asgi_channel__";

const MAX_DEPTH = 100;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** msgpackr decodes 64-bit integers within ±2^53 as numbers, so a copy does the same. */
const NUMBER_MIN = -(2n ** 53n);
const NUMBER_MAX = 2n ** 53n;

/** String.prototype.isWellFormed (ES2024, in Node 20), absent from the ES2023 lib this package builds with. */
const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

// Module state keeps the hot path free of allocations: the size estimate accumulated by the
// last inspection, and the keys leading to the value being inspected (for error messages).
let encodedSizeLowerBound = 0;
const pathKeys: (string | number)[] = [];

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function currentPath(): string {
  return pathKeys.map((key) => (typeof key === "number" ? `[${key}]` : `.${describeKey(key)}`)).join("");
}

function describeKey(key: string): string {
  return isWellFormed(key) ? key : JSON.stringify(key);
}

function fail(problem: string): never {
  const path = currentPath();
  pathKeys.length = 0;
  throw new InvalidMessage(
    `message${path} ${problem}: values must be null, booleans, finite numbers, 64-bit bigints, well-formed strings, Uint8Arrays, arrays or plain objects`,
  );
}

function inspect(value: unknown, depth: number, copy: boolean): unknown {
  switch (typeof value) {
    case "string":
      if (!isWellFormed(value)) fail("is a string with a lone surrogate, which UTF-8 cannot carry");
      encodedSizeLowerBound += value.length + 1;
      return value;
    case "number":
      if (!Number.isFinite(value)) fail(`is ${value}`);
      encodedSizeLowerBound += 1;
      // -0 travels as the integer 0.
      return value === 0 ? 0 : value;
    case "boolean":
      encodedSizeLowerBound += 1;
      return value;
    case "bigint":
      if (value < INT64_MIN || value > INT64_MAX) fail("is a bigint outside the signed 64-bit range");
      encodedSizeLowerBound += 9;
      return value >= NUMBER_MIN && value <= NUMBER_MAX ? Number(value) : value;
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
    // Bytes arrive from the wire as a Buffer; Buffer.from copies (a Buffer's slice() would share).
    return copy ? Buffer.from(value) : value;
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
  const target: Record<string, unknown> = copy ? spreadCopy(value) : value;
  for (const key in target) {
    if (!Object.hasOwn(target, key)) continue;
    pathKeys.push(key);
    if (key === "__proto__") fail("is a key that cannot round-trip safely");
    if (!isWellFormed(key)) fail("is a key with a lone surrogate, which UTF-8 cannot carry");
    encodedSizeLowerBound += key.length + 1;
    const item = target[key];
    if (typeof item === "object" && item !== null) {
      const inspected = inspectObject(item, depth + 1, copy);
      if (copy) target[key] = inspected;
    } else {
      const inspected = inspect(item, depth + 1, copy);
      // Only -0 and bigints change on the way (see inspect).
      if (copy && (item === 0 || typeof item === "bigint")) target[key] = inspected;
    }
    pathKeys.pop();
  }
  return target;
}

function spreadCopy(value: Record<string, unknown>): Record<string, unknown> {
  try {
    return { ...value };
  } catch {
    // A getter threw: read the keys one by one, so the error names the one that throws.
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      pathKeys.push(key);
      out[key] = value[key];
      pathKeys.pop();
    }
    return out;
  }
}

/**
 * Getters and Proxies run user code that may throw: that is an invalid message too, and the path
 * stack is emptied on every way out so the next error names its own path.
 */
function inspectMessage(message: unknown, copy: boolean): Message {
  pathKeys.length = 0;
  try {
    return inspectTopLevel(message, copy);
  } catch (error) {
    if (error instanceof InvalidMessage) throw error;
    const path = currentPath();
    pathKeys.length = 0;
    throw new InvalidMessage(
      `message${path} could not be read (${(error as Error)?.message ?? String(error)}): a message must be plain data`,
      { cause: error },
    );
  }
}

function inspectTopLevel(message: unknown, copy: boolean): Message {
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
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(cloneValue);
  // Spread first (fast), then replace only the nested objects by their copies.
  const out: Record<string, unknown> = { ...value };
  for (const key in out) {
    const item = out[key];
    if (typeof item === "object" && item !== null && Object.hasOwn(out, key)) out[key] = cloneValue(item);
  }
  return out;
}
