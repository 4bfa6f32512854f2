export { type ChannelLayer, Extension, type ReceiveOptions } from "./channel-layer.js";
export {
  AbortError,
  BackendUnavailable,
  ChannelDiscarded,
  ChannelFull,
  ChannelLayerError,
  type ChannelLayerErrorCode,
  InvalidMessage,
  InvalidName,
  InvalidOptions,
  LayerClosed,
  MessageTooLarge,
} from "./errors.js";
export { consoleLogger, type LogDetails, type Logger } from "./logger.js";
export type { Message } from "./message.js";
export type { ChannelCapacityRule, ChannelLayerOptions } from "./options.js";
export {
  type ChannelLayerStats,
  type DiagnosticsEvent,
  type DiagnosticsEventName,
  diagnosticsChannelName,
} from "./stats.js";
