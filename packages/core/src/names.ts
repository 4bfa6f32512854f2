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

/** Where the `!` of a process-local channel is, or -1 for a named one: the one place the format is split. */
function localSeparator(channel: string): number {
  return channel.indexOf("!");
}

/** Whether a channel is process-local: made by some layer's newChannel(), received by that layer only. */
export function isProcessLocal(channel: string): boolean {
  return localSeparator(channel) !== -1;
}

/**
 * The part of a channel name shared by all of a process's local channels: up to and including
 * the `!` (Channels' `non_local_name`); the whole name for any other channel.
 */
export function nonLocalName(channel: string): string {
  const bang = localSeparator(channel);
  return bang === -1 ? channel : channel.slice(0, bang + 1);
}

/** What a channel name says about where it is received; see parseChannelName. */
export interface ChannelNameParts {
  /** Whether the name has a `!`: received only by the layer instance that made it. */
  readonly processLocal: boolean;
  /** The whole name of a named channel; up to and including the `!` of a process-local one. */
  readonly nonLocalPart: string;
  /** newChannel()'s prefix (`specific` by default), when the name has newChannel's shape. */
  readonly prefix: string | undefined;
  /** The id of the layer instance whose newChannel() made the name, when it has newChannel's shape. */
  readonly instanceId: string | undefined;
  /** What follows the `!` ("" for a named channel). */
  readonly localPart: string;
}

/**
 * Splits a valid channel name. A process-local name no newChannel() made (one with a `!` but
 * without `.<instance id>` before it) has `processLocal` true and no `instanceId`: nobody can
 * ever receive on it.
 */
export function parseChannelName(channel: string): ChannelNameParts {
  const bang = localSeparator(channel);
  if (bang === -1) {
    return { processLocal: false, nonLocalPart: channel, prefix: undefined, instanceId: undefined, localPart: "" };
  }
  const instanceId = instanceIdAt(channel, bang);
  return {
    processLocal: true,
    nonLocalPart: channel.slice(0, bang + 1),
    prefix: instanceId === undefined ? undefined : channel.slice(0, bang - INSTANCE_ID_LENGTH - 1),
    instanceId,
    localPart: channel.slice(bang + 1),
  };
}

/** The id of the layer instance whose newChannel() made `channel`; undefined for any other name. */
export function instanceIdOf(channel: string): string | undefined {
  const bang = localSeparator(channel);
  return bang === -1 ? undefined : instanceIdAt(channel, bang);
}

function instanceIdAt(channel: string, bang: number): string | undefined {
  const start = bang - INSTANCE_ID_LENGTH;
  if (start < 2 || channel.charCodeAt(start - 1) !== 46 /* . */) return undefined;
  for (let i = start; i < bang; i++) {
    const code = channel.charCodeAt(i);
    if (!((code >= 48 && code <= 57) || (code >= 97 && code <= 102))) return undefined;
  }
  return channel.slice(start, bang);
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

/** Random bytes in the part of a channel name that tells one layer instance from another. */
export const INSTANCE_ID_BYTES = 8;
/** Characters of an instance id in a channel name: lowercase hex, right before the `!`. */
export const INSTANCE_ID_LENGTH = INSTANCE_ID_BYTES * 2;
/** Random bits in the part after the `!`; with the instance id that is 160 random bits a name. */
export const LOCAL_PART_BYTES = 12;

/** A new process-local channel name: `<prefix>.<instanceId>!<random>`, as channels_redis makes them. */
export function makeChannelName(prefix: string, instanceId: string): string {
  return `${prefix}.${instanceId}!${randomHex(LOCAL_PART_BYTES)}`;
}
