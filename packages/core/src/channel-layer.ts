import type { Message } from "./message.js";

/** Options of ChannelLayer.receive. */
export interface ReceiveOptions {
  /** Aborting rejects the receive with an AbortError; no message is lost by it. */
  signal?: AbortSignal;
}

/**
 * Names a layer lists in `extensions`. Channels defines "groups" and "flush"; the rest say which
 * parts of the contract a layer keeps, so the conformance suite knows what applies.
 */
export const Extension = {
  /** groupAdd, groupDiscard and groupSend. */
  groups: "groups",
  /** flush(). */
  flush: "flush",
  /** send rejects with ChannelFull when a channel holds `capacity` messages. */
  capacity: "capacity",
  /** Messages not received within `expiry` are dropped. */
  expiry: "expiry",
  /** Group memberships lapse after `groupExpiry`. */
  groupExpiry: "group-expiry",
  /** Messages sent to a channel before anyone receives on it wait for a receiver. */
  buffered: "buffered",
  /** presenceTrack, presenceUntrack and presenceList, with join and leave diffs (see PresenceChannelLayer). */
  presence: "presence",
  /** Groups matching a `groupHistory` rule keep a bounded history: offsets and groupHistory() (see HistoryChannelLayer). */
  history: "history",
} as const;

/**
 * Every extension of Channels' own contract: what a layer that keeps all of it lists. Presence and
 * history are listed one by one by the layers that keep them.
 */
export const ALL_EXTENSIONS: readonly string[] = Object.freeze([
  Extension.groups,
  Extension.flush,
  Extension.capacity,
  Extension.expiry,
  Extension.groupExpiry,
  Extension.buffered,
]);

/** The channel layer contract every backend meets (see docs/contract.md and the conformance suite). */
export interface ChannelLayer {
  /** Which optional parts of the contract this layer keeps; see `Extension`. */
  readonly extensions: readonly string[];
  /** A new process-local channel name, unique across processes; received only by this layer. */
  newChannel(prefix?: string): Promise<string>;
  /** Queues `message` on `channel`; rejects with ChannelFull when it holds `capacity` messages. */
  send(channel: string, message: Message): Promise<void>;
  /** The next message on `channel`, waiting for one if needed. */
  receive(channel: string, options?: ReceiveOptions): Promise<Message>;
  /** Adds `channel` to `group` (refreshing its membership expiry). */
  groupAdd(group: string, channel: string): Promise<void>;
  /** Removes `channel` from `group`; a no-op for a non-member. */
  groupDiscard(group: string, channel: string): Promise<void>;
  /** Sends `message` to every member of `group`, skipping full members. */
  groupSend(group: string, message: Message): Promise<void>;
  /** Frees a channel whose consumer is gone: drops its buffer, rejects its receives, leaves its groups. */
  discardChannel(channel: string): Promise<void>;
  /** Removes every message and group under this layer's prefix. */
  flush(): Promise<void>;
  /** Releases the layer; every later call and every pending receive rejects with LayerClosed. */
  close(): Promise<void>;
}
