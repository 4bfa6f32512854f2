import { type ChannelLayer, Extension } from "./channel-layer.js";
import type { Message } from "./message.js";

/**
 * A message's position in its group's history, as the backend numbers it (a counter, a stream id,
 * a JetStream sequence). Offsets of one group strictly increase in history order and are never
 * reissued; they need not be contiguous. Compare them only for equality: their order is the backend's.
 */
export type HistoryOffset = string | number;

/** How much history a group keeps: the last `maxLength` messages, none older than `maxAgeMs`. */
export interface GroupHistoryRule {
  /** Messages kept; older ones are trimmed. A positive integer. */
  maxLength: number;
  /** Milliseconds a message is kept; older ones are trimmed. Default: no age limit. */
  maxAgeMs?: number;
}

/** One `groupHistory` rule: a glob (`*`, `?`, `[...]`) or a RegExp over group names, and what matching groups keep. */
export type GroupHistoryPattern = readonly [pattern: RegExp | string, rule: GroupHistoryRule];

/** Key the layer sets on each message of a history group: the group it was sent to. */
export const HISTORY_GROUP_KEY = "__group__";
/** Key the layer sets on each message of a history group: its offset there. */
export const HISTORY_OFFSET_KEY = "__offset__";

/** One message of a group's history, as members received it (with `__group__` and `__offset__`). */
export interface HistoryEntry {
  offset: HistoryOffset;
  message: Message;
}

/** What groupHistory() returns. */
export interface GroupHistory {
  /** The kept messages after `after`, oldest first. */
  messages: HistoryEntry[];
  /**
   * True when `messages` holds every message sent to the group after `after`. False when some are
   * gone: trimmed by maxLength or maxAgeMs, or `after` is not an offset this history can place
   * (then `messages` is every kept message).
   */
  complete: boolean;
}

/** Options of groupHistory(). */
export interface GroupHistoryOptions {
  /** The last offset the caller has; the result starts after it. */
  after: HistoryOffset;
}

/**
 * The history extension (`Extension.history`): each groupSend to a group that matches a
 * `groupHistory` rule is numbered and kept, and members receive it with `__group__` and
 * `__offset__`, so a client that reconnects can ask for what it missed.
 */
export interface HistoryChannelLayer extends ChannelLayer {
  /** The rule `group` keeps history by (the first matching `groupHistory` pattern), or undefined. */
  groupHistoryRule(group: string): GroupHistoryRule | undefined;
  /** The group's kept messages after `options.after`; rejects with UNSUPPORTED for a group that keeps none. */
  groupHistory(group: string, options: GroupHistoryOptions): Promise<GroupHistory>;
}

/** Whether `layer` lists the history extension (and so has its methods). */
export function hasHistory(layer: ChannelLayer): layer is HistoryChannelLayer {
  return (
    layer.extensions.includes(Extension.history) &&
    typeof (layer as { groupHistory?: unknown }).groupHistory === "function"
  );
}

/** A message's group and offset when it came through a history group, else undefined. */
export function positionOf(message: Message): { group: string; offset: HistoryOffset } | undefined {
  const group = message[HISTORY_GROUP_KEY];
  const offset = message[HISTORY_OFFSET_KEY];
  if (typeof group !== "string") return undefined;
  if (typeof offset === "string" || (typeof offset === "number" && Number.isFinite(offset))) return { group, offset };
  return undefined;
}
