import { randomFillSync } from "node:crypto";
import { InvalidName } from "./errors.js";

/** Names must be shorter than this, as in Channels. */
export const MAX_NAME_LENGTH = 100;

const CHANNEL_NAME = /^[a-zA-Z\d\-_.]+(![\d\w\-_.]*)?$/;
const GROUP_NAME = /^[a-zA-Z\d\-_.]+$/;
const ALLOWED = "ASCII letters, digits, hyphens, underscores or periods";

function describe(name: unknown): string {
  if (typeof name !== "string") return typeof name;
  return JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}...` : name);
}

// Names seen valid lately: a consumer's channel is checked on every send and receive, and a Set
// lookup on a string whose hash V8 has cached is cheaper than the regexp.
const KNOWN_VALID_LIMIT = 10_000;
const knownValidChannels = new Set<string>();

/** Throws InvalidName unless `name` is a valid channel name (a `!` marks a process-local channel). */
export function assertChannelName(name: unknown): asserts name is string {
  if (knownValidChannels.has(name as string)) return;
  if (typeof name === "string" && name.length < MAX_NAME_LENGTH && CHANNEL_NAME.test(name)) {
    if (knownValidChannels.size >= KNOWN_VALID_LIMIT) knownValidChannels.clear();
    knownValidChannels.add(name);
    return;
  }
  throw new InvalidName(
    `Channel name must be a string shorter than ${MAX_NAME_LENGTH} characters of ${ALLOWED}, optionally followed by "!" and a local part; got ${describe(name)}`,
  );
}

/** Throws InvalidName unless `name` is a valid group name. */
export function assertGroupName(name: unknown): asserts name is string {
  if (typeof name === "string" && name.length < MAX_NAME_LENGTH && GROUP_NAME.test(name)) return;
  throw new InvalidName(
    `Group name must be a string shorter than ${MAX_NAME_LENGTH} characters of ${ALLOWED}; got ${describe(name)}`,
  );
}

/** Whether a channel is process-local: made by some layer's newChannel(), received by that layer only. */
export function isProcessLocal(channel: string): boolean {
  return channel.includes("!");
}

/**
 * The part of a channel name shared by all of a process's local channels: up to and including
 * the `!` (Channels' `non_local_name`); the whole name for any other channel.
 */
export function nonLocalName(channel: string): string {
  const bang = channel.indexOf("!");
  return bang === -1 ? channel : channel.slice(0, bang + 1);
}

// Random bytes come from one pool refilled in blocks: newChannel() sits on the connect path.
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** `bytes` cryptographically random bytes as lowercase hex. */
export function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const hex = pool.toString("hex", poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

/** Random bits in the part of a channel name that tells one layer instance from another. */
export const INSTANCE_ID_BYTES = 8;
/** Random bits in the part after the `!`; with the instance id that is 160 random bits a name. */
export const LOCAL_PART_BYTES = 12;

/** A new process-local channel name: `<prefix>.<instanceId>!<random>`, as channels_redis makes them. */
export function makeChannelName(prefix: string, instanceId: string): string {
  return `${prefix}.${instanceId}!${randomHex(LOCAL_PART_BYTES)}`;
}
