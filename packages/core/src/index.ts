export { type ChannelLayer, Extension, type ReceiveOptions } from "./channel-layer.js";
export {
  AbortError,
  BackendUnavailable,
  ChannelDiscarded,
  ChannelFull,
  ChannelLayerError,
  type ChannelLayerErrorCode,
  InvalidArgument,
  InvalidMessage,
  InvalidName,
  InvalidOptions,
  LayerClosed,
  MessageTooLarge,
  Unsupported,
} from "./errors.js";
export {
  type GroupHistory,
  type GroupHistoryOptions,
  type GroupHistoryPattern,
  type GroupHistoryRule,
  HISTORY_GROUP_KEY,
  HISTORY_OFFSET_KEY,
  type HistoryChannelLayer,
  type HistoryEntry,
  type HistoryOffset,
  hasHistory,
  positionOf,
} from "./history.js";
export { consoleLogger, type LogDetails, type Logger } from "./logger.js";
export type { Message } from "./message.js";
export type { ChannelCapacityRule, ChannelLayerOptions } from "./options.js";
export {
  hasPresence,
  PRESENCE_DIFF_TYPE,
  type Presence,
  type PresenceChannelLayer,
  type PresenceDiffMessage,
  type PresenceList,
  type PresenceMeta,
  type PresenceMetaWithRef,
} from "./presence.js";
export {
  type ChannelLayerStats,
  type DiagnosticsEvent,
  type DiagnosticsEventName,
  diagnosticsChannelName,
} from "./stats.js";
