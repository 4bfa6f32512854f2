import { type ChannelLayer, Extension } from "./channel-layer.js";

/** What a consumer says about one presence: small JSON-like data ("online_at", "device"...). */
export type PresenceMeta = Record<string, unknown>;

/** One meta of a key as listed and diffed: the tracked meta plus the `ref` of that track. */
export type PresenceMetaWithRef = PresenceMeta & { ref: string };

/** Everything known about one key (a user): one meta per track (a tab, a device). */
export interface Presence {
  metas: PresenceMetaWithRef[];
}

/** key -> presence, as presenceList() returns it and a diff carries its joins and leaves (Phoenix's shape). */
export type PresenceList = Record<string, Presence>;

/** The `type` of the message a group's members get when presences join or leave it. */
export const PRESENCE_DIFF_TYPE = "presence.diff";

/**
 * What each member of `group` receives when presences join or leave it: a group message, so a
 * consumer's `presence_diff` handler runs. A re-track (new meta) is a leave of the old meta and a
 * join of the new one in one diff. Diffs never enter a group's history and carry no offset.
 */
export interface PresenceDiffMessage {
  type: typeof PRESENCE_DIFF_TYPE;
  group: string;
  joins: PresenceList;
  leaves: PresenceList;
  [key: string]: unknown;
}

/**
 * The presence extension (`Extension.presence`): who is in a group, across every process of the
 * layer. Each track is tied to a channel, so `discardChannel` untracks it; the entries of a process
 * that dies disappear within `presenceTimeoutMs + presenceHeartbeatMs` (see docs/presence.md).
 */
export interface PresenceChannelLayer extends ChannelLayer {
  /**
   * Tracks `key` as present in `group` through `channel`, with `meta`; resolves with the track's
   * `ref`. Tracking the same group, channel and key again replaces its meta (a new ref). The
   * group's members get a presence.diff.
   */
  presenceTrack(group: string, channel: string, key: string, meta?: PresenceMeta): Promise<string>;
  /** Ends the track of `key` in `group` through `channel` made by this instance; a no-op when there is none. */
  presenceUntrack(group: string, channel: string, key: string): Promise<void>;
  /** Who is in `group`, across every instance: `{ [key]: { metas: [{ ...meta, ref }] } }`. */
  presenceList(group: string): Promise<PresenceList>;
}

/** Whether `layer` lists the presence extension (and so has its methods). */
export function hasPresence(layer: ChannelLayer): layer is PresenceChannelLayer {
  return (
    layer.extensions.includes(Extension.presence) &&
    typeof (layer as { presenceTrack?: unknown }).presenceTrack === "function"
  );
}
