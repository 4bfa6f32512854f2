import { InvalidOptions } from "./errors.js";
import type { GroupHistoryPattern, GroupHistoryRule } from "./history.js";
import { resolveGroupHistory } from "./history-rules.js";
import type { Logger } from "./logger.js";

/** One `channelCapacity` rule: a glob (`*`, `?`, `[...]`) or a RegExp, and the capacity of matching channels. */
export type ChannelCapacityRule = readonly [pattern: RegExp | string, capacity: number];

/** Options every channel layer takes: Channels' own, camelCased, with the same meaning and defaults. */
export interface ChannelLayerOptions {
  /** Seconds a message waits to be received before it is dropped. Fractions allowed. Default 60. */
  expiry?: number;
  /** Seconds a group membership lasts after groupAdd. Fractions allowed. Default 86400. */
  groupExpiry?: number;
  /** Messages a channel holds before send rejects with ChannelFull. Default 100. */
  capacity?: number;
  /**
   * Capacity per channel name: `{ glob: n }` or `[[RegExp | glob, n], ...]`. The first match wins;
   * channels matching none get `capacity`. Default none.
   */
  channelCapacity?: Record<string, number> | readonly ChannelCapacityRule[];
  /** Largest message in bytes, MessagePack-encoded; above it send rejects with MESSAGE_TOO_LARGE. Default 16 MiB. */
  maxMessageSize?: number;
  /**
   * Groups that keep a bounded history (layers listing the `history` extension): `{ glob: rule }`
   * or `[[RegExp | glob, rule], ...]`, rule `{ maxLength, maxAgeMs? }`; the first match wins.
   * Default none: no group keeps history.
   */
  groupHistory?: Record<string, GroupHistoryRule> | readonly GroupHistoryPattern[];
  /** Milliseconds between an instance's presence heartbeats (refresh its entries, sweep lapsed ones). Default 5000. */
  presenceHeartbeatMs?: number;
  /**
   * Milliseconds after its last refresh that a presence entry lapses, so a dead process's entries
   * go within presenceTimeoutMs + presenceHeartbeatMs. Must exceed presenceHeartbeatMs. Default 15000.
   */
  presenceTimeoutMs?: number;
  /**
   * Where the layer logs what it cannot report through a rejection (drops, reconnects, background
   * failures). Default: quiet unless NODE_DEBUG names `channel-layers:<backend>` (or `channel-layers:*`).
   */
  logger?: Logger;
}

/** ChannelLayerOptions with every default applied and every value checked. */
export interface ResolvedChannelLayerOptions {
  readonly expiry: number;
  readonly groupExpiry: number;
  readonly capacity: number;
  readonly channelCapacity: readonly ChannelCapacityRule[];
  readonly maxMessageSize: number;
  readonly groupHistory: readonly GroupHistoryPattern[];
  readonly presenceHeartbeatMs: number;
  readonly presenceTimeoutMs: number;
}

export const DEFAULT_EXPIRY = 60;
export const DEFAULT_GROUP_EXPIRY = 86_400;
export const DEFAULT_CAPACITY = 100;
/** The Channels spec asks every layer to carry at least 1 MB; 16 MiB leaves room above that. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
export const DEFAULT_PRESENCE_HEARTBEAT_MS = 5000;
/** The default presenceTimeoutMs is this many heartbeats: two may fail before an entry lapses. */
const PRESENCE_TIMEOUT_HEARTBEATS = 3;

function positiveNumber(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptions(`${name} must be a positive number of seconds; got ${String(value)}`);
  }
  return value;
}

function positiveMs(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > 2 ** 31 - 1) {
    throw new InvalidOptions(`${name} must be a positive number of milliseconds below 2^31; got ${String(value)}`);
  }
  return value;
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptions(`${name} must be a positive integer; got ${String(value)}`);
  }
  return value;
}

function capacityRules(spec: ChannelLayerOptions["channelCapacity"]): ChannelCapacityRule[] {
  if (spec === undefined) return [];
  const entries: (readonly [unknown, unknown])[] = Array.isArray(spec)
    ? spec
    : Object.entries(spec as Record<string, number>);
  return entries.map(([pattern, capacity]) => {
    if (!(pattern instanceof RegExp) && typeof pattern !== "string") {
      throw new InvalidOptions(`channelCapacity patterns must be globs or RegExps; got ${String(pattern)}`);
    }
    return [pattern, positiveInteger(`channelCapacity[${String(pattern)}]`, capacity, 0)] as const;
  });
}

/** Applies the defaults and checks every value; throws InvalidOptions on a bad one. */
export function resolveOptions(options: ChannelLayerOptions = {}): ResolvedChannelLayerOptions {
  const presenceHeartbeatMs = positiveMs(
    "presenceHeartbeatMs",
    options.presenceHeartbeatMs,
    DEFAULT_PRESENCE_HEARTBEAT_MS,
  );
  const presenceTimeoutMs = positiveMs(
    "presenceTimeoutMs",
    options.presenceTimeoutMs,
    presenceHeartbeatMs * PRESENCE_TIMEOUT_HEARTBEATS,
  );
  if (presenceTimeoutMs <= presenceHeartbeatMs) {
    throw new InvalidOptions(
      `presenceTimeoutMs (${presenceTimeoutMs}) must exceed presenceHeartbeatMs (${presenceHeartbeatMs}), or live entries lapse between heartbeats; take 3 times it`,
    );
  }
  return {
    expiry: positiveNumber("expiry", options.expiry, DEFAULT_EXPIRY),
    groupExpiry: positiveNumber("groupExpiry", options.groupExpiry, DEFAULT_GROUP_EXPIRY),
    capacity: positiveInteger("capacity", options.capacity, DEFAULT_CAPACITY),
    channelCapacity: capacityRules(options.channelCapacity),
    maxMessageSize: positiveInteger("maxMessageSize", options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE),
    groupHistory: resolveGroupHistory(options.groupHistory),
    presenceHeartbeatMs,
    presenceTimeoutMs,
  };
}
